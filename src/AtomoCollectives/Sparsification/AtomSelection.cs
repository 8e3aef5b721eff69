namespace AtomoCollectives;

/// <summary>
/// The atoms one sparsification kept: their indices in ascending order and the values <c>λ_i / p_i</c> they
/// carry. Atoms drawn with <c>p_i &lt; 1</c> carry the magnitude of their group (<see cref="GroupMagnitudes"/>);
/// atoms with <c>p_i = 1</c> carry their exact coefficient and are flagged <see cref="IsExact"/>.
/// A selection is reused across calls: <see cref="Clear"/> keeps its buffers.
/// </summary>
public sealed class AtomSelection
{
    private int[] _indices = new int[16];
    private float[] _values = new float[16];
    private bool[] _exact = new bool[16];
    private float[] _groupMagnitudes = new float[1];
    private int[] _groupEnds = new int[1];

    /// <summary>How many atoms were kept.</summary>
    public int Count { get; private set; }

    /// <summary>How many of the kept atoms have <c>p = 1</c>.</summary>
    public int ExactCount { get; private set; }

    /// <summary>The kept atoms' indices, ascending.</summary>
    public ReadOnlySpan<int> Indices => _indices.AsSpan(0, Count);

    /// <summary>The value each kept atom carries in the estimate: <c>λ_i / p_i</c>.</summary>
    public ReadOnlySpan<float> Values => _values.AsSpan(0, Count);

    /// <summary>Whether each kept atom had <c>p = 1</c> and so carries its exact coefficient.</summary>
    public ReadOnlySpan<bool> IsExact => _exact.AsSpan(0, Count);

    /// <summary>How many groups (buckets) were sparsified into this selection, each with its own water level.</summary>
    public int GroupCount { get; private set; }

    /// <summary>Per group, the magnitude <c>1/c</c> its atoms with <c>p &lt; 1</c> carry (0 when none can occur).</summary>
    public ReadOnlySpan<float> GroupMagnitudes => _groupMagnitudes.AsSpan(0, GroupCount);

    /// <summary>Per group, the index one past its last atom; groups are contiguous and start at 0.</summary>
    public ReadOnlySpan<int> GroupEnds => _groupEnds.AsSpan(0, GroupCount);

    /// <summary>Forgets the kept atoms and groups, keeping the buffers.</summary>
    public void Clear()
    {
        Count = 0;
        ExactCount = 0;
        GroupCount = 0;
    }

    /// <summary>
    /// Adds <c>weight · value</c> of every kept atom to <paramref name="accumulator"/> at its index
    /// (coordinate atoms; for other bases the indices address coefficients).
    /// </summary>
    /// <exception cref="ArgumentException">An index lies outside <paramref name="accumulator"/>.</exception>
    public void AddTo(Span<float> accumulator, float weight = 1f)
    {
        if (Count > 0 && _indices[Count - 1] >= accumulator.Length)
        {
            throw new ArgumentException($"The selection addresses index {_indices[Count - 1]}, beyond the accumulator's length {accumulator.Length}.", nameof(accumulator));
        }

        for (int i = 0; i < Count; i++)
        {
            accumulator[_indices[i]] += weight * _values[i];
        }
    }

    internal void Add(int index, float value, bool exact)
    {
        if (Count == _indices.Length)
        {
            int capacity = checked(Count * 2);
            Array.Resize(ref _indices, capacity);
            Array.Resize(ref _values, capacity);
            Array.Resize(ref _exact, capacity);
        }

        _indices[Count] = index;
        _values[Count] = value;
        _exact[Count] = exact;
        Count++;
        if (exact)
        {
            ExactCount++;
        }
    }

    internal void EnsureAdditionalCapacity(int atoms)
    {
        long needed = (long)Count + atoms;
        if (needed > _indices.Length)
        {
            int capacity = (int)Math.Min(Array.MaxLength, Math.Max(needed, 2L * _indices.Length));
            Array.Resize(ref _indices, capacity);
            Array.Resize(ref _values, capacity);
            Array.Resize(ref _exact, capacity);
        }
    }

    internal void EndGroup(int end, float magnitude)
    {
        if (GroupCount == _groupEnds.Length)
        {
            Array.Resize(ref _groupEnds, GroupCount * 2);
            Array.Resize(ref _groupMagnitudes, GroupCount * 2);
        }

        _groupEnds[GroupCount] = end;
        _groupMagnitudes[GroupCount] = magnitude;
        GroupCount++;
    }
}
