namespace AtomoCollectives.Examples.Bench;

/// <summary>The algorithms Open MPI's coll/tuned runs <c>MPI_Allgather</c> with (its numbering in the comments).</summary>
internal enum AllgatherAlgorithm
{
    /// <summary>2: Bruck, ⌈log₂ N⌉ steps, step i sends 2^i blocks (the last, what is left) to rank r − 2^i.</summary>
    Bruck,

    /// <summary>3: recursive doubling, log₂ N steps, step i exchanges 2^i blocks with rank r XOR 2^i (Bruck unless N is a power of two).</summary>
    RecursiveDoubling,

    /// <summary>4: ring, N − 1 steps of one block to rank r + 1.</summary>
    Ring,

    /// <summary>5: neighbor exchange, N/2 steps with the neighbours r ± 1, two blocks each but the first (ring when N is odd).</summary>
    NeighborExchange,

    /// <summary>6: two processes, one exchange.</summary>
    TwoProcesses,
}

/// <summary>One step of an allgather: each rank sends <paramref name="Blocks"/> blocks to <paramref name="SendTo"/>(its rank).</summary>
internal sealed record AllgatherStep(int Blocks, Func<int, int> SendTo);

/// <summary>
/// What Open MPI 4.1 does with an <c>MPI_Allgather</c> of a few bytes per rank (the library's small allgathers: a call's
/// header, the payload lengths), so the cost model charges the steps it takes rather than a ring's N − 1.
/// </summary>
internal static class OpenMpiAllgather
{
    /// <summary>
    /// The algorithm coll/tuned's fixed rules pick for <paramref name="ranks"/> ranks of <paramref name="bytesPerRank"/>
    /// bytes each (the library sends <c>MPI_BYTE</c>s, so Open MPI's <c>total_dsize</c> is the bytes per rank):
    /// <c>ompi_coll_tuned_allgather_intra_dec_fixed</c> in ompi/mca/coll/tuned/coll_tuned_decision_fixed.c, the same from
    /// v4.1.0 to v4.1.8, this machine's v4.1.4 included (the default unless <c>coll_tuned_use_dynamic_rules</c>).
    /// </summary>
    public static AllgatherAlgorithm Choose(int ranks, long bytesPerRank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 2);
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerRank);
        const AllgatherAlgorithm B = AllgatherAlgorithm.Bruck, D = AllgatherAlgorithm.RecursiveDoubling, R = AllgatherAlgorithm.Ring, X = AllgatherAlgorithm.NeighborExchange;
        const long Rest = long.MaxValue;

        // Per band of communicator sizes, as the C code's if-chains: below so many bytes per rank, this algorithm.
        (long Below, AllgatherAlgorithm Algorithm)[] rules = ranks switch
        {
            2 => [(Rest, AllgatherAlgorithm.TwoProcesses)],
            < 32 => [(Rest, D)],
            < 64 => [(1024, D), (65536, X), (Rest, R)],
            < 128 => [(512, D), (65536, X), (Rest, R)],
            < 256 => [(512, D), (131072, X), (524288, R), (1048576, X), (Rest, R)],
            < 512 => [(32, D), (128, B), (1024, D), (131072, X), (524288, R), (1048576, X), (Rest, R)],
            < 1024 => [(64, D), (256, B), (2048, D), (Rest, X)],
            < 2048 => [(4, D), (8, B), (16, D), (32, B), (256, D), (512, B), (4096, D), (Rest, X)],
            < 4096 => [(32, B), (128, D), (512, B), (4096, D), (Rest, X)],
            _ => [(2, D), (8, B), (16, D), (512, B), (4096, D), (Rest, X)],
        };
        return rules.First(r => bytesPerRank < r.Below || r.Below == Rest).Algorithm;
    }

    /// <summary>
    /// The steps <paramref name="algorithm"/> takes over <paramref name="ranks"/> ranks, as ompi/mca/coll/base/coll_base_allgather.c
    /// runs them: recursive doubling on a size that is not a power of two runs Bruck; neighbor exchange on an odd size, the ring.
    /// </summary>
    public static IReadOnlyList<AllgatherStep> Steps(AllgatherAlgorithm algorithm, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 2);
        int n = ranks;
        return algorithm switch
        {
            AllgatherAlgorithm.TwoProcesses => [new AllgatherStep(1, r => 1 - r)],
            AllgatherAlgorithm.RecursiveDoubling when int.IsPow2(n) => [.. Distances(n).Select(d => new AllgatherStep(d, r => r ^ d))],
            AllgatherAlgorithm.RecursiveDoubling or AllgatherAlgorithm.Bruck => [.. Distances(n).Select(d => new AllgatherStep(Math.Min(d, n - d), r => (r - d + n) % n))],
            AllgatherAlgorithm.NeighborExchange when n % 2 == 0 =>
                [.. Enumerable.Range(0, n / 2).Select(i => new AllgatherStep(i == 0 ? 1 : 2, r => (r % 2 == 0) == (i % 2 == 0) ? (r + 1) % n : (r - 1 + n) % n))],
            AllgatherAlgorithm.NeighborExchange or AllgatherAlgorithm.Ring => [.. Enumerable.Range(0, n - 1).Select(_ => new AllgatherStep(1, r => (r + 1) % n))],
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an allgather algorithm."),
        };
    }

    /// <summary>1, 2, 4, … below <paramref name="ranks"/>: the distances of Bruck's and recursive doubling's steps.</summary>
    private static IEnumerable<int> Distances(int ranks)
    {
        for (int d = 1; d < ranks; d <<= 1)
        {
            yield return d;
        }
    }
}
