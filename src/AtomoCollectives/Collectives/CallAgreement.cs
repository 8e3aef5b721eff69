using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>
/// The failure protocol the averagers share (docs/reliability.md). Before any exchange whose length depends on the
/// call, every rank allgathers a small fixed header: whether it failed locally, its tensor count, a hash of its shapes
/// and of its options, and its step. So a rank whose arguments or encode failed, or that disagrees with the others,
/// makes every rank raise at the same point instead of leaving some waiting; a failure after that first exchange rides
/// on a later dense allreduce as one float (see <see cref="CheckOutcome"/>).
/// </summary>
internal static class CallAgreement
{
    private const int HeaderLength = 5;

    /// <summary>
    /// Exchanges the header and raises, on every rank, when any rank failed or disagrees: the rank at fault its own
    /// <c>localError</c>, the others <see cref="InvalidOperationException"/> naming that rank. <c>optionsName</c> is the
    /// options type, for the message when options differ (e.g. <c>AtomoOptions</c>).
    /// </summary>
    public static void Exchange(ICommunicator communicator, Exception? localError, int count, long shapesHash, long optionsHash, long step, string optionsName)
    {
        int size = communicator.Size;
        Span<long> header = [localError is null ? 0 : 1, count, shapesHash, optionsHash, step];
        var headers = new long[HeaderLength * size];
        communicator.Allgather<long>(header, headers);
        if (localError is not null)
        {
            ExceptionDispatchInfo.Capture(localError).Throw();
        }

        int rank = communicator.Rank;
        ReadOnlySpan<long> mine = headers.AsSpan(rank * HeaderLength, HeaderLength);
        for (int r = 0; r < size; r++)
        {
            ReadOnlySpan<long> theirs = headers.AsSpan(r * HeaderLength, HeaderLength);
            if (theirs[0] != 0)
            {
                throw new InvalidOperationException($"Rank {r} failed before the exchange at step {theirs[4]} (its arguments or its encode; see that rank's error); no rank averaged anything, and the next call starts in step.");
            }

            if (theirs[1] != mine[1])
            {
                throw new InvalidOperationException($"Rank {r} averages {theirs[1]} tensors but rank {rank} averages {mine[1]}: every rank must pass the same tensors.");
            }

            if (theirs[2] != mine[2])
            {
                throw new InvalidOperationException($"Rank {r} passed tensor shapes that differ from rank {rank}'s: every rank must pass the same shapes in the same order.");
            }

            if (theirs[3] != mine[3])
            {
                throw new InvalidOperationException($"Rank {r} uses different {optionsName} from rank {rank}: every rank must use the same options.");
            }

            if (theirs[4] != mine[4])
            {
                throw new InvalidOperationException($"Rank {r} is at step {theirs[4]} but rank {rank} at step {mine[4]}: a rank skipped or repeated a call.");
            }
        }
    }

    /// <summary>
    /// Raises on every rank when any rank failed between two exchanges: that rank its own error, the others one naming
    /// how many. <paramref name="failedRanks"/> is the sum over ranks of one float (1 where the phase failed), carried by
    /// the next dense allreduce, so the check costs no collective of its own. <c>phase</c> says what failed, e.g.
    /// <c>decode the payloads</c>.
    /// </summary>
    public static void CheckOutcome(Exception? localError, float failedRanks, long step, string phase)
    {
        if (localError is not null)
        {
            ExceptionDispatchInfo.Capture(localError).Throw();
        }

        if (failedRanks != 0)
        {
            throw new InvalidOperationException($"{failedRanks:0} rank(s) failed to {phase} of step {step} (see their errors); no rank wrote its tensors, and the next call starts in step.");
        }
    }

    /// <summary>Mixes <paramref name="value"/> into <paramref name="hash"/> (HashCode is seeded per process; ranks are processes).</summary>
    public static long Mix(long hash, long value) => (long)SeedSequence.Mix((ulong)hash ^ (ulong)value);

    /// <summary>The seed of a running shapes hash; fold each shape in with <see cref="Mix"/> and <see cref="HashShape"/>.</summary>
    public const long ShapesHashSeed = 17;

    /// <summary>The shapes hash of a whole call's tensors, in order (<see cref="ShapesHashSeed"/> for none, or bad argument lists).</summary>
    public static long ShapesHash<TSet>(TSet tensors)
        where TSet : ITensorSet, allows ref struct
    {
        long hash = ShapesHashSeed;
        for (int t = 0; t < tensors.Count; t++)
        {
            hash = Mix(hash, HashShape(tensors.Shape(t)));
        }

        return hash;
    }

    public static long HashShape(TensorShape shape)
    {
        long hash = shape.Rank;
        foreach (int dimension in shape.Dimensions)
        {
            hash = Mix(hash, dimension);
        }

        return hash;
    }

    /// <summary>A hash of <paramref name="text"/> that every process computes alike (string.GetHashCode is randomised per process).</summary>
    public static long HashString(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return (long)hash;
    }

    /// <summary>The error for a call whose tensors hold more elements than one array can (the scratch and the node's sums).</summary>
    public static ArgumentException TooManyElements(long total) =>
        new($"One call can average at most {Array.MaxLength} elements in total, not {total}.", "tensors");

    /// <summary>The error for a tensor whose length is not its shape's element count.</summary>
    public static ArgumentException LengthMismatch(int tensor, int length, TensorShape shape) =>
        new($"Tensor {tensor} has {length} elements but its shape {shape} has {shape.ElementCount}.", "tensors");

    /// <summary>The error naming the first NaN or infinity of a tensor travelling by <paramref name="route"/>, or null when all are finite.</summary>
    public static ArgumentException? NonFinite(int tensor, TensorShape shape, ReadOnlySpan<float> data, TensorRoute route)
    {
        int bad = FiniteValues.IndexOfNonFinite(data);
        return bad >= 0
            ? new ArgumentException($"Tensor {tensor} {shape} holds {data[bad]} at index {bad} (route {route}): NaN and infinity cannot be averaged.", "tensors")
            : null;
    }
}

/// <summary>The tensors of one call, as the averagers read them.</summary>
internal interface ITensorSet
{
    /// <summary>What is wrong with the arguments themselves (null lists, counts that differ), raised through the exchange.</summary>
    ArgumentException? Error { get; }

    int Count { get; }

    Span<float> Get(int index);

    TensorShape Shape(int index);
}

/// <summary>The fused form's lists, copied when the call is made.</summary>
internal readonly struct TensorList : ITensorSet
{
    private readonly Memory<float>[] _tensors;
    private readonly TensorShape[] _shapes;

    /// <summary>
    /// Takes the lists as given; a null list, a count mismatch or two tensors that share memory becomes
    /// <see cref="Error"/>, so every rank learns of it.
    /// </summary>
    public TensorList(IReadOnlyList<Memory<float>>? tensors, IReadOnlyList<TensorShape>? shapes)
    {
        _tensors = tensors is null ? [] : [.. tensors];
        _shapes = shapes is null ? [] : [.. shapes];
        Error = tensors is null ? new ArgumentNullException(nameof(tensors))
            : shapes is null ? new ArgumentNullException(nameof(shapes))
            : tensors.Count != shapes.Count ? new ArgumentException($"{tensors.Count} tensors but {shapes.Count} shapes.", nameof(shapes))
            : SharedMemory(_tensors);
    }

    public ArgumentException? Error { get; }

    public int Count => Error is null ? _tensors.Length : 0;

    public Span<float> Get(int index) => _tensors[index].Span;

    public TensorShape Shape(int index) => _shapes[index];

    /// <summary>
    /// The error naming two tensors that overlap in one array, or null. Every tensor gets its own mean written into it,
    /// and an all-dense call sums each where it lies: a region passed twice would be summed twice. Slices of one
    /// buffer that do not overlap are fine. Tensors not backed by a managed array are not checked. Sorted by array,
    /// then offset: n log n for any number of tensors.
    /// </summary>
    private static ArgumentException? SharedMemory(Memory<float>[] tensors)
    {
        var regions = new Region[tensors.Length];
        int count = 0;
        for (int t = 0; t < tensors.Length; t++)
        {
            if (MemoryMarshal.TryGetArray<float>(tensors[t], out ArraySegment<float> segment) && segment.Count > 0)
            {
                regions[count++] = new(segment.Array!, RuntimeHelpers.GetHashCode(segment.Array), segment.Offset, segment.Offset + segment.Count, t);
            }
        }

        if (count < 2)
        {
            return null;
        }

        Array.Sort(regions, 0, count, Region.ByArrayThenOffset);

        // Within a run of one hash (almost always one array) each array's regions come by offset: one overlaps an
        // earlier one of its array exactly where it starts before the furthest end seen so far (kept per array).
        var furthest = new List<Region>();
        for (int i = 0; i < count; i++)
        {
            Region region = regions[i];
            if (i == 0 || region.Hash != regions[i - 1].Hash)
            {
                furthest.Clear();
            }

            int seen = furthest.Count - 1;
            while (seen >= 0 && !ReferenceEquals(furthest[seen].Array, region.Array))
            {
                seen--;
            }

            if (seen < 0)
            {
                furthest.Add(region);
            }
            else if (region.Start < furthest[seen].End)
            {
                (int first, int second) = (Math.Min(furthest[seen].Index, region.Index), Math.Max(furthest[seen].Index, region.Index));
                return new ArgumentException($"Tensors {first} and {second} share memory: every tensor must have its own, since each gets its mean written into it.", "tensors");
            }
            else if (region.End > furthest[seen].End)
            {
                furthest[seen] = region;
            }
        }

        return null;
    }

    /// <summary>Tensor <paramref name="Index"/>'s elements [<paramref name="Start"/>, <paramref name="End"/>) of <paramref name="Array"/> (<paramref name="Hash"/>: its identity hash, the sort key).</summary>
    private readonly record struct Region(float[] Array, int Hash, int Start, int End, int Index)
    {
        public static readonly Comparer<Region> ByArrayThenOffset =
            Comparer<Region>.Create(static (a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : a.Start.CompareTo(b.Start));
    }
}
