namespace AtomoCollectives;

/// <summary>
/// How large the pieces are that the collectives hand the transport for large dense sums, and the allreduce in such
/// pieces. One call over a whole model's gradients runs its reads, sums and copies through memory at every step of the
/// algorithm; in pieces that stay in cache, Open MPI's allreduce of ResNet-18's 46.8 MB over 4 ranks of this 2-core
/// machine took 53 instead of 101 ms, its reduce-scatter 50 instead of 132 ms (docs/node-aware.md, "Pieces").
/// A piece costs one more latency: a few microseconds against milliseconds.
/// </summary>
internal static class Pieces
{
    /// <summary>Floats per allreduce: 4 MiB.</summary>
    internal static int AllreduceFloats { get; set; } = 1 << 20;

    /// <summary>Floats per reduce-scatter round, over all the node's ranks: 1 MiB (over TCP, smaller rounds got slower).</summary>
    internal static int ReduceScatterRoundFloats { get; set; } = 1 << 18;

    /// <summary>
    /// <see cref="ICommunicator.AllreduceSum"/> of <paramref name="data"/> in pieces of at most <see cref="AllreduceFloats"/>,
    /// as many on every rank (the length is the same on every rank). Returns how many.
    /// </summary>
    public static int AllreduceSum(ICommunicator communicator, Span<float> data)
    {
        int piece = AllreduceFloats;
        int done = 0, pieces = 0;
        do
        {
            int count = Math.Min(piece, data.Length - done);
            communicator.AllreduceSum(data.Slice(done, count));
            done += count;
            pieces++;
        }
        while (done < data.Length);
        return pieces;
    }

    /// <summary>
    /// The sum over every rank of <paramref name="send"/> into <paramref name="sum"/> (the same length; not overlapping),
    /// in pieces of at most <see cref="AllreduceFloats"/>: read in place where the transport can
    /// (<see cref="IAllreduceIntoCommunicator"/>), else copied piece by piece and summed in place. Returns how many pieces.
    /// </summary>
    public static int AllreduceSum(ICommunicator communicator, ReadOnlySpan<float> send, Span<float> sum)
    {
        int piece = AllreduceFloats;
        int done = 0, pieces = 0;
        do
        {
            int count = Math.Min(piece, send.Length - done);
            if (communicator is IAllreduceIntoCommunicator into)
            {
                into.AllreduceSum(send.Slice(done, count), sum.Slice(done, count));
            }
            else
            {
                send.Slice(done, count).CopyTo(sum.Slice(done, count));
                communicator.AllreduceSum(sum.Slice(done, count));
            }

            done += count;
            pieces++;
        }
        while (done < send.Length);
        return pieces;
    }
}
