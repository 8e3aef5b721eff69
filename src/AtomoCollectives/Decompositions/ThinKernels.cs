using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// Vectorised kernels for products of a large row-major matrix G (m×n) with thin matrices (k ≤ ~16 columns).
/// Each kernel is one streaming read of G that computes all k columns at once; the thin operands stay in
/// L1/L2. OpenBLAS sgemm is several times slower than this for such shapes (it is tuned for square blocks).
/// Results depend only on the inputs (fixed operation order), not on threads or timing. The kernels are compiled fully
/// optimised at once (AggressiveOptimization): a training step calls each only a few times per tensor, so tiered
/// compilation would run them as unoptimised tier-0 code for the first hundreds of steps (measured: ~2 s of a 2-epoch
/// MLP run).
/// </summary>
internal static class ThinKernels
{
    private static int Width => Vector256<float>.Count;

    /// <summary><c>Y = G·Xᵀ</c>: <paramref name="y"/> (m×k row-major) from G (m×n) and <paramref name="xt"/> (k×n row-major).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyByTransposed(ReadOnlySpan<float> g, int m, int n, ReadOnlySpan<float> xt, int k, Span<float> y)
    {
        ref float gRef = ref MemoryMarshal.GetReference(g);
        ref float xRef = ref MemoryMarshal.GetReference(xt);
        int r = 0;
        for (; r + 1 < m; r += 2)
        {
            ref float g0 = ref Unsafe.Add(ref gRef, r * n);
            ref float g1 = ref Unsafe.Add(ref gRef, (r + 1) * n);
            for (int j = 0; j < k; j += 4)
            {
                // Rows past k repeat the last row; their results are dropped.
                ref float x0 = ref Unsafe.Add(ref xRef, j * n);
                ref float x1 = ref Unsafe.Add(ref xRef, Math.Min(j + 1, k - 1) * n);
                ref float x2 = ref Unsafe.Add(ref xRef, Math.Min(j + 2, k - 1) * n);
                ref float x3 = ref Unsafe.Add(ref xRef, Math.Min(j + 3, k - 1) * n);
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
                int c = 0;
                for (; c <= n - Width; c += Width)
                {
                    var u = Vector256.LoadUnsafe(ref g0, (nuint)c);
                    var w = Vector256.LoadUnsafe(ref g1, (nuint)c);
                    var v = Vector256.LoadUnsafe(ref x0, (nuint)c);
                    a0 = Vector256.FusedMultiplyAdd(u, v, a0);
                    b0 = Vector256.FusedMultiplyAdd(w, v, b0);
                    v = Vector256.LoadUnsafe(ref x1, (nuint)c);
                    a1 = Vector256.FusedMultiplyAdd(u, v, a1);
                    b1 = Vector256.FusedMultiplyAdd(w, v, b1);
                    v = Vector256.LoadUnsafe(ref x2, (nuint)c);
                    a2 = Vector256.FusedMultiplyAdd(u, v, a2);
                    b2 = Vector256.FusedMultiplyAdd(w, v, b2);
                    v = Vector256.LoadUnsafe(ref x3, (nuint)c);
                    a3 = Vector256.FusedMultiplyAdd(u, v, a3);
                    b3 = Vector256.FusedMultiplyAdd(w, v, b3);
                }

                float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
                float t0 = Vector256.Sum(b0), t1 = Vector256.Sum(b1), t2 = Vector256.Sum(b2), t3 = Vector256.Sum(b3);
                for (; c < n; c++)
                {
                    float u = Unsafe.Add(ref g0, c), w = Unsafe.Add(ref g1, c);
                    s0 += u * Unsafe.Add(ref x0, c);
                    t0 += w * Unsafe.Add(ref x0, c);
                    s1 += u * Unsafe.Add(ref x1, c);
                    t1 += w * Unsafe.Add(ref x1, c);
                    s2 += u * Unsafe.Add(ref x2, c);
                    t2 += w * Unsafe.Add(ref x2, c);
                    s3 += u * Unsafe.Add(ref x3, c);
                    t3 += w * Unsafe.Add(ref x3, c);
                }

                Store(y, r * k, j, k, s0, s1, s2, s3);
                Store(y, (r + 1) * k, j, k, t0, t1, t2, t3);
            }
        }

        for (; r < m; r++)
        {
            ReadOnlySpan<float> row = g.Slice(r * n, n);
            for (int j = 0; j < k; j++)
            {
                y[(r * k) + j] = Dot(row, xt.Slice(j * n, n));
            }
        }
    }

    /// <summary><c>Wᵀ = Pᵀ·G</c>: <paramref name="wt"/> (k×n row-major) from G (m×n) and <paramref name="p"/> (m×k row-major).</summary>
    public static void TransposeMultiply(ReadOnlySpan<float> g, int m, int n, ReadOnlySpan<float> p, int k, Span<float> wt)
    {
        wt[..(k * n)].Clear();
        AccumulateRows(g, 0, m, n, p, k, wt);
    }

    /// <summary>
    /// <c>wt += P[rowStart..rowEnd)ᵀ·G[rowStart..rowEnd)</c>, register-tiled: for a tile of 8 rows and a strip of 16
    /// columns, 4 sketch columns × 2 vectors of partial sums stay in registers across the 8 rows (per row: 2 loads of
    /// G, 4 broadcasts of P, 8 FMAs), and are added to <paramref name="wt"/> once per tile. Accumulating into
    /// <paramref name="wt"/> row by row instead reloads and stores it for every row, which made this pass L2-bound.
    /// Tiles of 8 rows, not more: rows of a matrix whose width is a multiple of 512 floats fall into the same few L1
    /// sets, and 16 such rows evicted each other before the second group of sketch columns reread them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateRows(ReadOnlySpan<float> g, int rowStart, int rowEnd, int n, ReadOnlySpan<float> p, int k, Span<float> wt)
    {
        const int RowTile = 8;
        const int Strip = 2 * 8;
        ref float gRef = ref MemoryMarshal.GetReference(g);
        ref float pRef = ref MemoryMarshal.GetReference(p);
        ref float wRef = ref MemoryMarshal.GetReference(wt);
        for (int r0 = rowStart; r0 < rowEnd; r0 += RowTile)
        {
            int r1 = Math.Min(rowEnd, r0 + RowTile);
            int c = 0;
            for (; c + Strip <= n; c += Strip)
            {
                for (int j = 0; j < k; j += 4)
                {
                    // Sketch columns past k repeat the last one; their sums are not stored.
                    int j1 = Math.Min(j + 1, k - 1), j2 = Math.Min(j + 2, k - 1), j3 = Math.Min(j + 3, k - 1);
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
                    for (int r = r0; r < r1; r++)
                    {
                        ref float row = ref Unsafe.Add(ref gRef, (r * n) + c);
                        ref float pr = ref Unsafe.Add(ref pRef, r * k);
                        var x = Vector256.LoadUnsafe(ref row);
                        var y = Vector256.LoadUnsafe(ref row, (nuint)Width);
                        var q = Vector256.Create(Unsafe.Add(ref pr, j));
                        a0 = Vector256.FusedMultiplyAdd(q, x, a0);
                        b0 = Vector256.FusedMultiplyAdd(q, y, b0);
                        q = Vector256.Create(Unsafe.Add(ref pr, j1));
                        a1 = Vector256.FusedMultiplyAdd(q, x, a1);
                        b1 = Vector256.FusedMultiplyAdd(q, y, b1);
                        q = Vector256.Create(Unsafe.Add(ref pr, j2));
                        a2 = Vector256.FusedMultiplyAdd(q, x, a2);
                        b2 = Vector256.FusedMultiplyAdd(q, y, b2);
                        q = Vector256.Create(Unsafe.Add(ref pr, j3));
                        a3 = Vector256.FusedMultiplyAdd(q, x, a3);
                        b3 = Vector256.FusedMultiplyAdd(q, y, b3);
                    }

                    AddTo(ref Unsafe.Add(ref wRef, (j * n) + c), a0, b0);
                    if (j + 1 < k)
                    {
                        AddTo(ref Unsafe.Add(ref wRef, (j1 * n) + c), a1, b1);
                    }

                    if (j + 2 < k)
                    {
                        AddTo(ref Unsafe.Add(ref wRef, (j2 * n) + c), a2, b2);
                    }

                    if (j + 3 < k)
                    {
                        AddTo(ref Unsafe.Add(ref wRef, (j3 * n) + c), a3, b3);
                    }
                }
            }

            for (; c < n; c++)
            {
                for (int j = 0; j < k; j++)
                {
                    float sum = 0;
                    for (int r = r0; r < r1; r++)
                    {
                        sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref pRef, (r * k) + j), Unsafe.Add(ref gRef, (r * n) + c), sum);
                    }

                    Unsafe.Add(ref wRef, (j * n) + c) += sum;
                }
            }
        }
    }

    private static void AddTo(ref float destination, Vector256<float> low, Vector256<float> high)
    {
        (Vector256.LoadUnsafe(ref destination) + low).StoreUnsafe(ref destination);
        (Vector256.LoadUnsafe(ref destination, (nuint)Width) + high).StoreUnsafe(ref destination, (nuint)Width);
    }

    /// <summary>
    /// One pass over G (m×n) against an orthonormal right basis Z (<paramref name="zt"/> = Zᵀ, k×n): per row,
    /// <c>y = g·Z</c> (into <paramref name="y"/>, m×k); when <paramref name="residual"/> is not empty, the residual row
    /// <c>g − y·Zᵀ</c> (m×n); when <paramref name="wt"/> is not empty, <c>Wᵀ += yᵀ·g</c> (k×n, i.e. W = GᵀGZ, a power
    /// iteration). Each row of G is read from memory once; the row, Zᵀ and Wᵀ stay in cache. Returns the residual's
    /// Σ|r| and Σr² (double), max|r| and non-zero count (zero without a residual); NaN or infinity in G shows as a
    /// non-finite sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ResidualMagnitudes ProjectOut(ReadOnlySpan<float> g, int m, int n, ReadOnlySpan<float> zt, int k, Span<float> y, Span<float> residual, Span<float> wt)
    {
        // Blocks of rows small enough to stay in L2 between the kernels that read them (a block of 8 rows of 4,608
        // floats is 147 KB): Y of the block by the register-tiled product, then Wᵀ and the residual rows from it.
        const int Block = 8;
        bool accumulate = !wt.IsEmpty, project = !residual.IsEmpty;
        if (accumulate)
        {
            wt[..(k * n)].Clear();
        }

        ref float zRef = ref MemoryMarshal.GetReference(zt);
        double absoluteSum = 0, squareSum = 0;
        float largest = 0;
        int nonZero = 0;
        for (int start = 0; start < m; start += Block)
        {
            int end = Math.Min(m, start + Block);
            MultiplyByTransposed(g.Slice(start * n, (end - start) * n), end - start, n, zt, k, y.Slice(start * k, (end - start) * k));
            if (accumulate)
            {
                AccumulateRows(g, start, end, n, y, k, wt);
            }

            if (!project)
            {
                continue;
            }

            for (int r = start; r < end; r++)
            {
                ResidualMagnitudes rowStatistics = k <= 8
                    ? ResidualRow8(g.Slice(r * n, n), y.Slice(r * k, k), ref zRef, n, k, residual.Slice(r * n, n))
                    : ResidualRowBlocked(g.Slice(r * n, n), y.Slice(r * k, k), ref zRef, n, k, residual.Slice(r * n, n));
                absoluteSum += rowStatistics.AbsoluteSum;
                squareSum += rowStatistics.SquareSum;
                largest = Math.Max(largest, rowStatistics.Max);
                nonZero += rowStatistics.NonZeroCount;
            }
        }

        return new ResidualMagnitudes(absoluteSum, squareSum, largest, nonZero);
    }

    /// <summary>
    /// One residual row <c>g − Σ_j y_j·z_j</c> for k ≤ 8 in a single sweep that also gathers its statistics (rows of Zᵀ
    /// past k point at the last one with weight 0). Σ|r| and Σr² run in float lanes within the row (a row's error is
    /// that of an n/8-term float sum; they size the budget, not the estimate) and are added in double across rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ResidualMagnitudes ResidualRow8(ReadOnlySpan<float> row, ReadOnlySpan<float> yRow, ref float zRef, int n, int k, Span<float> destination)
    {
        ref float src = ref MemoryMarshal.GetReference(row);
        ref float d = ref MemoryMarshal.GetReference(destination);
        ref float z0 = ref zRef;
        ref float z1 = ref Unsafe.Add(ref zRef, Math.Min(1, k - 1) * n);
        ref float z2 = ref Unsafe.Add(ref zRef, Math.Min(2, k - 1) * n);
        ref float z3 = ref Unsafe.Add(ref zRef, Math.Min(3, k - 1) * n);
        ref float z4 = ref Unsafe.Add(ref zRef, Math.Min(4, k - 1) * n);
        ref float z5 = ref Unsafe.Add(ref zRef, Math.Min(5, k - 1) * n);
        ref float z6 = ref Unsafe.Add(ref zRef, Math.Min(6, k - 1) * n);
        ref float z7 = ref Unsafe.Add(ref zRef, Math.Min(7, k - 1) * n);
        float p0 = -yRow[0], p1 = k > 1 ? -yRow[1] : 0f, p2 = k > 2 ? -yRow[2] : 0f, p3 = k > 3 ? -yRow[3] : 0f;
        float p4 = k > 4 ? -yRow[4] : 0f, p5 = k > 5 ? -yRow[5] : 0f, p6 = k > 6 ? -yRow[6] : 0f, p7 = k > 7 ? -yRow[7] : 0f;
        var v0 = Vector256.Create(p0);
        var v1 = Vector256.Create(p1);
        var v2 = Vector256.Create(p2);
        var v3 = Vector256.Create(p3);
        var v4 = Vector256.Create(p4);
        var v5 = Vector256.Create(p5);
        var v6 = Vector256.Create(p6);
        var v7 = Vector256.Create(p7);
        Vector256<float> absolute = default, squares = default, max = default;
        Vector256<int> zeros = default;
        int c = 0;
        for (; c <= n - Width; c += Width)
        {
            // Two chains of four FMAs instead of one of eight: the loop is latency-bound otherwise.
            var even = Vector256.LoadUnsafe(ref src, (nuint)c);
            even = Vector256.FusedMultiplyAdd(v0, Vector256.LoadUnsafe(ref z0, (nuint)c), even);
            var odd = v1 * Vector256.LoadUnsafe(ref z1, (nuint)c);
            even = Vector256.FusedMultiplyAdd(v2, Vector256.LoadUnsafe(ref z2, (nuint)c), even);
            odd = Vector256.FusedMultiplyAdd(v3, Vector256.LoadUnsafe(ref z3, (nuint)c), odd);
            even = Vector256.FusedMultiplyAdd(v4, Vector256.LoadUnsafe(ref z4, (nuint)c), even);
            odd = Vector256.FusedMultiplyAdd(v5, Vector256.LoadUnsafe(ref z5, (nuint)c), odd);
            even = Vector256.FusedMultiplyAdd(v6, Vector256.LoadUnsafe(ref z6, (nuint)c), even);
            odd = Vector256.FusedMultiplyAdd(v7, Vector256.LoadUnsafe(ref z7, (nuint)c), odd);
            var acc = even + odd;
            acc.StoreUnsafe(ref d, (nuint)c);
            Vector256<float> magnitude = Vector256.Abs(acc);
            absolute += magnitude;
            squares = Vector256.FusedMultiplyAdd(acc, acc, squares);
            max = Vector256.MaxNative(max, magnitude);
            zeros += Vector256.Equals(magnitude, Vector256<float>.Zero).AsInt32();
        }

        double absoluteSum = Vector256.Sum(absolute), squareSum = Vector256.Sum(squares);
        float largest = 0;
        for (int lane = 0; lane < Width; lane++)
        {
            largest = Math.Max(largest, max.GetElement(lane));
        }

        int zeroCount = -Vector256.Sum(zeros);
        for (; c < n; c++)
        {
            float even = Unsafe.Add(ref src, c);
            even = MathF.FusedMultiplyAdd(p0, Unsafe.Add(ref z0, c), even);
            float odd = p1 * Unsafe.Add(ref z1, c);
            even = MathF.FusedMultiplyAdd(p2, Unsafe.Add(ref z2, c), even);
            odd = MathF.FusedMultiplyAdd(p3, Unsafe.Add(ref z3, c), odd);
            even = MathF.FusedMultiplyAdd(p4, Unsafe.Add(ref z4, c), even);
            odd = MathF.FusedMultiplyAdd(p5, Unsafe.Add(ref z5, c), odd);
            even = MathF.FusedMultiplyAdd(p6, Unsafe.Add(ref z6, c), even);
            odd = MathF.FusedMultiplyAdd(p7, Unsafe.Add(ref z7, c), odd);
            float acc = even + odd;
            Unsafe.Add(ref d, c) = acc;
            double v = Math.Abs(acc);
            absoluteSum += v;
            squareSum += v * v;
            largest = Math.Max(largest, (float)v);
            zeroCount += v == 0 ? 1 : 0;
        }

        return new ResidualMagnitudes(absoluteSum, squareSum, largest, n - zeroCount);
    }

    /// <summary>One residual row for any k, four columns of Zᵀ per sweep, then its statistics.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ResidualMagnitudes ResidualRowBlocked(ReadOnlySpan<float> row, ReadOnlySpan<float> yRow, ref float zRef, int n, int k, Span<float> destination)
    {
        ref float src = ref MemoryMarshal.GetReference(row);
        ref float d = ref MemoryMarshal.GetReference(destination);
        for (int j = 0; j < k; j += 4)
        {
            float p0 = yRow[j];
            float p1 = j + 1 < k ? yRow[j + 1] : 0f;
            float p2 = j + 2 < k ? yRow[j + 2] : 0f;
            float p3 = j + 3 < k ? yRow[j + 3] : 0f;
            ref float z0 = ref Unsafe.Add(ref zRef, j * n);
            ref float z1 = ref Unsafe.Add(ref zRef, Math.Min(j + 1, k - 1) * n);
            ref float z2 = ref Unsafe.Add(ref zRef, Math.Min(j + 2, k - 1) * n);
            ref float z3 = ref Unsafe.Add(ref zRef, Math.Min(j + 3, k - 1) * n);
            ref float source = ref j == 0 ? ref src : ref d;
            var v0 = Vector256.Create(p0);
            var v1 = Vector256.Create(p1);
            var v2 = Vector256.Create(p2);
            var v3 = Vector256.Create(p3);
            int c = 0;
            for (; c <= n - Width; c += Width)
            {
                var acc = Vector256.LoadUnsafe(ref source, (nuint)c);
                acc = Vector256.FusedMultiplyAdd(-v0, Vector256.LoadUnsafe(ref z0, (nuint)c), acc);
                acc = Vector256.FusedMultiplyAdd(-v1, Vector256.LoadUnsafe(ref z1, (nuint)c), acc);
                acc = Vector256.FusedMultiplyAdd(-v2, Vector256.LoadUnsafe(ref z2, (nuint)c), acc);
                acc = Vector256.FusedMultiplyAdd(-v3, Vector256.LoadUnsafe(ref z3, (nuint)c), acc);
                acc.StoreUnsafe(ref d, (nuint)c);
            }

            for (; c < n; c++)
            {
                float acc = Unsafe.Add(ref source, c);
                acc = MathF.FusedMultiplyAdd(-p0, Unsafe.Add(ref z0, c), acc);
                acc = MathF.FusedMultiplyAdd(-p1, Unsafe.Add(ref z1, c), acc);
                acc = MathF.FusedMultiplyAdd(-p2, Unsafe.Add(ref z2, c), acc);
                acc = MathF.FusedMultiplyAdd(-p3, Unsafe.Add(ref z3, c), acc);
                Unsafe.Add(ref d, c) = acc;
            }
        }

        return Magnitudes(destination);
    }

    /// <summary>Σ|x| and Σx² (float within a row's 8 lanes, then double), max|x| and the non-zero count of one row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ResidualMagnitudes Magnitudes(ReadOnlySpan<float> x)
    {
        ref float xRef = ref MemoryMarshal.GetReference(x);
        Vector256<double> abs0 = default, abs1 = default, sq0 = default, sq1 = default;
        Vector256<float> max = default;
        Vector256<int> zeros = default;
        int c = 0;
        for (; c <= x.Length - Width; c += Width)
        {
            Vector256<float> a = Vector256.Abs(Vector256.LoadUnsafe(ref xRef, (nuint)c));
            (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(a);
            abs0 += lo;
            abs1 += hi;
            sq0 = Vector256.FusedMultiplyAdd(lo, lo, sq0);
            sq1 = Vector256.FusedMultiplyAdd(hi, hi, sq1);
            max = Vector256.Max(max, a);
            zeros += Vector256.Equals(a, Vector256<float>.Zero).AsInt32();
        }

        double absolute = Vector256.Sum(abs0 + abs1), squares = Vector256.Sum(sq0 + sq1);
        float largest = 0;
        for (int lane = 0; lane < Width; lane++)
        {
            largest = Math.Max(largest, max.GetElement(lane));
        }

        int zeroCount = -Vector256.Sum(zeros);
        for (; c < x.Length; c++)
        {
            double v = Math.Abs(Unsafe.Add(ref xRef, c));
            absolute += v;
            squares += v * v;
            largest = Math.Max(largest, (float)v);
            zeroCount += v == 0 ? 1 : 0;
        }

        return new ResidualMagnitudes(absolute, squares, largest, x.Length - zeroCount);
    }

    /// <summary>
    /// <c>destination += Σ_j weights_j · l_j · r_jᵀ</c> for the rows l_j of <paramref name="left"/> (K×m) and r_j of
    /// <paramref name="right"/> (K×n): a GEMM <c>(m×K)·(K×n)</c> that reads and writes each destination row once.
    /// Separate multiply and add (no FMA) in a fixed order, so every machine gets the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddOuterProducts(int m, int n, ReadOnlySpan<float> left, ReadOnlySpan<float> right, ReadOnlySpan<float> weights, Span<float> destination)
    {
        int count = weights.Length;
        if (count == 0)
        {
            return;
        }

        ref float rightRef = ref MemoryMarshal.GetReference(right);
        ref float dRef = ref MemoryMarshal.GetReference(destination);
        for (int r = 0; r < m; r++)
        {
            ref float d = ref Unsafe.Add(ref dRef, r * n);
            for (int j = 0; j < count; j += 4)
            {
                float p0 = weights[j] * left[(j * m) + r];
                float p1 = j + 1 < count ? weights[j + 1] * left[((j + 1) * m) + r] : 0f;
                float p2 = j + 2 < count ? weights[j + 2] * left[((j + 2) * m) + r] : 0f;
                float p3 = j + 3 < count ? weights[j + 3] * left[((j + 3) * m) + r] : 0f;
                ref float w0 = ref Unsafe.Add(ref rightRef, j * n);
                ref float w1 = ref Unsafe.Add(ref rightRef, Math.Min(j + 1, count - 1) * n);
                ref float w2 = ref Unsafe.Add(ref rightRef, Math.Min(j + 2, count - 1) * n);
                ref float w3 = ref Unsafe.Add(ref rightRef, Math.Min(j + 3, count - 1) * n);
                var v0 = Vector256.Create(p0);
                var v1 = Vector256.Create(p1);
                var v2 = Vector256.Create(p2);
                var v3 = Vector256.Create(p3);
                int c = 0;
                for (; c <= n - Width; c += Width)
                {
                    var acc = Vector256.LoadUnsafe(ref d, (nuint)c);
                    acc += v0 * Vector256.LoadUnsafe(ref w0, (nuint)c);
                    acc += v1 * Vector256.LoadUnsafe(ref w1, (nuint)c);
                    acc += v2 * Vector256.LoadUnsafe(ref w2, (nuint)c);
                    acc += v3 * Vector256.LoadUnsafe(ref w3, (nuint)c);
                    acc.StoreUnsafe(ref d, (nuint)c);
                }

                for (; c < n; c++)
                {
                    float acc = Unsafe.Add(ref d, c);
                    acc += p0 * Unsafe.Add(ref w0, c);
                    acc += p1 * Unsafe.Add(ref w1, c);
                    acc += p2 * Unsafe.Add(ref w2, c);
                    acc += p3 * Unsafe.Add(ref w3, c);
                    Unsafe.Add(ref d, c) = acc;
                }
            }
        }
    }

    /// <summary>Σ x², accumulated in double.</summary>
    public static double SumOfSquares(ReadOnlySpan<float> x)
    {
        ref float xRef = ref MemoryMarshal.GetReference(x);
        Vector256<double> a0 = default, a1 = default;
        int c = 0;
        for (; c <= x.Length - Width; c += Width)
        {
            (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xRef, (nuint)c));
            a0 = Vector256.FusedMultiplyAdd(lo, lo, a0);
            a1 = Vector256.FusedMultiplyAdd(hi, hi, a1);
        }

        double sum = Vector256.Sum(a0 + a1);
        for (; c < x.Length; c++)
        {
            double v = Unsafe.Add(ref xRef, c);
            sum += v * v;
        }

        return sum;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(Span<T> y, int offset, int j, int k, T s0, T s1, T s2, T s3)
    {
        y[offset + j] = s0;
        if (j + 1 < k)
        {
            y[offset + j + 1] = s1;
        }

        if (j + 2 < k)
        {
            y[offset + j + 2] = s2;
        }

        if (j + 3 < k)
        {
            y[offset + j + 3] = s3;
        }
    }
}
