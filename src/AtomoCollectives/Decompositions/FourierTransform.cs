using System.Buffers;
using System.Collections.Concurrent;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// The orthonormal DCT-II of a flattened tensor and its inverse (DCT-III), in O(n log n) for every n.
/// <para>
/// Why DCT-II: it is real (coefficients are plain floats, no complex pairs or conjugate symmetry to manage on the
/// wire), orthonormal with the scaling <c>√(1/n)</c> for k = 0 and <c>√(2/n)</c> otherwise (so ATOMO's atoms are unit
/// norm and the variance formula holds), and it compacts the energy of smooth signals better than the DFT because its
/// implicit even extension has no jump at the ends.
/// </para>
/// <para>
/// How: Makhoul's reordering turns the length-n DCT-II into one length-n complex FFT (v = even-indexed samples followed
/// by the odd-indexed ones reversed; <c>X_k = Re(e^{−iπk/2n}·V_k)</c>), and the inverse into one inverse FFT. The FFT is
/// iterative radix-2 for powers of two and Bluestein's chirp-z (three power-of-two FFTs of length ≥ 2n − 1) for every
/// other n, primes included: exact (no padding of the signal) and O(n log n). Arithmetic is in double; twiddles and
/// chirps are computed from exact integer phases (k² mod 2n) so large n keep full accuracy. Plans are cached per length.
/// </para>
/// </summary>
internal static class FourierTransform
{
    private static readonly ConcurrentDictionary<int, DctPlan> Plans = new();

    /// <summary>Orthonormal DCT-II of <paramref name="x"/> into <paramref name="coefficients"/> (same length).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> coefficients)
    {
        int n = x.Length;
        if (coefficients.Length != n)
        {
            throw new ArgumentException("The coefficients must have the signal's length.", nameof(coefficients));
        }

        if (n == 0)
        {
            return;
        }

        DctPlan plan = Plans.GetOrAdd(n, static length => new DctPlan(length));
        double[] re = ArrayPool<double>.Shared.Rent(n);
        double[] im = ArrayPool<double>.Shared.Rent(n);
        try
        {
            int half = (n + 1) / 2;
            for (int k = 0; k < half; k++)
            {
                re[k] = x[2 * k];
            }

            for (int k = 0; k < n / 2; k++)
            {
                re[n - 1 - k] = x[(2 * k) + 1];
            }

            im.AsSpan(0, n).Clear();
            plan.Fft.Forward(re.AsSpan(0, n), im.AsSpan(0, n));
            double[] c = plan.Cos, s = plan.Sin;
            double first = Math.Sqrt(1.0 / n), rest = Math.Sqrt(2.0 / n);
            coefficients[0] = (float)(re[0] * first);
            for (int k = 1; k < n; k++)
            {
                coefficients[k] = (float)(((re[k] * c[k]) + (im[k] * s[k])) * rest);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(re);
            ArrayPool<double>.Shared.Return(im);
        }
    }

    /// <summary>Inverse of <see cref="Forward"/> (orthonormal DCT-III): <paramref name="x"/> from <paramref name="coefficients"/>.</summary>
    public static void Inverse(ReadOnlySpan<float> coefficients, Span<float> x)
    {
        int n = coefficients.Length;
        if (x.Length != n)
        {
            throw new ArgumentException("The signal must have the coefficients' length.", nameof(x));
        }

        if (n == 0)
        {
            return;
        }

        DctPlan plan = Plans.GetOrAdd(n, static length => new DctPlan(length));
        double[] re = ArrayPool<double>.Shared.Rent(n);
        double[] im = ArrayPool<double>.Shared.Rent(n);
        try
        {
            double[] c = plan.Cos, s = plan.Sin;
            double first = Math.Sqrt(n), rest = Math.Sqrt(n / 2.0);

            // Unnormalised X_k = coefficient_k / scale_k; V_k = e^{iπk/2n}·(X_k − i·X_{n−k}), X_n = 0.
            re[0] = coefficients[0] * first;
            im[0] = 0;
            for (int k = 1; k < n; k++)
            {
                double a = coefficients[k] * rest, b = coefficients[n - k] * rest;
                re[k] = (c[k] * a) + (s[k] * b);
                im[k] = (s[k] * a) - (c[k] * b);
            }

            plan.Fft.Inverse(re.AsSpan(0, n), im.AsSpan(0, n));
            int half = (n + 1) / 2;
            for (int k = 0; k < half; k++)
            {
                x[2 * k] = (float)re[k];
            }

            for (int k = 0; k < n / 2; k++)
            {
                x[(2 * k) + 1] = (float)re[n - 1 - k];
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(re);
            ArrayPool<double>.Shared.Return(im);
        }
    }

    private sealed class DctPlan
    {
        public DctPlan(int n)
        {
            Fft = FftPlan.Create(n);
            Cos = new double[n];
            Sin = new double[n];
            for (int k = 0; k < n; k++)
            {
                // e^{−iπk/2n} = cos − i·sin, from the exact phase k/(4n) of a full turn.
                (Sin[k], Cos[k]) = Math.SinCos(Math.PI * k / (2.0 * n));
            }
        }

        public FftPlan Fft { get; }

        public double[] Cos { get; }

        public double[] Sin { get; }
    }
}

/// <summary>A complex FFT of one length on split real/imaginary double arrays (forward sign −1, unnormalised forward).</summary>
internal sealed class FftPlan
{
    private static readonly ConcurrentDictionary<int, FftPlan> PowerOfTwo = new();

    private readonly int _n;
    private readonly int[]? _reverse;
    private readonly double[]? _cos;
    private readonly double[]? _sin;

    // Bluestein
    private readonly FftPlan? _inner;
    private readonly double[]? _chirpRe;
    private readonly double[]? _chirpIm;
    private readonly double[]? _kernelRe;
    private readonly double[]? _kernelIm;

    private FftPlan(int n)
    {
        _n = n;
        if ((n & (n - 1)) == 0)
        {
            int bits = System.Numerics.BitOperations.Log2((uint)n);
            _reverse = new int[n];
            for (int i = 0; i < n; i++)
            {
                _reverse[i] = bits == 0 ? 0 : (int)(ReverseBits((uint)i) >> (32 - bits));
            }

            _cos = new double[Math.Max(1, n / 2)];
            _sin = new double[Math.Max(1, n / 2)];
            for (int j = 0; j < n / 2; j++)
            {
                (_sin[j], _cos[j]) = Math.SinCos(-2 * Math.PI * j / n);
            }

            return;
        }

        int m = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)((2 * n) - 1));
        _inner = PowerOfTwo.GetOrAdd(m, static length => new FftPlan(length));
        _chirpRe = new double[n];
        _chirpIm = new double[n];
        for (int k = 0; k < n; k++)
        {
            // w_k = e^{−iπk²/n}, with k² reduced mod 2n exactly.
            long phase = (long)k * k % (2L * n);
            (_chirpIm[k], _chirpRe[k]) = Math.SinCos(-Math.PI * phase / n);
        }

        _kernelRe = new double[m];
        _kernelIm = new double[m];
        _kernelRe[0] = _chirpRe[0];
        _kernelIm[0] = -_chirpIm[0];
        for (int k = 1; k < n; k++)
        {
            _kernelRe[k] = _kernelRe[m - k] = _chirpRe[k];
            _kernelIm[k] = _kernelIm[m - k] = -_chirpIm[k];
        }

        _inner.Forward(_kernelRe, _kernelIm);
    }

    public static FftPlan Create(int n) => (n & (n - 1)) == 0 ? PowerOfTwo.GetOrAdd(n, static length => new FftPlan(length)) : new FftPlan(n);

    /// <summary>In-place forward DFT: <c>X_k = Σ x_j e^{−2πijk/n}</c>.</summary>
    public void Forward(Span<double> re, Span<double> im)
    {
        if (_reverse is not null)
        {
            Radix2(re, im);
        }
        else
        {
            Bluestein(re, im);
        }
    }

    /// <summary>In-place inverse DFT including the 1/n factor.</summary>
    public void Inverse(Span<double> re, Span<double> im)
    {
        for (int i = 0; i < _n; i++)
        {
            im[i] = -im[i];
        }

        Forward(re, im);
        double scale = 1.0 / _n;
        for (int i = 0; i < _n; i++)
        {
            re[i] *= scale;
            im[i] = -im[i] * scale;
        }
    }

    private void Radix2(Span<double> re, Span<double> im)
    {
        int n = _n;
        int[] reverse = _reverse!;
        for (int i = 0; i < n; i++)
        {
            int j = reverse[i];
            if (j > i)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }

        double[] cos = _cos!, sin = _sin!;
        for (int size = 2; size <= n; size <<= 1)
        {
            int half = size >> 1, step = n / size;
            for (int start = 0; start < n; start += size)
            {
                for (int j = 0, t = 0; j < half; j++, t += step)
                {
                    int a = start + j, b = a + half;
                    double wr = cos[t], wi = sin[t];
                    double xr = (re[b] * wr) - (im[b] * wi);
                    double xi = (re[b] * wi) + (im[b] * wr);
                    re[b] = re[a] - xr;
                    im[b] = im[a] - xi;
                    re[a] += xr;
                    im[a] += xi;
                }
            }
        }
    }

    private void Bluestein(Span<double> re, Span<double> im)
    {
        int n = _n, m = _inner!._n;
        double[] ar = ArrayPool<double>.Shared.Rent(m);
        double[] ai = ArrayPool<double>.Shared.Rent(m);
        try
        {
            Span<double> a = ar.AsSpan(0, m), b = ai.AsSpan(0, m);
            double[] cr = _chirpRe!, ci = _chirpIm!, kr = _kernelRe!, ki = _kernelIm!;
            for (int k = 0; k < n; k++)
            {
                a[k] = (re[k] * cr[k]) - (im[k] * ci[k]);
                b[k] = (re[k] * ci[k]) + (im[k] * cr[k]);
            }

            a[n..].Clear();
            b[n..].Clear();
            _inner.Forward(a, b);
            for (int k = 0; k < m; k++)
            {
                double xr = (a[k] * kr[k]) - (b[k] * ki[k]);
                double xi = (a[k] * ki[k]) + (b[k] * kr[k]);
                a[k] = xr;
                b[k] = xi;
            }

            _inner.Inverse(a, b);
            for (int k = 0; k < n; k++)
            {
                re[k] = (a[k] * cr[k]) - (b[k] * ci[k]);
                im[k] = (a[k] * ci[k]) + (b[k] * cr[k]);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(ar);
            ArrayPool<double>.Shared.Return(ai);
        }
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }
}
