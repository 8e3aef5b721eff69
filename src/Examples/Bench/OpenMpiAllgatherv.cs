namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// What Open MPI 4.1 does with an <c>MPI_Allgatherv</c> (the library's payload exchanges over the rails), so the cost
/// model charges the steps it takes rather than a ring's p − 1: over 128 nodes a ring's latency is 127 α (3.2 ms at
/// 25 µs), where Open MPI runs the leaders' payloads by neighbor exchange in 64 steps.
/// </summary>
internal static class OpenMpiAllgatherv
{
    /// <summary>
    /// The algorithm coll/tuned's fixed rules pick over <paramref name="ranks"/> ranks, by the bytes per rank (the
    /// received total over the ranks, Open MPI's <c>per_rank_dsize</c>): <c>ompi_coll_tuned_allgatherv_intra_dec_fixed</c>
    /// in ompi/mca/coll/tuned/coll_tuned_decision_fixed.c as at v4.1.4. Its algorithm 1 (a gatherv to rank 0, then a
    /// broadcast) is <see langword="null"/>.
    /// </summary>
    public static AllgatherAlgorithm? Choose(int ranks, double bytesPerRank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 2);
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerRank);
        AllgatherAlgorithm? G = null;
        const AllgatherAlgorithm B = AllgatherAlgorithm.Bruck, R = AllgatherAlgorithm.Ring, X = AllgatherAlgorithm.NeighborExchange, T = AllgatherAlgorithm.TwoProcesses;
        const double Rest = double.MaxValue;

        // Per band of communicator sizes, as the C code's if-chains: below so many bytes per rank, this algorithm.
        (double Below, AllgatherAlgorithm? Algorithm)[] rules = ranks switch
        {
            2 => [(2048, R), (4096, T), (8192, R), (Rest, T)],
            < 8 => [(256, G), (4096, X), (8192, R), (16384, X), (262144, B), (Rest, X)],
            < 16 => [(1024, G), (Rest, B)],
            < 32 => [(128, G), (262144, B), (Rest, R)],
            < 64 => [(256, G), (8192, B), (Rest, R)],
            < 128 => [(256, G), (4096, B), (Rest, R)],
            < 256 => [(1024, B), (65536, X), (Rest, R)],
            < 512 => [(1024, B), (Rest, R)],
            < 1024 => [(512, B), (1024, G), (4096, B), (1048576, X), (Rest, R)],
            _ => [(4096, B), (Rest, X)],
        };
        return rules.First(r => bytesPerRank < r.Below || r.Below == Rest).Algorithm;
    }

    /// <summary>
    /// The messages one after the other that <paramref name="algorithm"/> takes over <paramref name="ranks"/> ranks, as
    /// ompi/mca/coll/base/coll_base_allgatherv.c runs it: Bruck ⌈log₂ p⌉, neighbor exchange p/2 (the ring on an odd
    /// size), the ring p − 1, two processes 1; the gatherv and broadcast (<see langword="null"/>) p − 1 arrivals at
    /// rank 0 and a binomial tree's ⌈log₂ p⌉ levels.
    /// </summary>
    public static int Steps(AllgatherAlgorithm? algorithm, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 2);
        int levels = (int)Math.Ceiling(Math.Log2(ranks));
        return algorithm switch
        {
            null => ranks - 1 + levels,
            AllgatherAlgorithm.TwoProcesses => 1,
            AllgatherAlgorithm.Bruck => levels,
            AllgatherAlgorithm.NeighborExchange when ranks % 2 == 0 => ranks / 2,
            AllgatherAlgorithm.NeighborExchange or AllgatherAlgorithm.Ring => ranks - 1,
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an algorithm of Open MPI's allgatherv."),
        };
    }
}
