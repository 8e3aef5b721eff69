using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>
/// <see cref="OpenMpiAllgather"/> against Open MPI 4.1's coll/tuned fixed rules (<c>ompi_coll_tuned_allgather_intra_dec_fixed</c>,
/// read at v4.1.4) and the step structure of coll_base_allgather.c.
/// </summary>
public class OpenMpiAllgatherTests
{
    [Theory]
    [InlineData(2, 40, "TwoProcesses")]
    [InlineData(2, 1 << 20, "TwoProcesses")]
    [InlineData(8, 504, "RecursiveDoubling")]           // below 32 ranks: always 3
    [InlineData(31, 1 << 20, "RecursiveDoubling")]
    [InlineData(32, 1023, "RecursiveDoubling")]         // [32, 64): < 1024 → 3, < 65536 → 5, else 4
    [InlineData(32, 1024, "NeighborExchange")]
    [InlineData(63, 65536, "Ring")]
    [InlineData(64, 504, "RecursiveDoubling")]          // [64, 128): < 512 → 3
    [InlineData(64, 512, "NeighborExchange")]
    [InlineData(128, 252, "RecursiveDoubling")]         // [128, 256): < 512 → 3, …, < 524288 → 4, < 1 MiB → 5, else 4
    [InlineData(128, 131072, "Ring")]
    [InlineData(128, 524288, "NeighborExchange")]
    [InlineData(128, 1048576, "Ring")]
    [InlineData(256, 40, "Bruck")]                      // [256, 512): < 32 → 3, < 128 → 2, < 1024 → 3
    [InlineData(256, 504, "RecursiveDoubling")]
    [InlineData(512, 40, "RecursiveDoubling")]          // [512, 1024): < 64 → 3, < 256 → 2, < 2048 → 3, else 5
    [InlineData(512, 128, "Bruck")]
    [InlineData(512, 504, "RecursiveDoubling")]
    [InlineData(512, 2048, "NeighborExchange")]
    [InlineData(1024, 40, "RecursiveDoubling")]         // [1024, 2048): … < 256 → 3, < 512 → 2, < 4096 → 3, else 5
    [InlineData(1024, 504, "Bruck")]
    [InlineData(1024, 512, "RecursiveDoubling")]
    [InlineData(1024, 4096, "NeighborExchange")]
    [InlineData(2048, 16, "Bruck")]                     // [2048, 4096): < 32 → 2, < 128 → 3, < 512 → 2
    [InlineData(2048, 40, "RecursiveDoubling")]
    [InlineData(2048, 200, "Bruck")]
    [InlineData(8192, 504, "Bruck")]                    // from 4096: … < 512 → 2, < 4096 → 3, else 5
    [InlineData(8192, 1000, "RecursiveDoubling")]
    [InlineData(8192, 4096, "NeighborExchange")]
    public void ChoosesAsOpenMpisFixedRules(int ranks, long bytesPerRank, string expected) =>
        Assert.Equal(Enum.Parse<AllgatherAlgorithm>(expected), OpenMpiAllgather.Choose(ranks, bytesPerRank));

    // Recursive doubling: XOR partners, 2^i blocks. On 6 ranks it runs Bruck: to r − 2^i, the last step 6 − 4 = 2 blocks.
    // Neighbor exchange: even ranks start with r + 1, odd with r − 1, then they swap sides, 1 block and then 2.
    [Theory]
    [InlineData("RecursiveDoubling", 8, new[] { 1, 2, 4 }, 0, new[] { 1, 0, 3, 2, 5, 4, 7, 6 })]
    [InlineData("RecursiveDoubling", 8, new[] { 1, 2, 4 }, 2, new[] { 4, 5, 6, 7, 0, 1, 2, 3 })]
    [InlineData("RecursiveDoubling", 6, new[] { 1, 2, 2 }, 0, new[] { 5, 0, 1, 2, 3, 4 })]
    [InlineData("Bruck", 6, new[] { 1, 2, 2 }, 2, new[] { 2, 3, 4, 5, 0, 1 })]
    [InlineData("NeighborExchange", 6, new[] { 1, 2, 2 }, 0, new[] { 1, 0, 3, 2, 5, 4 })]
    [InlineData("NeighborExchange", 6, new[] { 1, 2, 2 }, 1, new[] { 5, 2, 1, 4, 3, 0 })]
    public void StepsSendTheirBlocksAsOpenMpiDoes(string algorithmName, int ranks, int[] blocks, int step, int[] sendTo)
    {
        IReadOnlyList<AllgatherStep> steps = OpenMpiAllgather.Steps(Enum.Parse<AllgatherAlgorithm>(algorithmName), ranks);
        Assert.Equal(blocks, steps.Select(s => s.Blocks));
        Assert.Equal(sendTo, Enumerable.Range(0, ranks).Select(steps[step].SendTo));
    }

    [Fact]
    public void NeighborExchangeOnAnOddSizeIsTheRing()
    {
        IReadOnlyList<AllgatherStep> steps = OpenMpiAllgather.Steps(AllgatherAlgorithm.NeighborExchange, 5);
        Assert.Equal([1, 1, 1, 1], steps.Select(s => s.Blocks));
        Assert.All(steps, s => Assert.Equal([1, 2, 3, 4, 0], Enumerable.Range(0, 5).Select(s.SendTo)));
    }

    [Theory]
    [InlineData("Bruck")]
    [InlineData("RecursiveDoubling")]
    [InlineData("Ring")]
    [InlineData("NeighborExchange")]
    public void EveryRankReceivesEveryOtherRanksBlockOnce(string algorithmName)
    {
        AllgatherAlgorithm algorithm = Enum.Parse<AllgatherAlgorithm>(algorithmName);
        foreach (int ranks in Enumerable.Range(2, 40))
        {
            IReadOnlyList<AllgatherStep> steps = OpenMpiAllgather.Steps(algorithm, ranks);
            Assert.Equal(ranks - 1, steps.Sum(s => s.Blocks));
            Assert.All(steps, s => Assert.All(Enumerable.Range(0, ranks), r => Assert.InRange(s.SendTo(r), 0, ranks - 1)));
        }
    }

    [Fact]
    public void StepsAreLogarithmicWhereOpenMpiPicksRecursiveDoublingOrBruck()
    {
        Assert.Equal(10, OpenMpiAllgather.Steps(OpenMpiAllgather.Choose(1024, 504), 1024).Count);
        Assert.Equal(10, OpenMpiAllgather.Steps(OpenMpiAllgather.Choose(1024, 40), 1024).Count);
        Assert.Equal(7, OpenMpiAllgather.Steps(OpenMpiAllgather.Choose(100, 40), 100).Count);   // ⌈log₂ 100⌉, Bruck
        Assert.Equal(1023, OpenMpiAllgather.Steps(AllgatherAlgorithm.Ring, 1024).Count);
        Assert.Single(OpenMpiAllgather.Steps(AllgatherAlgorithm.TwoProcesses, 2));
    }
}
