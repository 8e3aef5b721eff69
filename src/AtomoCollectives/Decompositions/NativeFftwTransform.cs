using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// The orthonormal DCT-II/III on single-precision FFTW's real-input DFT, by Makhoul's reordering (as the managed
/// <see cref="FourierTransform"/>): DCT-II = v (even-indexed samples, then the odd ones reversed) → r2c FFT →
/// <c>X_k = s_k·Re(e^{−iπk/2n}·V_k)</c>, <c>X_{n−k} = s_{n−k}·Re(e^{−iπ(n−k)/2n}·conj V_k)</c> for k ≤ n/2; DCT-III the
/// reverse through a c2r FFT, with the orthonormal scaling and c2r's factor n folded into its input.
/// <para>
/// Why not FFTW's own DCTs (<c>fftwf_plan_r2r_1d</c>, REDFT10/REDFT01): measured here at n = 2,359,296 (512·4608),
/// REDFT01 executes in 150–490 ms with <c>FFTW_ESTIMATE</c> and in 23 ms only after <c>FFTW_MEASURE</c> planning of
/// 455 s; the r2c plan executes in 10 ms (7.6 ms measured) after 17 ms of <c>FFTW_ESTIMATE</c> planning
/// (docs/determinism.md, docs/benchmarks.md).
/// </para>
/// <para>
/// Plans: <c>FFTW_ESTIMATE</c> on purpose. <c>FFTW_MEASURE</c> times candidates (seconds per large length, under the
/// planner lock) and picks by timing, so the same machine could pick another plan on another run and encode other
/// bits, and ranks would pick different decode plans. The forward plan may use FFTW's SIMD codelets (the encoder is
/// local: only its payload leaves the rank). The inverse is the decoder, which every rank runs on every payload and
/// must agree on bit for bit: FFTW picks SIMD codelets by the CPU it runs on and those round differently, so the
/// inverse is planned with <c>FFTW_NO_SIMD</c>: the scalar codelets (compiled for the x86-64 baseline, no FMA) and a
/// cost-model plan that depends only on n. The O(n) steps around the FFT are scalar float arithmetic in a fixed order
/// with twiddles from <see cref="QuarterTurn"/> (no libm, whose sin/cos have per-CPU variants).
/// </para>
/// <para>
/// FFTW's planner and <c>fftwf_destroy_plan</c> are not thread-safe: both run under one process-wide lock. Executes run
/// concurrently on per-call scratch that is 64-byte aligned and out of place like the arrays every plan is made with
/// (FFTW requires a new-array execute to keep the plan's alignment and placement). The plan cache is an LRU of at most
/// <see cref="PlanCapacity"/> plans (each with its twiddle table); an evicted plan still in use is destroyed by its
/// last user.
/// </para>
/// </summary>
internal sealed unsafe class NativeFftwTransform : IFourierTransform
{
    /// <summary>Plans kept (forward and inverse of a length count as two): a model has a few dozen distinct lengths at most.</summary>
    internal const int PlanCapacity = 64;

    private const nuint Alignment = 64;

    private static readonly Lock Planner = new();
    private static readonly Dictionary<(int Length, bool Inverse, uint Flags), Plan> Plans = [];
    private static readonly LinkedList<Plan> Recent = new();
    private static readonly Stack<Scratch> FreeScratch = new();
    private static NativeFftwTransform? _instance;

    private NativeFftwTransform(string file) => Name = $"native (FFTW {Interop.FftwLibrary.Version}, {file})";

    public string Name { get; }

    public string DecodeKernel => $"{Interop.FftwLibrary.Version} c2r FFTW_ESTIMATE|FFTW_NO_SIMD, Makhoul DCT-III in scalar float";

    /// <summary>Plans in the cache now (for the tests of the bound).</summary>
    internal static int CachedPlans
    {
        get
        {
            lock (Planner)
            {
                return Plans.Count;
            }
        }
    }

    /// <summary>Loads FFTW (<paramref name="path"/> or the system default) and returns the process's one instance, or null with the reason.</summary>
    internal static NativeFftwTransform? TryCreate(string? path, out string error)
    {
        if (!Interop.FftwLibrary.TryLoad(path, out error))
        {
            return null;
        }

        lock (Planner)
        {
            return _instance ??= new NativeFftwTransform(string.IsNullOrEmpty(path) ? Interop.Libraries.FftwDefaultFile : path);
        }
    }

    public void Forward(ReadOnlySpan<float> x, Span<float> coefficients)
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

        Scratch scratch = RentScratch(n);
        Plan plan = RentPlan(n, inverse: false, Interop.FftwEstimate, scratch);
        try
        {
            // The input is scaled by 1/√(2n) on the way in, so no partial sum of the FFT exceeds ‖x‖/√2 (float's range
            // holds whatever the orthonormal coefficients hold); then X_0 = √2·V_0 and X_k = 2·Re(e^{−iπk/2n}·V_k).
            float* v = scratch.Real, z = scratch.Complex;
            float scale = (float)Math.Sqrt(0.5 / n);
            int half = (n + 1) / 2;
            for (int j = 0; j < half; j++)
            {
                v[j] = x[2 * j] * scale;
            }

            for (int j = 0; j < n / 2; j++)
            {
                v[n - 1 - j] = x[(2 * j) + 1] * scale;
            }

            Interop.fftwf_execute_dft_r2c(plan.Handle, v, z);
            float[] w = plan.Twiddles;
            coefficients[0] = z[0] * (float)Math.Sqrt(2.0);
            for (int k = 1; k <= n / 2; k++)
            {
                float re = z[2 * k], im = z[(2 * k) + 1], cos = w[2 * k], sin = w[(2 * k) + 1];
                coefficients[k] = ((re * cos) + (im * sin)) * 2;
                if (n - k != k)
                {
                    coefficients[n - k] = ((re * sin) - (im * cos)) * 2;
                }
            }
        }
        finally
        {
            ReturnPlan(plan);
            ReturnScratch(scratch);
        }
    }

    public void Inverse(ReadOnlySpan<float> coefficients, Span<float> x) => Inverse(coefficients, x, Interop.FftwEstimate | Interop.FftwNoSimd);

    /// <summary>The inverse with other plan flags: only to measure what <c>FFTW_NO_SIMD</c> costs and buys (docs/determinism.md).</summary>
    internal void Inverse(ReadOnlySpan<float> coefficients, Span<float> x, uint flags)
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

        Scratch scratch = RentScratch(n);
        Plan plan = RentPlan(n, inverse: true, flags, scratch);
        try
        {
            // V_k = e^{iπk/2n}·(Y_k − i·Y_{n−k}) with Y the unnormalised DCT-II (Y_n = 0) divided by n for c2r:
            // Y_0 = X_0·√n / n, Y_k = X_k·√(n/2) / n.
            float* z = scratch.Complex, v = scratch.Real;
            float[] w = plan.Twiddles;
            float rest = (float)Math.Sqrt(0.5 / n);
            z[0] = coefficients[0] * (float)Math.Sqrt(1.0 / n);
            z[1] = 0;
            for (int k = 1; k <= n / 2; k++)
            {
                float a = coefficients[k] * rest, b = coefficients[n - k] * rest, cos = w[2 * k], sin = w[(2 * k) + 1];
                z[2 * k] = (a * cos) + (b * sin);
                z[(2 * k) + 1] = (a * sin) - (b * cos);
            }

            Interop.fftwf_execute_dft_c2r(plan.Handle, z, v);
            int half = (n + 1) / 2;
            for (int j = 0; j < half; j++)
            {
                x[2 * j] = v[j];
            }

            for (int j = 0; j < n / 2; j++)
            {
                x[(2 * j) + 1] = v[n - 1 - j];
            }
        }
        finally
        {
            ReturnPlan(plan);
            ReturnScratch(scratch);
        }
    }

    /// <summary>
    /// cos and sin of πk/2n for k = 0 … n/2 (angles in [0, π/4]), interleaved, as floats, from
    /// <see cref="DeterministicTrig"/>: the same bits on every CPU.
    /// </summary>
    internal static float[] QuarterTurn(int n)
    {
        var table = new float[2 * ((n / 2) + 1)];
        for (int k = 0; k <= n / 2; k++)
        {
            (double cos, double sin) = DeterministicTrig.CosSin(Math.PI * k / (2.0 * n));
            table[2 * k] = (float)cos;
            table[(2 * k) + 1] = (float)sin;
        }

        return table;
    }

    private static Plan RentPlan(int n, bool inverse, uint flags, Scratch scratch)
    {
        lock (Planner)
        {
            if (Plans.TryGetValue((n, inverse, flags), out Plan? plan))
            {
                Recent.Remove(plan.Node);
                Recent.AddFirst(plan.Node);
            }
            else
            {
                // Out of place on 64-byte aligned memory, as every execute will be. FFTW_ESTIMATE does not touch the arrays.
                nint handle = inverse
                    ? Interop.fftwf_plan_dft_c2r_1d(n, scratch.Complex, scratch.Real, flags)
                    : Interop.fftwf_plan_dft_r2c_1d(n, scratch.Real, scratch.Complex, flags);
                if (handle == 0)
                {
                    throw new InvalidOperationException($"FFTW could not plan a real {(inverse ? "inverse" : "forward")} DFT of length {n}.");
                }

                plan = new Plan((n, inverse, flags), handle, QuarterTurn(n));
                Plans[plan.Key] = plan;
                Recent.AddFirst(plan.Node);
                while (Plans.Count > PlanCapacity)
                {
                    Plan oldest = Recent.Last!.Value;
                    Recent.RemoveLast();
                    Plans.Remove(oldest.Key);
                    oldest.Evicted = true;
                    if (oldest.Users == 0)
                    {
                        Interop.fftwf_destroy_plan(oldest.Handle);
                    }
                }
            }

            plan.Users++;
            return plan;
        }
    }

    private static void ReturnPlan(Plan plan)
    {
        lock (Planner)
        {
            if (--plan.Users == 0 && plan.Evicted)
            {
                Interop.fftwf_destroy_plan(plan.Handle);
            }
        }
    }

    /// <summary>Aligned scratch for length <paramref name="n"/> (a real and a complex array); at most one pooled scratch per core is kept.</summary>
    private static Scratch RentScratch(int n)
    {
        Scratch? scratch = null;
        lock (FreeScratch)
        {
            FreeScratch.TryPop(out scratch);
        }

        scratch ??= new Scratch();
        if (scratch.Capacity < n)
        {
            NativeMemory.AlignedFree(scratch.Real);
            scratch.Real = null;
            scratch.Capacity = 0;

            // n reals, padded to 64 bytes, then n/2 + 1 complex values.
            long padded = (n + 15L) & ~15L;
            scratch.Real = (float*)NativeMemory.AlignedAlloc((nuint)(padded + n + 2) * sizeof(float), Alignment);
            scratch.Capacity = n;
        }

        scratch.Complex = scratch.Real + ((n + 15L) & ~15L);
        return scratch;
    }

    private static void ReturnScratch(Scratch scratch)
    {
        lock (FreeScratch)
        {
            if (FreeScratch.Count < Environment.ProcessorCount)
            {
                FreeScratch.Push(scratch);
                return;
            }
        }

        NativeMemory.AlignedFree(scratch.Real);
    }

    private sealed class Plan
    {
        public Plan((int, bool, uint) key, nint handle, float[] twiddles)
        {
            Key = key;
            Handle = handle;
            Twiddles = twiddles;
            Node = new LinkedListNode<Plan>(this);
        }

        public (int Length, bool Inverse, uint Flags) Key { get; }

        /// <summary><see cref="QuarterTurn"/> of the length.</summary>
        public float[] Twiddles { get; }

        public nint Handle { get; }

        public LinkedListNode<Plan> Node { get; }

        public int Users { get; set; }

        public bool Evicted { get; set; }
    }

    private sealed class Scratch
    {
        public float* Real;
        public float* Complex;
        public int Capacity;
    }
}
