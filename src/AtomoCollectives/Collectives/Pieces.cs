namespace AtomoCollectives;

/// <summary>
/// How large the pieces are that the collectives hand the transport for large dense sums, and the allreduce in such
/// pieces. One call over a whole model's gradients runs its reads, sums and copies through memory at every step of the
/// algorithm; in pieces that stay in cache, Open MPI's reduce-scatter of ResNet-18's 46.8 MB over 4 ranks of this
/// 2-core machine took 50 instead of 132 ms (docs/node-aware.md, "Pieces"). But a piece also costs a collective's
/// latency, 2(N−1) message rounds: between emulated nodes over TCP, allreduces in pieces of 4 MiB made the dense route
/// 10–30 % slower than one allreduce per tensor, so allreduces are cut only beyond 16 MiB (no ResNet-18 tensor is).
/// </summary>
internal static class Pieces
{
    /// <summary>Floats per allreduce: 16 MiB.</summary>
    internal static int AllreduceFloats { get; set; } = 1 << 22;

    /// <summary>Floats per reduce-scatter round, over all the node's ranks: 1 MiB (over TCP, smaller rounds got slower).</summary>
    internal static int ReduceScatterRoundFloats { get; set; } = 1 << 18;

    /// <summary>
    /// <see cref="ICommunicator.AllreduceSum"/> of <paramref name="data"/> in pieces of at most <see cref="AllreduceFloats"/>,
    /// as many on every rank (the length is the same on every rank).
    /// </summary>
    public static void AllreduceSum(ICommunicator communicator, Span<float> data)
    {
        int piece = AllreduceFloats;
        int done = 0;
        do
        {
            int count = Math.Min(piece, data.Length - done);
            communicator.AllreduceSum(data.Slice(done, count));
            done += count;
        }
        while (done < data.Length);
    }
}
