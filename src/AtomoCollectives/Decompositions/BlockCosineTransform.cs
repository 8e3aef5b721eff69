using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// The orthonormal DCT-II of a flattened tensor cut into blocks (the Fourier atoms of
/// <see cref="AtomoOptions.FourierBlockLength"/>), and its inverse, the orthonormal DCT-III. The tensor is cut into
/// ⌊n/B⌋ blocks of B consecutive elements, then its last n mod B elements into blocks of the powers of two in that
/// number, largest first (n = 2·32 + 10 with B = 32: 32, 32, 8, 2); every block gets its own orthonormal DCT-II, so the
/// whole is an orthonormal basis of the tensor.
/// <para>
/// Each block is transformed with Lee's recursive fast DCT (1984): (B/2)·log₂B multiplications and about
/// (3B/2)·log₂B additions, against ~5·log₂n flops per element for a full-length FFT, so the transform costs about one
/// read and one write of the tensor. Eight blocks run at once, one per lane of a <see cref="Vector256{T}"/>, each lane
/// doing exactly the scalar algorithm's additions and multiplications in the same order (no fused multiply-add, which
/// .NET never forms by itself): a lane's bits do not depend on its neighbours, on the vector width the hardware has
/// (AVX-512, AVX, SSE, or .NET's software vectors) or on which lane a block lands in, so the inverse is the same on every
/// CPU and serves as the decode kernel. Its constants come from <see cref="DeterministicTrig"/>. The kernels are compiled
/// fully optimised at once (AggressiveOptimization), as <see cref="ThinKernels"/> are: a step calls each only a few times.
/// </para>
/// <para>
/// Float error: the multipliers 1/(2cos((i+½)π/n)) reach n/π, so the error grows with B: 0.9e-7·‖x‖ at B = 8,
/// 2.7e-7·‖x‖ at B = 32, 2.2e-6·‖x‖ at B = 1024, measured against a double DCT (BlockCosineTransformTests states the bound).
/// </para>
/// </summary>
internal static class BlockCosineTransform
{
    /// <summary>The shortest block length <see cref="AtomoOptions.FourierBlockLength"/> accepts (the tail's blocks may be shorter).</summary>
    internal const int MinimumBlockLength = 8;

    /// <summary>The longest block length accepted.</summary>
    internal const int MaximumBlockLength = 1024;

    /// <summary>The decode kernel's name, for the ranks' agreement hash: any change to its arithmetic must change it.</summary>
    internal const string DecodeKernel = "Lee DCT-III on blocks, 8 lanes, float, no FMA, v1";

    /// <summary>
    /// Values of at most this magnitude (2⁶⁰) cannot make any value of <see cref="Forward"/> or <see cref="Inverse"/>
    /// overflow, intermediate or final, for any block length up to 1024. With inputs at most μ, a length-n inverse's
    /// values are at most c_n·μ with c_1 = 1 and c_n = c_{n/2}·(1 + 2n/π) (its A half, plus the multiplier ≤ n/π times
    /// its B half, whose inputs are sums of two), c_1024 &lt; 2⁵¹; a forward's, with c_n = c_{n/2}·4n/π (halves fed sums
    /// and multiplied differences, outputs sums of two), c_1024 &lt; 2⁵⁹. Either stays below 2¹¹⁹ &lt; float.MaxValue.
    /// The decoder then needs no overflow scan; the encoder rescales blocks above it (<see cref="ForwardRangeSafe"/>).
    /// </summary>
    internal const float OverflowFreeMagnitude = 1L << 60;

    /// <summary>Blocks transformed side by side: fixed, not the hardware's vector width, so that the bits are too.</summary>
    private const int Lanes = 8;

    /// <summary>Floats per chunk of blocks transformed together (the chunk and its scratch stay in L1/L2).</summary>
    private const int ChunkFloats = 2048;

    /// <summary>Multipliers 1/(2cos((i+½)π/n)) of Lee's step for n = 2^k, at index k, as floats.</summary>
    private static readonly float[][] Multipliers = BuildMultipliers();

    /// <summary>True when <paramref name="length"/> is a block length <see cref="AtomoOptions.FourierBlockLength"/> accepts.</summary>
    internal static bool IsValidBlockLength(int length) =>
        length is >= MinimumBlockLength and <= MaximumBlockLength && (length & (length - 1)) == 0;

    /// <summary>Orthonormal DCT-II of each block of <paramref name="x"/> into <paramref name="coefficients"/> (same layout).</summary>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="blockLength"/> is not valid.</exception>
    public static void Forward(ReadOnlySpan<float> x, Span<float> coefficients, int blockLength) =>
        Run(x, coefficients, blockLength, inverse: false);

    /// <summary>Orthonormal DCT-III of each block of <paramref name="coefficients"/> into <paramref name="x"/>: the decode kernel.</summary>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="blockLength"/> is not valid.</exception>
    public static void Inverse(ReadOnlySpan<float> coefficients, Span<float> x, int blockLength) =>
        Run(coefficients, x, blockLength, inverse: true);

    /// <summary>
    /// <see cref="Forward"/> for inputs of any finite magnitude: a block whose largest entry exceeds
    /// <see cref="OverflowFreeMagnitude"/> is transformed scaled by a power of two 2⁻ᵉ and its coefficients scaled back
    /// by 2ᵉ (exact), so only coefficients that float cannot hold come out infinite. Blocks are scaled one by one, so
    /// small entries elsewhere in the tensor are not flushed to zero. Costs a read of the tensor more.
    /// </summary>
    internal static void ForwardRangeSafe(ReadOnlySpan<float> x, Span<float> coefficients, int blockLength) =>
        RunRangeSafe(x, coefficients, blockLength, inverse: false);

    /// <summary><see cref="Inverse"/> for coefficients of any finite magnitude, as <see cref="ForwardRangeSafe"/>; the scaling depends only on the coefficients, so every rank gets the same bits.</summary>
    internal static void InverseRangeSafe(ReadOnlySpan<float> coefficients, Span<float> x, int blockLength) =>
        RunRangeSafe(coefficients, x, blockLength, inverse: true);

    private static void RunRangeSafe(ReadOnlySpan<float> source, Span<float> destination, int blockLength, bool inverse)
    {
        Run(source, destination, blockLength, inverse);
        float[]? scratch = null;
        try
        {
            foreach ((int offset, int length) in Blocks(source.Length, blockLength))
            {
                ReadOnlySpan<float> block = source.Slice(offset, length);
                float largest = Math.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(block));
                if (largest <= OverflowFreeMagnitude || !float.IsFinite(largest))
                {
                    continue;
                }

                scratch ??= ArrayPool<float>.Shared.Rent(blockLength);
                int exponent = Math.ILogB(largest) + 1;
                Span<float> scaled = scratch.AsSpan(0, length);
                for (int i = 0; i < length; i++)
                {
                    scaled[i] = MathF.ScaleB(block[i], -exponent);
                }

                Span<float> result = destination.Slice(offset, length);
                TransformBlocks(scaled, result, length, inverse);
                for (int i = 0; i < length; i++)
                {
                    result[i] = MathF.ScaleB(result[i], exponent);
                }
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>The blocks of a tensor of <paramref name="length"/> elements, in order: (offset, length) each.</summary>
    internal static IEnumerable<(int Offset, int Length)> Blocks(int length, int blockLength)
    {
        int offset = 0;
        for (; offset + blockLength <= length; offset += blockLength)
        {
            yield return (offset, blockLength);
        }

        for (int tail = blockLength / 2; tail >= 1; tail /= 2)
        {
            if (((length - offset) & tail) != 0)
            {
                yield return (offset, tail);
                offset += tail;
            }
        }
    }

    private static void Run(ReadOnlySpan<float> source, Span<float> destination, int blockLength, bool inverse)
    {
        if (!IsValidBlockLength(blockLength))
        {
            throw new ArgumentException($"The block length must be a power of two from {MinimumBlockLength} to {MaximumBlockLength}; {blockLength} is not.", nameof(blockLength));
        }

        if (source.Length != destination.Length)
        {
            throw new ArgumentException($"The destination has {destination.Length} elements, the source {source.Length}.", nameof(destination));
        }

        // The full blocks, then the tail's power-of-two blocks (each alone: fewer than eight, and all different lengths).
        int full = source.Length / blockLength * blockLength;
        TransformBlocks(source[..full], destination[..full], blockLength, inverse);
        int offset = full;
        for (int tail = blockLength / 2; tail >= 1; tail /= 2)
        {
            if (((source.Length - offset) & tail) != 0)
            {
                TransformBlocks(source.Slice(offset, tail), destination.Slice(offset, tail), tail, inverse);
                offset += tail;
            }
        }
    }

    /// <summary>Transforms consecutive blocks of <paramref name="length"/> (the spans hold a whole number of them), a chunk at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformBlocks(ReadOnlySpan<float> source, Span<float> destination, int length, bool inverse)
    {
        int blocks = source.Length / length;
        if (blocks == 0)
        {
            return;
        }

        int groupsPerChunk = Math.Max(1, ChunkFloats / (Lanes * length));
        int chunkVectors = groupsPerChunk * length;
        Vector256<float>[] rented = ArrayPool<Vector256<float>>.Shared.Rent(2 * chunkVectors);
        try
        {
            Span<Vector256<float>> work = rented.AsSpan(0, chunkVectors), scratch = rented.AsSpan(chunkVectors, chunkVectors);
            for (int first = 0; first < blocks; first += groupsPerChunk * Lanes)
            {
                int count = Math.Min(groupsPerChunk * Lanes, blocks - first);
                int groups = (count + Lanes - 1) / Lanes;
                Span<Vector256<float>> v = work[..(groups * length)], t = scratch[..(groups * length)];
                Gather(source.Slice(first * length, count * length), length, count, groups, v);
                if (inverse)
                {
                    InverseLee(v, t, length, groups, scaled: true);
                }
                else
                {
                    ForwardLee(v, t, length, groups, scaled: true);
                }

                Scatter(v, destination.Slice(first * length, count * length), length, count, groups);
            }
        }
        finally
        {
            ArrayPool<Vector256<float>>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Unnormalised DCT-II <c>X_k = Σ_j x_j cos(π(2j+1)k/2n)</c> of every lane; element j of group g is at
    /// <c>v[j·groups + g]</c>. Lee: a_j = x_j + x_{n−1−j}, b_j = (x_j − x_{n−1−j})·m_j for j &lt; n/2, then
    /// X_{2k} = A_k and X_{2k+1} = B_k + B_{k+1} (B_{n/2} = 0). <paramref name="t"/> is scratch of the same size.
    /// Length 8 runs in registers (<see cref="Forward8"/>, the same operations in the same order).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardLee(Span<Vector256<float>> v, Span<Vector256<float>> t, int n, int groups, bool scaled = false)
    {
        if (n is 1 or 8)
        {
            if (n == 8)
            {
                Forward8(ref MemoryMarshal.GetReference(v), groups);
            }

            if (scaled)
            {
                Scale(v, n, groups);
            }

            return;
        }

        int half = n / 2;
        ref Vector256<float> vr = ref MemoryMarshal.GetReference(v), tr = ref MemoryMarshal.GetReference(t);
        float[] multipliers = Multipliers[Log2(n)];
        for (int i = 0; i < half; i++)
        {
            var m = Vector256.Create(multipliers[i]);
            ref Vector256<float> x = ref Unsafe.Add(ref vr, i * groups), y = ref Unsafe.Add(ref vr, (n - 1 - i) * groups);
            ref Vector256<float> a = ref Unsafe.Add(ref tr, i * groups), b = ref Unsafe.Add(ref tr, (half + i) * groups);
            for (int g = 0; g < groups; g++)
            {
                Vector256<float> xg = Unsafe.Add(ref x, g), yg = Unsafe.Add(ref y, g);
                Unsafe.Add(ref a, g) = xg + yg;
                Unsafe.Add(ref b, g) = (xg - yg) * m;
            }
        }

        // The halves are transformed in place in t, with v (no longer needed) as their scratch.
        ForwardLee(t[..(half * groups)], v[..(half * groups)], half, groups);
        ForwardLee(t.Slice(half * groups, half * groups), v.Slice(half * groups, half * groups), half, groups);
        // The orthonormal scaling, when asked, is applied here to each output as it is formed (the same product as a pass after).
        (Vector256<float> first, Vector256<float> rest) = scaled ? Scales(n) : (Vector256<float>.One, Vector256<float>.One);
        for (int i = 0; i < half; i++)
        {
            ref Vector256<float> even = ref Unsafe.Add(ref vr, 2 * i * groups), odd = ref Unsafe.Add(ref vr, ((2 * i) + 1) * groups);
            ref Vector256<float> a = ref Unsafe.Add(ref tr, i * groups), b = ref Unsafe.Add(ref tr, (half + i) * groups);
            Vector256<float> evenScale = i == 0 ? first : rest;
            if (i + 1 < half)
            {
                ref Vector256<float> next = ref Unsafe.Add(ref tr, (half + i + 1) * groups);
                for (int g = 0; g < groups; g++)
                {
                    Unsafe.Add(ref even, g) = Unsafe.Add(ref a, g) * evenScale;
                    Unsafe.Add(ref odd, g) = (Unsafe.Add(ref b, g) + Unsafe.Add(ref next, g)) * rest;
                }
            }
            else
            {
                for (int g = 0; g < groups; g++)
                {
                    Unsafe.Add(ref even, g) = Unsafe.Add(ref a, g) * evenScale;
                    Unsafe.Add(ref odd, g) = Unsafe.Add(ref b, g) * rest;
                }
            }
        }
    }

    /// <summary>The multipliers of lengths 8, 4 and 2 that <see cref="Forward8"/> and <see cref="Inverse8"/> keep in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> M80, Vector256<float> M81, Vector256<float> M82, Vector256<float> M83, Vector256<float> M40, Vector256<float> M41, Vector256<float> M20) EightPointMultipliers()
    {
        float[] m8 = Multipliers[3], m4 = Multipliers[2], m2 = Multipliers[1];
        return (Vector256.Create(m8[0]), Vector256.Create(m8[1]), Vector256.Create(m8[2]), Vector256.Create(m8[3]), Vector256.Create(m4[0]), Vector256.Create(m4[1]), Vector256.Create(m2[0]));
    }

    /// <summary><see cref="ForwardLee"/> of length 8 with the lanes of each group in registers: the recursion written out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward8(ref Vector256<float> v, int groups)
    {
        (Vector256<float> m80, Vector256<float> m81, Vector256<float> m82, Vector256<float> m83, Vector256<float> m40, Vector256<float> m41, Vector256<float> m20) = EightPointMultipliers();
        for (int g = 0; g < groups; g++)
        {
            ref Vector256<float> x = ref Unsafe.Add(ref v, g);
            Vector256<float> x0 = x, x1 = Unsafe.Add(ref x, groups), x2 = Unsafe.Add(ref x, 2 * groups), x3 = Unsafe.Add(ref x, 3 * groups);
            Vector256<float> x4 = Unsafe.Add(ref x, 4 * groups), x5 = Unsafe.Add(ref x, 5 * groups), x6 = Unsafe.Add(ref x, 6 * groups), x7 = Unsafe.Add(ref x, 7 * groups);

            // n = 8: a (even half) and b (odd half).
            Vector256<float> a0 = x0 + x7, a1 = x1 + x6, a2 = x2 + x5, a3 = x3 + x4;
            Vector256<float> b0 = (x0 - x7) * m80, b1 = (x1 - x6) * m81, b2 = (x2 - x5) * m82, b3 = (x3 - x4) * m83;

            // n = 4 on a, then n = 2 on each half: A = DCT4(a).
            Vector256<float> aa0 = a0 + a3, aa1 = a1 + a2, ab0 = (a0 - a3) * m40, ab1 = (a1 - a2) * m41;
            Vector256<float> A0 = aa0 + aa1, A2 = (aa0 - aa1) * m20, ab0t = ab0 + ab1, ab1t = (ab0 - ab1) * m20;
            Vector256<float> A1 = ab0t + ab1t, A3 = ab1t;

            // B = DCT4(b), the same way.
            Vector256<float> ba0 = b0 + b3, ba1 = b1 + b2, bb0 = (b0 - b3) * m40, bb1 = (b1 - b2) * m41;
            Vector256<float> B0 = ba0 + ba1, B2 = (ba0 - ba1) * m20, bb0t = bb0 + bb1, bb1t = (bb0 - bb1) * m20;
            Vector256<float> B1 = bb0t + bb1t, B3 = bb1t;

            x = A0;
            Unsafe.Add(ref x, groups) = B0 + B1;
            Unsafe.Add(ref x, 2 * groups) = A1;
            Unsafe.Add(ref x, 3 * groups) = B1 + B2;
            Unsafe.Add(ref x, 4 * groups) = A2;
            Unsafe.Add(ref x, 5 * groups) = B2 + B3;
            Unsafe.Add(ref x, 6 * groups) = A3;
            Unsafe.Add(ref x, 7 * groups) = B3;
        }
    }

    /// <summary>
    /// The transpose of <see cref="ForwardLee"/>: <c>x_j = Σ_k X_k cos(π(2j+1)k/2n)</c> (unnormalised DCT-III, X_0 not
    /// halved). A_k = X_{2k}, B_k = X_{2k+1} + X_{2k−1} (X_{−1} = 0), then x_j = a_j + m_j·b_j, x_{n−1−j} = a_j − m_j·b_j.
    /// Length 8 runs in registers (<see cref="Inverse8"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InverseLee(Span<Vector256<float>> v, Span<Vector256<float>> t, int n, int groups, bool scaled = false)
    {
        if (n is 1 or 8)
        {
            if (scaled)
            {
                Scale(v, n, groups);
            }

            if (n == 8)
            {
                Inverse8(ref MemoryMarshal.GetReference(v), groups);
            }

            return;
        }

        // The orthonormal scaling, when asked, is applied to each input as it is read (the same product as a pass before).
        (Vector256<float> first, Vector256<float> rest) = scaled ? Scales(n) : (Vector256<float>.One, Vector256<float>.One);
        int half = n / 2;
        ref Vector256<float> vr = ref MemoryMarshal.GetReference(v), tr = ref MemoryMarshal.GetReference(t);
        for (int g = 0; g < groups; g++)
        {
            Unsafe.Add(ref tr, g) = Unsafe.Add(ref vr, g) * first;
            Unsafe.Add(ref tr, (half * groups) + g) = Unsafe.Add(ref vr, groups + g) * rest;
        }

        for (int i = 1; i < half; i++)
        {
            ref Vector256<float> even = ref Unsafe.Add(ref vr, 2 * i * groups);
            ref Vector256<float> before = ref Unsafe.Add(ref vr, ((2 * i) - 1) * groups), after = ref Unsafe.Add(ref vr, ((2 * i) + 1) * groups);
            ref Vector256<float> a = ref Unsafe.Add(ref tr, i * groups), b = ref Unsafe.Add(ref tr, (half + i) * groups);
            for (int g = 0; g < groups; g++)
            {
                Unsafe.Add(ref a, g) = Unsafe.Add(ref even, g) * rest;
                Unsafe.Add(ref b, g) = (Unsafe.Add(ref before, g) * rest) + (Unsafe.Add(ref after, g) * rest);
            }
        }

        InverseLee(t[..(half * groups)], v[..(half * groups)], half, groups);
        InverseLee(t.Slice(half * groups, half * groups), v.Slice(half * groups, half * groups), half, groups);
        float[] multipliers = Multipliers[Log2(n)];
        for (int i = 0; i < half; i++)
        {
            var m = Vector256.Create(multipliers[i]);
            ref Vector256<float> x = ref Unsafe.Add(ref vr, i * groups), y = ref Unsafe.Add(ref vr, (n - 1 - i) * groups);
            ref Vector256<float> a = ref Unsafe.Add(ref tr, i * groups), b = ref Unsafe.Add(ref tr, (half + i) * groups);
            for (int g = 0; g < groups; g++)
            {
                Vector256<float> ag = Unsafe.Add(ref a, g), bm = Unsafe.Add(ref b, g) * m;
                Unsafe.Add(ref x, g) = ag + bm;
                Unsafe.Add(ref y, g) = ag - bm;
            }
        }
    }

    /// <summary><see cref="InverseLee"/> of length 8 in registers: the recursion written out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Inverse8(ref Vector256<float> v, int groups)
    {
        (Vector256<float> m80, Vector256<float> m81, Vector256<float> m82, Vector256<float> m83, Vector256<float> m40, Vector256<float> m41, Vector256<float> m20) = EightPointMultipliers();
        for (int g = 0; g < groups; g++)
        {
            ref Vector256<float> x = ref Unsafe.Add(ref v, g);
            Vector256<float> X0 = x, X1 = Unsafe.Add(ref x, groups), X2 = Unsafe.Add(ref x, 2 * groups), X3 = Unsafe.Add(ref x, 3 * groups);
            Vector256<float> X4 = Unsafe.Add(ref x, 4 * groups), X5 = Unsafe.Add(ref x, 5 * groups), X6 = Unsafe.Add(ref x, 6 * groups), X7 = Unsafe.Add(ref x, 7 * groups);

            // n = 8: A = (X0, X2, X4, X6), B = (X1, X1 + X3, X3 + X5, X5 + X7); each through the n = 4 inverse.
            Vector256<float> a = InverseFour(X0, X2, X4, X6, m40, m41, m20, out Vector256<float> a1, out Vector256<float> a2, out Vector256<float> a3);
            Vector256<float> b = InverseFour(X1, X1 + X3, X3 + X5, X5 + X7, m40, m41, m20, out Vector256<float> b1, out Vector256<float> b2, out Vector256<float> b3);
            Vector256<float> s0 = b * m80, s1 = b1 * m81, s2 = b2 * m82, s3 = b3 * m83;
            x = a + s0;
            Unsafe.Add(ref x, 7 * groups) = a - s0;
            Unsafe.Add(ref x, groups) = a1 + s1;
            Unsafe.Add(ref x, 6 * groups) = a1 - s1;
            Unsafe.Add(ref x, 2 * groups) = a2 + s2;
            Unsafe.Add(ref x, 5 * groups) = a2 - s2;
            Unsafe.Add(ref x, 3 * groups) = a3 + s3;
            Unsafe.Add(ref x, 4 * groups) = a3 - s3;
        }
    }

    /// <summary>The n = 4 inverse of <see cref="InverseLee"/> (with its two n = 2 inverses) on four values; returns x_0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> InverseFour(
        Vector256<float> y0, Vector256<float> y1, Vector256<float> y2, Vector256<float> y3,
        Vector256<float> m40, Vector256<float> m41, Vector256<float> m20,
        out Vector256<float> x1, out Vector256<float> x2, out Vector256<float> x3)
    {
        // A = (y0, y2), B = (y1, y1 + y3); n = 2 inverse of (p, q): p + q·m, p − q·m.
        Vector256<float> q = y2 * m20, a0 = y0 + q, a1 = y0 - q;
        Vector256<float> r = (y1 + y3) * m20, b0 = y1 + r, b1 = y1 - r;
        Vector256<float> s0 = b0 * m40, s1 = b1 * m41;
        x3 = a0 - s0;
        x1 = a1 + s1;
        x2 = a1 - s1;
        return a0 + s0;
    }

    /// <summary>The orthonormal scaling of a length-n block: √(1/n) for k = 0, √(2/n) otherwise.</summary>
    private static (Vector256<float> First, Vector256<float> Others) Scales(int n) =>
        (Vector256.Create((float)Math.Sqrt(1.0 / n)), Vector256.Create((float)Math.Sqrt(2.0 / n)));

    /// <summary>Applies <see cref="Scales"/> to every element (after the forward, before the inverse).</summary>
    private static void Scale(Span<Vector256<float>> v, int n, int groups)
    {
        (Vector256<float> first, Vector256<float> rest) = Scales(n);
        ref Vector256<float> vr = ref MemoryMarshal.GetReference(v);
        for (int g = 0; g < groups; g++)
        {
            Unsafe.Add(ref vr, g) *= first;
        }

        for (int i = groups; i < n * groups; i++)
        {
            Unsafe.Add(ref vr, i) *= rest;
        }
    }

    /// <summary>Lane l of group g gets block g·8 + l (zeros past <paramref name="count"/>): <c>v[j·groups + g][l] = block[j]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gather(ReadOnlySpan<float> source, int length, int count, int groups, Span<Vector256<float>> v)
    {
        ref Vector256<float> vr = ref MemoryMarshal.GetReference(v);
        for (int g = 0; g < groups; g++)
        {
            if (Avx.IsSupported && length >= Lanes && (g + 1) * Lanes <= count)
            {
                // Eight blocks' elements j … j+7 as an 8×8 tile, transposed: row r of the result is element j+r of every block.
                ref float block = ref Unsafe.Add(ref MemoryMarshal.GetReference(source), g * Lanes * length);
                for (int j = 0; j < length; j += Lanes)
                {
                    ref float at = ref Unsafe.Add(ref block, j);
                    Transpose8x8(
                        Vector256.LoadUnsafe(ref at), Vector256.LoadUnsafe(ref Unsafe.Add(ref at, length)),
                        Vector256.LoadUnsafe(ref Unsafe.Add(ref at, 2 * length)), Vector256.LoadUnsafe(ref Unsafe.Add(ref at, 3 * length)),
                        Vector256.LoadUnsafe(ref Unsafe.Add(ref at, 4 * length)), Vector256.LoadUnsafe(ref Unsafe.Add(ref at, 5 * length)),
                        Vector256.LoadUnsafe(ref Unsafe.Add(ref at, 6 * length)), Vector256.LoadUnsafe(ref Unsafe.Add(ref at, 7 * length)),
                        ref Unsafe.Add(ref vr, (j * groups) + g), groups);
                }

                continue;
            }

            Span<float> lanes = MemoryMarshal.Cast<Vector256<float>, float>(v);
            for (int l = 0; l < Lanes; l++)
            {
                int b = (g * Lanes) + l;
                for (int j = 0; j < length; j++)
                {
                    lanes[(((j * groups) + g) * Lanes) + l] = b < count ? source[(b * length) + j] : 0;
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="Gather"/> for the first <paramref name="count"/> blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scatter(Span<Vector256<float>> v, Span<float> destination, int length, int count, int groups)
    {
        ref Vector256<float> vr = ref MemoryMarshal.GetReference(v);
        for (int g = 0; g < groups; g++)
        {
            if (Avx.IsSupported && length >= Lanes && (g + 1) * Lanes <= count)
            {
                // Rows j … j+7 of the group transposed back: row l of the result is block l's elements j … j+7.
                ref float block = ref Unsafe.Add(ref MemoryMarshal.GetReference(destination), g * Lanes * length);
                for (int j = 0; j < length; j += Lanes)
                {
                    ref Vector256<float> row = ref Unsafe.Add(ref vr, (j * groups) + g);
                    Transpose8x8(
                        row, Unsafe.Add(ref row, groups), Unsafe.Add(ref row, 2 * groups), Unsafe.Add(ref row, 3 * groups),
                        Unsafe.Add(ref row, 4 * groups), Unsafe.Add(ref row, 5 * groups), Unsafe.Add(ref row, 6 * groups), Unsafe.Add(ref row, 7 * groups),
                        ref Unsafe.As<float, Vector256<float>>(ref Unsafe.Add(ref block, j)), length / Lanes);
                }

                continue;
            }

            ReadOnlySpan<float> lanes = MemoryMarshal.Cast<Vector256<float>, float>(v);
            for (int l = 0; l < Lanes && (g * Lanes) + l < count; l++)
            {
                int b = (g * Lanes) + l;
                for (int j = 0; j < length; j++)
                {
                    destination[(b * length) + j] = lanes[(((j * groups) + g) * Lanes) + l];
                }
            }
        }
    }

    /// <summary>
    /// Transposes the 8×8 tile of floats in rows <paramref name="r0"/> … <paramref name="r7"/> and stores its rows at
    /// <paramref name="destination"/>, <paramref name="stride"/> vectors apart (AVX shuffles: data movement only, no arithmetic).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(
        Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        ref Vector256<float> destination, int stride)
    {
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        destination = Avx.Permute2x128(s0, s4, 0x20);
        Unsafe.Add(ref destination, stride) = Avx.Permute2x128(s1, s5, 0x20);
        Unsafe.Add(ref destination, 2 * stride) = Avx.Permute2x128(s2, s6, 0x20);
        Unsafe.Add(ref destination, 3 * stride) = Avx.Permute2x128(s3, s7, 0x20);
        Unsafe.Add(ref destination, 4 * stride) = Avx.Permute2x128(s0, s4, 0x31);
        Unsafe.Add(ref destination, 5 * stride) = Avx.Permute2x128(s1, s5, 0x31);
        Unsafe.Add(ref destination, 6 * stride) = Avx.Permute2x128(s2, s6, 0x31);
        Unsafe.Add(ref destination, 7 * stride) = Avx.Permute2x128(s3, s7, 0x31);
    }

    private static int Log2(int n) => System.Numerics.BitOperations.Log2((uint)n);

    private static float[][] BuildMultipliers()
    {
        var tables = new float[Log2(MaximumBlockLength) + 1][];
        for (int k = 0; k < tables.Length; k++)
        {
            int n = 1 << k, half = n / 2;
            tables[k] = new float[half];
            for (int i = 0; i < half; i++)
            {
                tables[k][i] = (float)(1.0 / (2.0 * DeterministicTrig.CosSin((i + 0.5) * Math.PI / n).Cos));
            }
        }

        return tables;
    }
}
