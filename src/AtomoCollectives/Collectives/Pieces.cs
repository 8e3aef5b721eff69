using System.Numerics.Tensors;

namespace AtomoCollectives;

/// <summary>
/// How large the pieces are that the collectives hand the transport for large dense sums, and the allreduce in such
/// pieces. One call over a whole model's gradients runs its reads, sums and copies through memory at every step of the
/// algorithm; in pieces that stay in cache, Open MPI's reduce-scatter of ResNet-18's 46.8 MB over 4 ranks of this
/// 2-core machine took 50 instead of 132 ms (docs/node-aware.md, "Pieces"). Allreduce pieces are 10⁶ floats, not a
/// power of two: pieces of 2²⁰ or 2²² floats were 25–50 % slower than 10⁶ (Open MPI's ring then cuts each piece into
/// blocks whose addresses differ by large powers of two, which contend for the same cache sets). With many ranks a
/// piece grows so that each rank's block of it (what one step of a ring moves) stays at least 64 kB.
/// </summary>
internal static class Pieces
{
    /// <summary>Floats per allreduce piece, at least (4 MB).</summary>
    internal const int DefaultAllreduceFloats = 1_000_000;

    /// <summary>Floats per rank per allreduce piece, at least (64 kB, not a power of two either): a piece's lower bound over many ranks.</summary>
    internal const int DefaultAllreduceBlockFloats = 16_000;

    /// <summary><see cref="DefaultAllreduceFloats"/>, but for tests that cut sums into many pieces.</summary>
    internal static int AllreduceFloats { get; set; } = DefaultAllreduceFloats;

    /// <summary><see cref="DefaultAllreduceBlockFloats"/>, but for tests that cut sums into many pieces.</summary>
    internal static int AllreduceBlockFloats { get; set; } = DefaultAllreduceBlockFloats;

    /// <summary>Floats per reduce-scatter round, over all the node's ranks: 1 MiB (over TCP, smaller rounds got slower).</summary>
    internal static int ReduceScatterRoundFloats { get; set; } = 1 << 18;

    /// <summary>Floats per allreduce piece over <paramref name="ranks"/> ranks.</summary>
    public static int AllreducePiece(int ranks) => AllreducePiece(ranks, AllreduceFloats, AllreduceBlockFloats);

    /// <summary>The rule: <paramref name="floats"/>, or <paramref name="blockFloats"/> per rank where that is more, and never more than an array holds.</summary>
    internal static int AllreducePiece(int ranks, int floats, int blockFloats) =>
        (int)Math.Min(Array.MaxLength, Math.Max(floats, (long)ranks * blockFloats));

    /// <summary>
    /// <see cref="ICommunicator.AllreduceSum"/> of <paramref name="data"/> in pieces of <see cref="AllreducePiece(int)"/>
    /// floats, as many on every rank (the length is the same on every rank).
    /// </summary>
    public static void AllreduceSum(ICommunicator communicator, Span<float> data) => AllreduceSum(communicator, data, 1f);

    /// <summary>
    /// <see cref="AllreduceSum(ICommunicator, Span{float})"/>, each piece multiplied by <paramref name="scale"/> as soon
    /// as it is summed, while it is still in cache (a mean: no second pass over the whole vector).
    /// </summary>
    public static void AllreduceSum(ICommunicator communicator, Span<float> data, float scale)
    {
        int piece = AllreducePiece(communicator.Size);
        int done = 0;
        do
        {
            Span<float> part = data.Slice(done, Math.Min(piece, data.Length - done));
            communicator.AllreduceSum(part);
            if (scale != 1f)
            {
                TensorPrimitives.Multiply(part, scale, part);
            }

            done += part.Length;
        }
        while (done < data.Length);
    }
}
