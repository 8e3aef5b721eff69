namespace AtomoCollectives;

/// <summary>Reusable scratch for a parsed payload, so that decoding validates everything before writing anything.</summary>
internal sealed class DecodedAtoms
{
    private float[] _magnitudes = [];
    private int[] _scaled = [];
    private float[] _scaledValues = [];
    private int[] _exact = [];
    private float[] _exactValues = [];
    private int _scaledCount;
    private int _exactCount;

    /// <summary>How many atoms were decoded.</summary>
    public int Count => _scaledCount + _exactCount;

    public Span<float> ScaledValues => _scaledValues.AsSpan(0, _scaledCount);

    public Span<float> ExactValues => _exactValues.AsSpan(0, _exactCount);

    public Span<float> RentMagnitudes(int count)
    {
        Grow(ref _magnitudes, count);
        return _magnitudes.AsSpan(0, count);
    }

    public Span<int> RentScaled(int count)
    {
        Grow(ref _scaled, count);
        Grow(ref _scaledValues, count);
        _scaledCount = count;
        return _scaled.AsSpan(0, count);
    }

    public Span<int> RentExact(int count)
    {
        Grow(ref _exact, count);
        Grow(ref _exactValues, count);
        _exactCount = count;
        return _exact.AsSpan(0, count);
    }

    public void Clear()
    {
        _scaledCount = 0;
        _exactCount = 0;
    }

    /// <summary>accumulator[i] += weight · value for every decoded atom.</summary>
    public void AddTo(Span<float> accumulator, float weight)
    {
        for (int j = 0; j < _scaledCount; j++)
        {
            accumulator[_scaled[j]] += weight * _scaledValues[j];
        }

        for (int j = 0; j < _exactCount; j++)
        {
            accumulator[_exact[j]] += weight * _exactValues[j];
        }
    }

    /// <summary>The largest |value| of the decoded atoms (0 when there are none).</summary>
    public float MaxMagnitude()
    {
        float max = 0;
        foreach (float value in ScaledValues)
        {
            max = Math.Max(max, Math.Abs(value));
        }

        foreach (float value in ExactValues)
        {
            max = Math.Max(max, Math.Abs(value));
        }

        return max;
    }

    /// <summary>The decoded atoms in payload order, drawn then exact (as <see cref="AddTo"/> adds them).</summary>
    public ReadOnlySpan<int> ScaledIndices => _scaled.AsSpan(0, _scaledCount);

    /// <summary>The indices of the atoms with exact values.</summary>
    public ReadOnlySpan<int> ExactIndices => _exact.AsSpan(0, _exactCount);

    private static void Grow<T>(ref T[] array, int count)
    {
        if (array.Length < count)
        {
            array = new T[Math.Max(count, array.Length * 2)];
        }
    }
}
