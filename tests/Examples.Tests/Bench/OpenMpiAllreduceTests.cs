using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>
/// <see cref="OpenMpiAllreduce"/> and <see cref="OpenMpiAllgatherv"/> against Open MPI 4.1's coll/tuned fixed rules
/// (<c>ompi_coll_tuned_allreduce_intra_dec_fixed</c> and <c>ompi_coll_tuned_allgatherv_intra_dec_fixed</c>, read at
/// v4.1.4, commutative operations) and the step structure of coll_base_allreduce.c and coll_base_allgatherv.c.
/// </summary>
public class OpenMpiAllreduceTests
{
    [Theory]
    [InlineData(2, 7, "Ring")]                      // below 4 ranks: < 8 → 4, < 4096 → 3, < 8192 → 4, < 16384 → 3, < 65536 → 4, < 262144 → 5, else 6
    [InlineData(2, 1024, "RecursiveDoubling")]
    [InlineData(2, 4096, "Ring")]
    [InlineData(3, 8192, "RecursiveDoubling")]
    [InlineData(2, 16384, "Ring")]
    [InlineData(2, 65536, "SegmentedRing")]
    [InlineData(2, 262144, "Rabenseifner")]
    [InlineData(4, 15, "Ring")]                     // [4, 8): < 16 → 4, < 8192 → 3, else 6
    [InlineData(4, 8191, "RecursiveDoubling")]
    [InlineData(7, 8192, "Rabenseifner")]
    [InlineData(8, 8191, "RecursiveDoubling")]      // [8, 16): < 8192 → 3, else 6
    [InlineData(15, 8192, "Rabenseifner")]
    [InlineData(16, 63, "SegmentedRing")]           // [16, 32): < 64 → 5, < 4096 → 3, else 6
    [InlineData(16, 64, "RecursiveDoubling")]
    [InlineData(31, 4096, "Rabenseifner")]
    [InlineData(32, 127, "SegmentedRing")]          // [32, 64): < 128 → 5, else 6
    [InlineData(63, 128, "Rabenseifner")]
    [InlineData(64, 262143, "RecursiveDoubling")]   // [64, 128): < 262144 → 3, else 6
    [InlineData(127, 262144, "Rabenseifner")]
    [InlineData(128, 5000, "Nonoverlapping")]       // [128, 256): < 131072 → 2, < 262144 → 3, else 6
    [InlineData(128, 131072, "RecursiveDoubling")]
    [InlineData(128, 5_850_000, "Rabenseifner")]
    [InlineData(256, 4095, "Nonoverlapping")]       // [256, 512): < 4096 → 2, else 6
    [InlineData(511, 4096, "Rabenseifner")]
    [InlineData(1024, 2047, "Nonoverlapping")]      // [512, 2048): < 2048 → 2, < 16384 → 3, else 6
    [InlineData(1024, 2048, "RecursiveDoubling")]
    [InlineData(2047, 16384, "Rabenseifner")]
    [InlineData(2048, 2048, "SegmentedRing")]       // [2048, 4096): < 2048 → 2, < 4096 → 5, < 16384 → 3, else 6
    [InlineData(4095, 4096, "RecursiveDoubling")]
    [InlineData(4096, 2047, "Nonoverlapping")]      // from 4096: < 2048 → 2, < 16384 → 5, < 32768 → 3, else 6
    [InlineData(8192, 16384, "RecursiveDoubling")]
    [InlineData(8192, 32768, "Rabenseifner")]
    public void ChoosesAsOpenMpisFixedRules(int ranks, long bytes, string expected) =>
        Assert.Equal(Enum.Parse<AllreduceAlgorithm>(expected), OpenMpiAllreduce.Choose(ranks, bytes));

    [Theory]
    [InlineData("Ring", 8, 1000, 14, 1.75)]                 // 2(p − 1) steps of a p-th: 2(p − 1)/p vectors
    [InlineData("SegmentedRing", 8, 1000, 14, 1.75)]        // one segment under the fixed rules: the ring
    [InlineData("Ring", 8, 7, 3, 3)]                        // fewer elements than ranks: recursive doubling
    [InlineData("Rabenseifner", 128, 1_000_000, 14, 2 * 127 / 128.0)]
    [InlineData("Rabenseifner", 6, 1000, 7, 3.5)]           // p' = 4: 2·2 steps, 1.5 vectors; 3 more steps and 2 vectors for the 2 extra ranks
    [InlineData("Rabenseifner", 128, 100, 7, 7)]            // fewer elements than p': recursive doubling
    [InlineData("RecursiveDoubling", 128, 10, 7, 7)]        // log₂ p steps of the whole vector
    [InlineData("RecursiveDoubling", 6, 10, 4, 4)]          // p' = 4, plus a step before and after
    [InlineData("Nonoverlapping", 128, 1250, 14, 14)]       // a reduce and a broadcast, 7 levels each
    [InlineData("Nonoverlapping", 100, 1250, 14, 14)]       // ⌈log₂ 100⌉ = 7
    public void CostsAsOpenMpiRunsIt(string algorithmName, int ranks, long count, int steps, double vectors)
    {
        AllreduceCost cost = OpenMpiAllreduce.Cost(Enum.Parse<AllreduceAlgorithm>(algorithmName), ranks, count);
        Assert.Equal(steps, cost.Steps);
        Assert.Equal(vectors, cost.Vectors, 12);
    }

    [Fact]
    public void ARingOrRabenseifnerOverAPowerOfTwoMovesWhatARingDoes()
    {
        foreach (int ranks in new[] { 2, 4, 16, 128, 1024 })
        {
            double ring = AllreduceStatistics.RingAllreduceBytes(1_000_000, ranks) / 4e6;
            Assert.Equal(ring, OpenMpiAllreduce.Cost(AllreduceAlgorithm.Ring, ranks, 1_000_000).Vectors, 12);
            Assert.Equal(ring, OpenMpiAllreduce.Cost(AllreduceAlgorithm.Rabenseifner, ranks, 1_000_000).Vectors, 12);
        }
    }

    [Theory]
    [InlineData(2, 2047, "Ring")]                   // 2 ranks: < 2048 → 3, < 4096 → 5, < 8192 → 3, else 5
    [InlineData(2, 2048, "TwoProcesses")]
    [InlineData(2, 4096, "Ring")]
    [InlineData(2, 8192, "TwoProcesses")]
    [InlineData(4, 255, null)]                      // [3, 8): < 256 → 1, < 4096 → 4, < 8192 → 3, < 16384 → 4, < 262144 → 2, else 4
    [InlineData(6, 4096, "Ring")]
    [InlineData(6, 10_000, "NeighborExchange")]
    [InlineData(6, 16384, "Bruck")]
    [InlineData(7, 262144, "NeighborExchange")]
    [InlineData(11, 1023, null)]                    // [8, 16): < 1024 → 1, else 2
    [InlineData(11, 37_000, "Bruck")]
    [InlineData(16, 262144, "Ring")]                // [16, 32): < 128 → 1, < 262144 → 2, else 3
    [InlineData(36, 1667, "Bruck")]                 // [32, 64): < 256 → 1, < 8192 → 2, else 3
    [InlineData(64, 4096, "Ring")]                  // [64, 128): < 256 → 1, < 4096 → 2, else 3
    [InlineData(128, 1023, "Bruck")]                // [128, 256): < 1024 → 2, < 65536 → 4, else 3
    [InlineData(128, 5_600, "NeighborExchange")]
    [InlineData(128, 65536, "Ring")]
    [InlineData(256, 1024, "Ring")]                 // [256, 512): < 1024 → 2, else 3
    [InlineData(512, 600, null)]                    // [512, 1024): < 512 → 2, < 1024 → 1, < 4096 → 2, < 1 MiB → 4, else 3
    [InlineData(512, 2000, "Bruck")]
    [InlineData(512, 5000, "NeighborExchange")]
    [InlineData(1024, 4095, "Bruck")]               // from 1024: < 4096 → 2, else 4
    [InlineData(1024, 4096, "NeighborExchange")]
    public void AllgathervChoosesAsOpenMpisFixedRules(int ranks, double bytesPerRank, string? expected) =>
        Assert.Equal(expected is null ? null : Enum.Parse<AllgatherAlgorithm>(expected), OpenMpiAllgatherv.Choose(ranks, bytesPerRank));

    [Theory]
    [InlineData("Bruck", 128, 7)]
    [InlineData("Bruck", 36, 6)]
    [InlineData("NeighborExchange", 128, 64)]
    [InlineData("NeighborExchange", 11, 10)]        // odd: the ring
    [InlineData("Ring", 128, 127)]
    [InlineData("TwoProcesses", 2, 1)]
    [InlineData(null, 8, 10)]                       // gatherv to rank 0 (7 arrivals), then a binomial broadcast (3 levels)
    public void AllgathervStepsAsOpenMpiRunsThem(string? algorithmName, int ranks, int steps) =>
        Assert.Equal(steps, OpenMpiAllgatherv.Steps(algorithmName is null ? null : Enum.Parse<AllgatherAlgorithm>(algorithmName), ranks));
}
