namespace AtomoCollectives.Examples.Bench;

/// <summary>The algorithms Open MPI's coll/tuned runs a commutative <c>MPI_Allreduce</c> with (its numbering in the comments).</summary>
internal enum AllreduceAlgorithm
{
    /// <summary>2: nonoverlapping, a reduce to rank 0 and then a broadcast, each a tree of ⌈log₂ p⌉ levels.</summary>
    Nonoverlapping,

    /// <summary>3: recursive doubling, log₂ p' steps of the whole vector with rank r XOR 2^i (p' the power of two at most p).</summary>
    RecursiveDoubling,

    /// <summary>4: ring, a reduce-scatter and an allgather of p − 1 steps each, a p-th of the vector per step.</summary>
    Ring,

    /// <summary>5: segmented ring; under the fixed rules (segment size 0) one segment, so the ring.</summary>
    SegmentedRing,

    /// <summary>6: Rabenseifner, a reduce-scatter by recursive halving and an allgather by recursive doubling, log₂ p' steps each.</summary>
    Rabenseifner,
}

/// <summary>
/// What one member does on an allreduce's critical path: <paramref name="Steps"/> messages one after the other (each
/// paying α), carrying <paramref name="Vectors"/> times the vector each way in all.
/// </summary>
internal readonly record struct AllreduceCost(int Steps, double Vectors);

/// <summary>
/// What Open MPI 4.1 does with an <c>MPI_Allreduce</c> of a sum, so the cost model charges the rails' allreduces the
/// steps Open MPI takes rather than a ring's 2(p − 1): a ring's latency over 128 nodes (254 α, 6.4 ms at 25 µs) is what
/// the small sums the library does on the rails would cost as a ring, where Open MPI runs them in about 2 log₂ p steps.
/// </summary>
internal static class OpenMpiAllreduce
{
    /// <summary>
    /// The algorithm coll/tuned's fixed rules pick for a commutative operation over <paramref name="ranks"/> ranks of
    /// <paramref name="bytes"/> each (<c>total_dsize</c>, the vector's bytes): <c>ompi_coll_tuned_allreduce_intra_dec_fixed</c>
    /// in ompi/mca/coll/tuned/coll_tuned_decision_fixed.c, as at v4.1.4, this machine's version (the default unless
    /// <c>coll_tuned_use_dynamic_rules</c>).
    /// </summary>
    public static AllreduceAlgorithm Choose(int ranks, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 2);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        const AllreduceAlgorithm N = AllreduceAlgorithm.Nonoverlapping, D = AllreduceAlgorithm.RecursiveDoubling,
            R = AllreduceAlgorithm.Ring, S = AllreduceAlgorithm.SegmentedRing, B = AllreduceAlgorithm.Rabenseifner;
        const long Rest = long.MaxValue;

        // Per band of communicator sizes, as the C code's if-chains: below so many bytes, this algorithm.
        (long Below, AllreduceAlgorithm Algorithm)[] rules = ranks switch
        {
            < 4 => [(8, R), (4096, D), (8192, R), (16384, D), (65536, R), (262144, S), (Rest, B)],
            < 8 => [(16, R), (8192, D), (Rest, B)],
            < 16 => [(8192, D), (Rest, B)],
            < 32 => [(64, S), (4096, D), (Rest, B)],
            < 64 => [(128, S), (Rest, B)],
            < 128 => [(262144, D), (Rest, B)],
            < 256 => [(131072, N), (262144, D), (Rest, B)],
            < 512 => [(4096, N), (Rest, B)],
            < 2048 => [(2048, N), (16384, D), (Rest, B)],
            < 4096 => [(2048, N), (4096, S), (16384, D), (Rest, B)],
            _ => [(2048, N), (16384, S), (32768, D), (Rest, B)],
        };
        return rules.First(r => bytes < r.Below || r.Below == Rest).Algorithm;
    }

    /// <summary>The critical path of the algorithm Open MPI picks (<see cref="Choose"/>) for a vector of <paramref name="bytes"/> of floats over <paramref name="ranks"/> ranks.</summary>
    public static AllreduceCost CostOfChosen(int ranks, double bytes) => Cost(Choose(ranks, (long)bytes), ranks, (long)(bytes / sizeof(float)));

    /// <summary>
    /// The critical path of <paramref name="algorithm"/> over <paramref name="ranks"/> ranks for a vector of
    /// <paramref name="count"/> elements, as ompi/mca/coll/base/coll_base_allreduce.c runs it: the ring falls back to
    /// recursive doubling below one element per rank, Rabenseifner below one per rank of p'; where p is not a power of two,
    /// recursive doubling adds a step before and after (the whole vector each), Rabenseifner three (two halves, then the
    /// whole result).
    /// </summary>
    public static AllreduceCost Cost(AllreduceAlgorithm algorithm, int ranks, long count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 2);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int log = int.Log2(ranks), powerOfTwo = 1 << log;
        bool odd = powerOfTwo != ranks;
        switch (algorithm)
        {
            case AllreduceAlgorithm.Ring or AllreduceAlgorithm.SegmentedRing when count >= ranks:
                return new AllreduceCost(2 * (ranks - 1), 2.0 * (ranks - 1) / ranks);
            case AllreduceAlgorithm.Rabenseifner when count >= powerOfTwo:
                return new AllreduceCost((2 * log) + (odd ? 3 : 0), (2.0 * (powerOfTwo - 1) / powerOfTwo) + (odd ? 2 : 0));
            case AllreduceAlgorithm.Nonoverlapping:
                int levels = 2 * (int)Math.Ceiling(Math.Log2(ranks));
                return new AllreduceCost(levels, levels);
            case AllreduceAlgorithm.RecursiveDoubling or AllreduceAlgorithm.Ring or AllreduceAlgorithm.SegmentedRing or AllreduceAlgorithm.Rabenseifner:
                int steps = log + (odd ? 2 : 0);
                return new AllreduceCost(steps, steps);
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an allreduce algorithm.");
        }
    }
}
