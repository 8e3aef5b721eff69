using System.Buffers;
using System.Collections.Concurrent;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// The managed orthonormal DCT-II of a flattened tensor and its inverse (DCT-III), in O(n log n) for every n: the
/// fallback when FFTW is missing (<see cref="FourierTransformProvider"/>) and the reference FFTW is checked against.
/// <para>
/// Why DCT-II: it is real (coefficients are plain floats, no complex pairs or conjugate symmetry to manage on the
/// wire), orthonormal with the scaling <c>√(1/n)</c> for k = 0 and <c>√(2/n)</c> otherwise (so ATOMO's atoms are unit
/// norm and the variance formula holds), and it compacts the energy of smooth signals better than the DFT because its
/// implicit even extension has no jump at the ends.
/// </para>
/// <para>
/// How: Makhoul's reordering turns the length-n DCT-II into one length-n complex FFT (v = even-indexed samples followed
/// by the odd-indexed ones reversed; <c>X_k = Re(e^{−iπk/2n}·V_k)</c>), and the inverse into one inverse FFT. The FFT is
/// a mixed-radix Stockham FFT when every prime factor of n is ≤ 31 (all tensor sizes in practice) and Bluestein's
/// chirp-z (three power-of-two FFTs of length ≥ 2n − 1) for any other n, large primes included: exact (no padding of
/// the signal) and O(n log n). Arithmetic is in double; twiddles and
/// chirps are computed from exact integer phases (k² mod 2n) so large n keep full accuracy. Plans are cached per length,
/// at most <see cref="PlanCapacity"/> of them (the cache is emptied when full: plans are immutable, holders keep theirs).
/// </para>
/// </summary>
internal static class FourierTransform
{
    /// <summary>Lengths whose plans are kept, in this cache and in <see cref="FftPlan"/>'s.</summary>
    internal const int PlanCapacity = 64;

    private static readonly ConcurrentDictionary<int, DctPlan> Plans = new();

    /// <summary>Plans cached now, in this class and in <see cref="FftPlan"/> (for the tests of the bound).</summary>
    internal static int CachedPlans => Plans.Count + FftPlan.CachedPlans;

    /// <summary>The value for <paramref name="key"/>, created once while cached; a full cache is emptied first.</summary>
    internal static TValue Bounded<TValue>(ConcurrentDictionary<int, TValue> cache, int key, Func<int, TValue> create)
    {
        if (cache.TryGetValue(key, out TValue? value))
        {
            return value;
        }

        if (cache.Count >= PlanCapacity)
        {
            cache.Clear();
        }

        return cache.GetOrAdd(key, create);
    }

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

        DctPlan plan = Bounded(Plans, n, static length => new DctPlan(length));
        if (n % 2 == 0)
        {
            ForwardEven(x, coefficients, plan);
            return;
        }

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
            plan.Fft!.Forward(re.AsSpan(0, n), im.AsSpan(0, n));
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

        DctPlan plan = Bounded(Plans, n, static length => new DctPlan(length));
        if (n % 2 == 0)
        {
            InverseEven(coefficients, x, plan);
            return;
        }

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

            plan.Fft!.Inverse(re.AsSpan(0, n), im.AsSpan(0, n));
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

    /// <summary>
    /// Even n: the Makhoul sequence v is real, so its length-n FFT comes from one complex FFT of length h = n/2 of
    /// z_k = v_{2k} + i·v_{2k+1}: with E, O the FFTs of the even and odd samples, E_k = (Z_k + conj Z_{h−k})/2,
    /// O_k = (Z_k − conj Z_{h−k})/2i, V_k = E_k + w^k O_k, V_{k+h} = E_k − w^k O_k (w = e^{−2πi/n}). Half the work.
    /// </summary>
    private static void ForwardEven(ReadOnlySpan<float> x, Span<float> coefficients, DctPlan plan)
    {
        int n = x.Length, h = n / 2;
        double[] zr = ArrayPool<double>.Shared.Rent(h);
        double[] zi = ArrayPool<double>.Shared.Rent(h);
        try
        {
            // v_j = x_{2j} for j < h, v_{n−1−j} = x_{2j+1}; z_k = v_{2k} + i·v_{2k+1}.
            for (int k = 0; k < h; k++)
            {
                int j0 = 2 * k, j1 = (2 * k) + 1;
                zr[k] = j0 < h ? x[2 * j0] : x[(2 * (n - 1 - j0)) + 1];
                zi[k] = j1 < h ? x[2 * j1] : x[(2 * (n - 1 - j1)) + 1];
            }

            plan.HalfFft!.Forward(zr.AsSpan(0, h), zi.AsSpan(0, h));
            double[] c = plan.Cos, s = plan.Sin, wr = plan.HalfCos!, wi = plan.HalfSin!;
            double first = Math.Sqrt(1.0 / n), rest = Math.Sqrt(2.0 / n);
            for (int k = 0; k < h; k++)
            {
                int k2 = k == 0 ? 0 : h - k;
                double er = (zr[k] + zr[k2]) * 0.5, ei = (zi[k] - zi[k2]) * 0.5;
                double or = (zi[k] + zi[k2]) * 0.5, oi = (zr[k2] - zr[k]) * 0.5;
                double tr = (wr[k] * or) - (wi[k] * oi), ti = (wr[k] * oi) + (wi[k] * or);
                double vr = er + tr, vi = ei + ti, ur = er - tr, ui = ei - ti;
                coefficients[k] = (float)(((vr * c[k]) + (vi * s[k])) * (k == 0 ? first : rest));
                coefficients[k + h] = (float)(((ur * c[k + h]) + (ui * s[k + h])) * rest);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(zr);
            ArrayPool<double>.Shared.Return(zi);
        }
    }

    /// <summary>Even n: the inverse of <see cref="ForwardEven"/>, Z_k = E_k + i·O_k with E_k = (V_k + V_{k+h})/2, O_k = (V_k − V_{k+h})·w^{−k}/2.</summary>
    private static void InverseEven(ReadOnlySpan<float> coefficients, Span<float> x, DctPlan plan)
    {
        int n = coefficients.Length, h = n / 2;
        double[] zr = ArrayPool<double>.Shared.Rent(h);
        double[] zi = ArrayPool<double>.Shared.Rent(h);
        try
        {
            double[] c = plan.Cos, s = plan.Sin, wr = plan.HalfCos!, wi = plan.HalfSin!;
            double first = Math.Sqrt(n), rest = Math.Sqrt(n / 2.0);
            for (int k = 0; k < h; k++)
            {
                // V_k = e^{iπk/2n}(X_k − i·X_{n−k}), X unnormalised, X_n = 0.
                double a = coefficients[k] * (k == 0 ? first : rest), b = k == 0 ? 0 : coefficients[n - k] * rest;
                double vr = (c[k] * a) + (s[k] * b), vi = (s[k] * a) - (c[k] * b);
                int kh = k + h;
                double a2 = coefficients[kh] * rest, b2 = coefficients[n - kh] * rest;
                double ur = (c[kh] * a2) + (s[kh] * b2), ui = (s[kh] * a2) - (c[kh] * b2);
                double er = (vr + ur) * 0.5, ei = (vi + ui) * 0.5;
                double dr = (vr - ur) * 0.5, di = (vi - ui) * 0.5;

                // O = d·w^{−k} = d·(wr − i·wi) since w^k = wr + i·wi.
                double or = (dr * wr[k]) + (di * wi[k]), oi = (di * wr[k]) - (dr * wi[k]);
                zr[k] = er - oi;
                zi[k] = ei + or;
            }

            plan.HalfFft!.Inverse(zr.AsSpan(0, h), zi.AsSpan(0, h));

            // v_{2k} = Re z_k, v_{2k+1} = Im z_k; x_{2j} = v_j (j < h), x_{2j+1} = v_{n−1−j}.
            for (int k = 0; k < h; k++)
            {
                int j0 = 2 * k, j1 = (2 * k) + 1;
                if (j0 < h)
                {
                    x[2 * j0] = (float)zr[k];
                }
                else
                {
                    x[(2 * (n - 1 - j0)) + 1] = (float)zr[k];
                }

                if (j1 < h)
                {
                    x[2 * j1] = (float)zi[k];
                }
                else
                {
                    x[(2 * (n - 1 - j1)) + 1] = (float)zi[k];
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(zr);
            ArrayPool<double>.Shared.Return(zi);
        }
    }

    private sealed class DctPlan
    {
        public DctPlan(int n)
        {
            if (n % 2 == 0)
            {
                int h = n / 2;
                HalfFft = FftPlan.Create(h);
                HalfCos = new double[h];
                HalfSin = new double[h];
                for (int k = 0; k < h; k++)
                {
                    // w^k = e^{−2πik/n} = HalfCos + i·HalfSin.
                    (HalfSin[k], HalfCos[k]) = Math.SinCos(-2 * Math.PI * k / n);
                }

                Cos = new double[n];
                Sin = new double[n];
                for (int k = 0; k < n; k++)
                {
                    (Sin[k], Cos[k]) = Math.SinCos(Math.PI * k / (2.0 * n));
                }

                return;
            }

            Fft = FftPlan.Create(n);
            Cos = new double[n];
            Sin = new double[n];
            for (int k = 0; k < n; k++)
            {
                // e^{−iπk/2n} = cos − i·sin, from the exact phase k/(4n) of a full turn.
                (Sin[k], Cos[k]) = Math.SinCos(Math.PI * k / (2.0 * n));
            }
        }

        public FftPlan? Fft { get; }

        public FftPlan? HalfFft { get; }

        public double[]? HalfCos { get; }

        public double[]? HalfSin { get; }

        public double[] Cos { get; }

        public double[] Sin { get; }
    }
}

/// <summary>
/// A complex FFT of one length on split real/imaginary double arrays (forward sign −1, unnormalised forward).
/// Lengths whose prime factors are all ≤ 31 use a mixed-radix Stockham autosort FFT (radix 4, 2, 3, 5 and a generic
/// small-prime butterfly; no bit reversal, natural order in and out); any other length uses Bluestein's chirp-z with
/// an inner power-of-two Stockham FFT of length ≥ 2n − 1.
/// </summary>
internal sealed class FftPlan
{
    private const int LargestSmallPrime = 31;
    private static readonly ConcurrentDictionary<int, FftPlan> Cache = new();

    private readonly int _n;

    // Stockham: radix per stage and twiddles w_len^{p·t} per stage (len = the sub-length at that stage).
    private readonly int[]? _radices;
    private readonly double[][]? _twiddleRe;
    private readonly double[][]? _twiddleIm;

    // Bluestein
    private readonly FftPlan? _inner;
    private readonly double[]? _chirpRe;
    private readonly double[]? _chirpIm;
    private readonly double[]? _kernelRe;
    private readonly double[]? _kernelIm;

    private FftPlan(int n)
    {
        _n = n;
        List<int>? radices = Factor(n);
        if (radices is not null)
        {
            _radices = [.. radices];
            _twiddleRe = new double[_radices.Length][];
            _twiddleIm = new double[_radices.Length][];
            int length = n;
            for (int stage = 0; stage < _radices.Length; stage++)
            {
                int r = _radices[stage], m = length / r;
                var re = new double[m * r];
                var im = new double[m * r];
                for (int p = 0; p < m; p++)
                {
                    for (int t = 0; t < r; t++)
                    {
                        // Exact integer phase p·t mod length.
                        long phase = (long)p * t % length;
                        (im[(p * r) + t], re[(p * r) + t]) = Math.SinCos(-2 * Math.PI * phase / length);
                    }
                }

                _twiddleRe[stage] = re;
                _twiddleIm[stage] = im;
                length = m;
            }

            return;
        }

        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)((2 * n) - 1));
        _inner = Create(size);
        _chirpRe = new double[n];
        _chirpIm = new double[n];
        for (int k = 0; k < n; k++)
        {
            // w_k = e^{−iπk²/n}, with k² reduced mod 2n exactly.
            long phase = (long)k * k % (2L * n);
            (_chirpIm[k], _chirpRe[k]) = Math.SinCos(-Math.PI * phase / n);
        }

        _kernelRe = new double[size];
        _kernelIm = new double[size];
        _kernelRe[0] = _chirpRe[0];
        _kernelIm[0] = -_chirpIm[0];
        for (int k = 1; k < n; k++)
        {
            _kernelRe[k] = _kernelRe[size - k] = _chirpRe[k];
            _kernelIm[k] = _kernelIm[size - k] = -_chirpIm[k];
        }

        _inner.Forward(_kernelRe, _kernelIm);
    }

    public static FftPlan Create(int n) => FourierTransform.Bounded(Cache, n, static length => new FftPlan(length));

    internal static int CachedPlans => Cache.Count;

    /// <summary>In-place forward DFT: <c>X_k = Σ x_j e^{−2πijk/n}</c>.</summary>
    public void Forward(Span<double> re, Span<double> im)
    {
        if (_radices is not null)
        {
            Stockham(re, im);
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

    /// <summary>Radices (4s first, then 2, 3, 5, …) when every prime factor is small; null otherwise.</summary>
    private static List<int>? Factor(int n)
    {
        var radices = new List<int>();
        int rest = n;
        while (rest % 4 == 0)
        {
            radices.Add(4);
            rest /= 4;
        }

        for (int p = 2; p <= LargestSmallPrime && rest > 1; p++)
        {
            while (rest % p == 0)
            {
                radices.Add(p);
                rest /= p;
            }
        }

        return rest == 1 ? radices : null;
    }

    /// <summary>
    /// Stockham decimation in frequency: a stage of radix r on sub-length len = r·m with stride s maps
    /// <c>x[q + s(p + jm)]</c> to <c>y[q + s(rp + t)] = w_len^{pt} Σ_j x[q + s(p + jm)] w_r^{jt}</c>; after all stages
    /// the result is in natural order.
    /// </summary>
    private void Stockham(Span<double> re, Span<double> im)
    {
        int n = _n;
        if (n == 1)
        {
            return;
        }

        double[] bufferRe = ArrayPool<double>.Shared.Rent(n);
        double[] bufferIm = ArrayPool<double>.Shared.Rent(n);
        try
        {
            Span<double> xr = re, xi = im, yr = bufferRe.AsSpan(0, n), yi = bufferIm.AsSpan(0, n);
            int stride = 1, length = n;
            bool inBuffer = false;
            for (int stage = 0; stage < _radices!.Length; stage++)
            {
                int r = _radices[stage], m = length / r;
                double[] wr = _twiddleRe![stage], wi = _twiddleIm![stage];
                switch (r)
                {
                    case 4:
                        Radix4(xr, xi, yr, yi, m, stride, wr, wi);
                        break;
                    case 2:
                        Radix2(xr, xi, yr, yi, m, stride, wr, wi);
                        break;
                    default:
                        RadixGeneric(xr, xi, yr, yi, r, m, stride, wr, wi);
                        break;
                }

                Span<double> tr = xr, ti = xi;
                xr = yr;
                xi = yi;
                yr = tr;
                yi = ti;
                inBuffer = !inBuffer;
                stride *= r;
                length = m;
            }

            if (inBuffer)
            {
                xr.CopyTo(re);
                xi.CopyTo(im);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(bufferRe);
            ArrayPool<double>.Shared.Return(bufferIm);
        }
    }

    private static void Radix2(ReadOnlySpan<double> xr, ReadOnlySpan<double> xi, Span<double> yr, Span<double> yi, int m, int s, double[] wr, double[] wi)
    {
        for (int p = 0; p < m; p++)
        {
            double w1r = wr[(p * 2) + 1], w1i = wi[(p * 2) + 1];
            int a = s * p, b = s * (p + m), o0 = s * 2 * p, o1 = o0 + s;
            for (int q = 0; q < s; q++)
            {
                double ar = xr[a + q], ai = xi[a + q], br = xr[b + q], bi = xi[b + q];
                yr[o0 + q] = ar + br;
                yi[o0 + q] = ai + bi;
                double dr = ar - br, di = ai - bi;
                yr[o1 + q] = (dr * w1r) - (di * w1i);
                yi[o1 + q] = (dr * w1i) + (di * w1r);
            }
        }
    }

    private static void Radix4(ReadOnlySpan<double> xr, ReadOnlySpan<double> xi, Span<double> yr, Span<double> yi, int m, int s, double[] wr, double[] wi)
    {
        for (int p = 0; p < m; p++)
        {
            double w1r = wr[(p * 4) + 1], w1i = wi[(p * 4) + 1];
            double w2r = wr[(p * 4) + 2], w2i = wi[(p * 4) + 2];
            double w3r = wr[(p * 4) + 3], w3i = wi[(p * 4) + 3];
            int i0 = s * p, i1 = s * (p + m), i2 = s * (p + (2 * m)), i3 = s * (p + (3 * m));
            int o0 = s * 4 * p, o1 = o0 + s, o2 = o1 + s, o3 = o2 + s;
            for (int q = 0; q < s; q++)
            {
                double a0r = xr[i0 + q], a0i = xi[i0 + q], a1r = xr[i1 + q], a1i = xi[i1 + q];
                double a2r = xr[i2 + q], a2i = xi[i2 + q], a3r = xr[i3 + q], a3i = xi[i3 + q];
                double s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i;
                double s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i;

                // t = 1: a0 − i·a1 − a2 + i·a3 = d02 − i·d13; t = 3: d02 + i·d13.
                double b1r = d02r + d13i, b1i = d02i - d13r;
                double b2r = s02r - s13r, b2i = s02i - s13i;
                double b3r = d02r - d13i, b3i = d02i + d13r;
                yr[o0 + q] = s02r + s13r;
                yi[o0 + q] = s02i + s13i;
                yr[o1 + q] = (b1r * w1r) - (b1i * w1i);
                yi[o1 + q] = (b1r * w1i) + (b1i * w1r);
                yr[o2 + q] = (b2r * w2r) - (b2i * w2i);
                yi[o2 + q] = (b2r * w2i) + (b2i * w2r);
                yr[o3 + q] = (b3r * w3r) - (b3i * w3i);
                yi[o3 + q] = (b3r * w3i) + (b3i * w3r);
            }
        }
    }

    private static void RadixGeneric(ReadOnlySpan<double> xr, ReadOnlySpan<double> xi, Span<double> yr, Span<double> yi, int r, int m, int s, double[] wr, double[] wi)
    {
        Span<double> cr = stackalloc double[r * r];
        Span<double> ci = stackalloc double[r * r];
        for (int j = 0; j < r; j++)
        {
            for (int t = 0; t < r; t++)
            {
                (ci[(j * r) + t], cr[(j * r) + t]) = Math.SinCos(-2 * Math.PI * (j * t % r) / r);
            }
        }

        Span<double> ar = stackalloc double[r];
        Span<double> ai = stackalloc double[r];
        for (int p = 0; p < m; p++)
        {
            for (int q = 0; q < s; q++)
            {
                for (int j = 0; j < r; j++)
                {
                    int index = (s * (p + (j * m))) + q;
                    ar[j] = xr[index];
                    ai[j] = xi[index];
                }

                for (int t = 0; t < r; t++)
                {
                    double sr = 0, si = 0;
                    for (int j = 0; j < r; j++)
                    {
                        double c = cr[(j * r) + t], d = ci[(j * r) + t];
                        sr += (ar[j] * c) - (ai[j] * d);
                        si += (ar[j] * d) + (ai[j] * c);
                    }

                    double twr = wr[(p * r) + t], twi = wi[(p * r) + t];
                    int output = (s * ((r * p) + t)) + q;
                    yr[output] = (sr * twr) - (si * twi);
                    yi[output] = (sr * twi) + (si * twr);
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
}
