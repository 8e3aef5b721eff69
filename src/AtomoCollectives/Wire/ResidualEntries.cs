namespace AtomoCollectives;

/// <summary>
/// The residual entries of every spectral payload summed for one tensor, kept sparse (index, weighted value) in the
/// order they were read, and added onto the reconstructed rank-1 atoms at the end: a few thousand scattered adds
/// instead of clearing, filling and adding a dense m×n buffer. Payloads are read in rank order, so every rank adds
/// the same values in the same order and ends with the same bits.
/// </summary>
internal sealed class ResidualEntries
{
    private int[] _indices = [];
    private float[] _values = [];
    private int _count;

    public void Clear() => _count = 0;

    /// <summary>Appends <paramref name="weight"/> times each atom of <paramref name="decoded"/>.</summary>
    public void Append(DecodedAtoms decoded, float weight)
    {
        Append(decoded.ScaledIndices, decoded.ScaledValues, weight);
        Append(decoded.ExactIndices, decoded.ExactValues, weight);
    }

    /// <summary>destination[i] += value for every entry, in order.</summary>
    public void AddTo(Span<float> destination)
    {
        for (int j = 0; j < _count; j++)
        {
            destination[_indices[j]] += _values[j];
        }
    }

    private void Append(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, float weight)
    {
        if (_count + indices.Length > _indices.Length)
        {
            int capacity = Math.Max(_count + indices.Length, 2 * _indices.Length);
            Array.Resize(ref _indices, capacity);
            Array.Resize(ref _values, capacity);
        }

        for (int j = 0; j < indices.Length; j++)
        {
            _indices[_count] = indices[j];
            _values[_count++] = weight * values[j];
        }
    }
}
