namespace AtomoCollectives.Decompositions;

/// <summary>
/// The orthonormal DCT-II (atoms' coefficients) and its inverse, the orthonormal DCT-III (reconstruction), of one
/// flattened tensor: <c>X_k = s_k Σ_j x_j cos(πk(2j+1)/2n)</c>, <c>s_0 = √(1/n)</c>, <c>s_k = √(2/n)</c>. Implementations
/// are thread-safe. Chosen once per process by <see cref="FourierTransformProvider"/>.
/// </summary>
internal interface IFourierTransform
{
    /// <summary>A short name for logs, e.g. <c>native (FFTW fftw-3.3.10-sse2-avx, libfftw3f.so.3)</c>.</summary>
    string Name { get; }

    /// <summary>
    /// What decides the bits of <see cref="Inverse"/>: every rank decodes every payload with it, so ranks must agree on
    /// it (<see cref="AtomoAllreduce"/> checks). Equal strings give bitwise equal inverses on any CPU of the architecture.
    /// </summary>
    string DecodeKernel { get; }

    /// <summary>Orthonormal DCT-II of <paramref name="x"/> into <paramref name="coefficients"/> (the encoder: local, may vary by CPU in the last bit).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    void Forward(ReadOnlySpan<float> x, Span<float> coefficients);

    /// <summary>Orthonormal DCT-III of <paramref name="coefficients"/> into <paramref name="x"/> (the decoder: the same bits on every CPU).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    void Inverse(ReadOnlySpan<float> coefficients, Span<float> x);
}

/// <summary>The managed transform (<see cref="FourierTransform"/>: double arithmetic, scalar, fixed operation order).</summary>
internal sealed class ManagedFourierTransform : IFourierTransform
{
    internal static readonly ManagedFourierTransform Instance = new();

    private ManagedFourierTransform()
    {
    }

    public string Name => "managed (Makhoul DCT over a mixed-radix FFT in double)";

    public string DecodeKernel => "managed Makhoul DCT-III, scalar double";

    public void Forward(ReadOnlySpan<float> x, Span<float> coefficients) => FourierTransform.Forward(x, coefficients);

    public void Inverse(ReadOnlySpan<float> coefficients, Span<float> x) => FourierTransform.Inverse(coefficients, x);
}
