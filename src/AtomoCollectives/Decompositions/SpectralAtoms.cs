using System.Numerics.Tensors;
using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// Spectral atoms of a tensor's matrix view G (m×n, row-major): <see cref="Rank"/> orthonormal rank-1 atoms
/// <c>u_i·v_iᵀ</c> with coefficients <c>σ_i ≥ 0</c>, and the residual <c>R = G − Σσ_i·u_i·v_iᵀ</c> (m×n), whose entries
/// are coordinate atoms: <c>G = Σσ_i·u_i·v_iᵀ + Σ_jl R_jl·e_j·e_lᵀ</c> exactly (to float rounding), however rough the
/// sketch. The two groups are each orthonormal; the sparsifier draws them independently of each other
/// (<see cref="SpectralSparsifier"/>), so the estimate is exactly unbiased and its variance is
/// <c>Σ λ²(1/p − 1)</c> over both groups.
/// <para>
/// <see cref="SpectralMethod.Fast"/> (k = min(⌈budget⌉ + oversampling, min(m, n)) columns): an orthonormal right basis Z
/// (n×k) comes from one power iteration from the tensor's <see cref="SpectralSketch"/> (warm: Z = orth(GᵀG·Z_prev),
/// one pass over G that forms GZ_prev and GᵀGZ_prev row by row), or from a cold start (Z = orth(Ω), Ω Gaussian from
/// the seed, then q = <see cref="AtomoOptions.PowerIterations"/> times Q = orth(GZ), Z = orth(GᵀQ): 2q passes over G).
/// Then one pass (<see cref="ThinKernels.ProjectOut"/>) forms Y = GZ and R = G − YZᵀ; Z is kept in the sketch as the
/// next call's start. The atoms are the SVD of
/// YZᵀ: Y = Q_y·T, T = U_s·Σ·W_sᵀ, u_i = (Q_y·U_s)_i, v_i = (Z·W_s)_i. A residual with ‖R‖ ≤ 2⁻²⁰·‖G‖ is float rounding
/// noise of a sketch that spans G, and is dropped.
/// </para>
/// <para>
/// <see cref="SpectralMethod.Exact"/>: the thin SVD of G (LAPACK sgesdd through the active provider); Rank = min(m, n)
/// and no residual.
/// </para>
/// <para>
/// A matrix view with min(m, n) = 1 (every 1-D tensor, whose view is 1×n) has a single spectral atom, <c>g/‖g‖</c>
/// with coefficient ‖g‖, and no residual: spectral sparsification cannot shrink it, so the codec sends such tensors
/// dense or with coordinate or Fourier atoms.
/// </para>
/// <para>
/// Layout: <see cref="LeftVectors"/> is Rank×m row-major (row i = u_i), <see cref="RightVectors"/> is Rank×n row-major
/// (row i = v_i), <see cref="Residual"/> is m×n row-major. An instance is reused across calls (its buffers only grow)
/// and is not thread-safe; same inputs, seed and sketch give bitwise the same atoms with the same provider on the same
/// machine.
/// </para>
/// </summary>
internal sealed class SpectralAtoms : IAtomDecomposition
{
    /// <summary>(2⁻²⁰)²: residuals with ‖R‖ ≤ 2⁻²⁰·‖G‖ are treated as rounding noise.</summary>
    internal const double NoiseFloorSquared = 1.0 / (1L << 40);

    /// <summary>
    /// 2⁻⁴⁰ (about 1e-12): a projection GZ whose largest entry is below this comes from a tensor whose squares are near
    /// float's underflow (or from a sketch that missed G), and is redone on the rescaled tensor.
    /// </summary>
    private const float TinyProjection = 1f / (1L << 40);

    private float[] _coefficients = [];
    private float[] _left = [];
    private float[] _right = [];
    private float[] _residual = [];
    private float[] _y = [];
    private float[] _t = [];
    private float[] _zt = [];
    private float[] _z = [];
    private float[] _wt = [];
    private float[] _scaled = [];
    private ResidualMagnitudes _residualMagnitudes;

    /// <summary>Rows m of the matrix view.</summary>
    public int Rows { get; private set; }

    /// <summary>Columns n of the matrix view.</summary>
    public int Columns { get; private set; }

    /// <summary>The number of rank-1 atoms.</summary>
    public int Rank { get; private set; }

    /// <summary>The rank-1 atoms' coefficients: σ_0 ≥ σ_1 ≥ … (Exact) or the sketch's singular values (Fast).</summary>
    public ReadOnlySpan<float> Coefficients => _coefficients.AsSpan(0, Rank);

    /// <summary>u_i as rows, Rank×m.</summary>
    public ReadOnlySpan<float> LeftVectors => _left.AsSpan(0, Rank * Rows);

    /// <summary>v_i as rows, Rank×n.</summary>
    public ReadOnlySpan<float> RightVectors => _right.AsSpan(0, Rank * Columns);

    /// <summary>Whether there is a residual (Fast, unless the sketch captured G to rounding).</summary>
    public bool HasResidual => _residualMagnitudes.NonZeroCount > 0;

    /// <summary>The residual R = G − Σσ_i·u_i·v_iᵀ (m×n row-major), its entries the coordinate atoms; empty when none.</summary>
    public ReadOnlySpan<float> Residual => HasResidual ? _residual.AsSpan(0, Rows * Columns) : default;

    /// <summary>Σ|r|, Σr², max|r| and the non-zero count of <see cref="Residual"/> (all zero when there is none).</summary>
    public ResidualMagnitudes ResidualMagnitudes => _residualMagnitudes;

    /// <summary>‖R‖_F.</summary>
    public double ResidualNorm => Math.Sqrt(_residualMagnitudes.SquareSum);

    /// <summary>u_i (length m).</summary>
    public ReadOnlySpan<float> LeftVector(int atom) => _left.AsSpan(atom * Rows, Rows);

    /// <summary>v_i (length n).</summary>
    public ReadOnlySpan<float> RightVector(int atom) => _right.AsSpan(atom * Columns, Columns);

    /// <inheritdoc />
    public Decomposition Basis => Decomposition.Spectral;

    /// <summary>Decomposes the matrix view (<see cref="TensorShape.MatrixView"/>) of <paramref name="tensor"/> with the active provider, cold.</summary>
    public void Decompose(ReadOnlySpan<float> tensor, TensorShape shape, AtomoOptions options, ulong seed)
    {
        Decomposer.CheckLength(tensor, shape);
        (int rows, int columns) = shape.MatrixView;
        Decompose(tensor, rows, columns, options, seed, LinearAlgebraProvider.Current);
    }

    /// <summary>
    /// <c>destination += Σ_j weights_j · left_j·right_jᵀ</c> for stacked atom vectors (<paramref name="left"/> K×m,
    /// <paramref name="right"/> K×n, row j = one atom): the decoder's reconstruction of received rank-1 atoms, one GEMM,
    /// bitwise the same on every machine.
    /// </summary>
    public static void AddRankOneAtoms(int rows, int columns, ReadOnlySpan<float> left, ReadOnlySpan<float> right, ReadOnlySpan<float> weights, Span<float> destination)
    {
        int count = weights.Length;
        if (left.Length < count * rows || right.Length < count * columns || destination.Length != rows * columns)
        {
            throw new ArgumentException($"Expected {count}×{rows} left, {count}×{columns} right and {rows}×{columns} destination elements.");
        }

        ThinKernels.AddOuterProducts(rows, columns, left, right, weights, destination);
    }

    /// <summary>Decomposes <paramref name="tensor"/> (m×n row-major) with the active linear algebra provider.</summary>
    public void Decompose(ReadOnlySpan<float> tensor, int rows, int columns, AtomoOptions options, ulong seed, SpectralSketch? sketch = null) =>
        Decompose(tensor, rows, columns, options, seed, LinearAlgebraProvider.Current, sketch);

    /// <summary>
    /// Decomposes <paramref name="tensor"/> (m×n row-major) with <paramref name="provider"/>. With a
    /// <paramref name="sketch"/>, <see cref="SpectralMethod.Fast"/> starts from its basis (when it is for this shape and
    /// width) and leaves the next one in it.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor's length is not rows·columns, it holds NaN or infinity, or its values overflow float in the sketch.</exception>
    public void Decompose(ReadOnlySpan<float> tensor, int rows, int columns, AtomoOptions options, ulong seed, ILinearAlgebraProvider provider, SpectralSketch? sketch = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (tensor.Length != (long)rows * columns)
        {
            throw new ArgumentException($"The tensor has {tensor.Length} elements, the matrix view {rows}×{columns} needs {(long)rows * columns}.", nameof(tensor));
        }

        Rows = rows;
        Columns = columns;
        _residualMagnitudes = ResidualMagnitudes.None;
        int p = Math.Min(rows, columns);
        if (p <= 1)
        {
            MagnitudeStatistics.Measure(tensor, nameof(tensor));
            DecomposeVector(tensor, rows, columns);
        }
        else if (options.SpectralMethod == SpectralMethod.Exact)
        {
            MagnitudeStatistics.Measure(tensor, nameof(tensor));
            DecomposeExact(tensor, rows, columns, provider);
            ThrowIfCoefficientsOverflow(tensor);
        }
        else
        {
            int k = Math.Max(1, (int)Math.Min(Math.Ceiling(options.Budget) + options.Oversampling, p));
            if (!DecomposeFast(tensor, rows, columns, k, options.PowerIterations, seed, provider, sketch, rescaled: false))
            {
                DecomposeRescaled(tensor, rows, columns, k, options.PowerIterations, seed, provider, sketch);
            }
        }
    }

    /// <summary>
    /// The fast decomposition of a finite tensor whose products with itself leave float's range: GᵀG in a warm start
    /// overflows for entries above about 1e19, and squares of entries below about 1e-19 underflow (the residual's and
    /// the coefficients' sums of squares would read 0, and a real residual would be dropped as noise). It decomposes
    /// 2⁻ᵉ·G, e the exponent of the largest magnitude, which is exact (a power of two; only entries below 2⁻¹⁴⁹ of the
    /// largest are lost, far under its rounding), then scales the coefficients and the residual back by 2ᵉ. The basis
    /// is scale-free, so the sketch's basis serves both attempts and is kept. Only this rare path pays for the copy and
    /// the extra pass.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor holds NaN or infinity, or a coefficient or residual entry of G itself overflows float.</exception>
    private void DecomposeRescaled(ReadOnlySpan<float> tensor, int m, int n, int k, int powerIterations, ulong seed, ILinearAlgebraProvider provider, SpectralSketch? sketch)
    {
        MagnitudeStatistics statistics = MagnitudeStatistics.Measure(tensor, nameof(tensor));
        int exponent = statistics.Max == 0 ? 0 : Math.ILogB(statistics.Max);
        Grow(ref _scaled, m * n);
        Span<float> scaled = _scaled.AsSpan(0, m * n);
        TensorPrimitives.Multiply(tensor, MathF.ScaleB(1f, -exponent), scaled);
        if (!DecomposeFast(scaled, m, n, k, powerIterations, seed, provider, sketch, rescaled: true))
        {
            sketch?.Reset();
            throw new ArgumentException($"The tensor's values (largest magnitude {statistics.Max:G4}) overflow float in the spectral sketch even when rescaled.", "tensor");
        }

        float factor = MathF.ScaleB(1f, exponent);
        Span<float> sigma = _coefficients.AsSpan(0, Rank);
        TensorPrimitives.Multiply(sigma, factor, sigma);
        ThrowIfCoefficientsOverflow(tensor);
        if (HasResidual)
        {
            Span<float> residual = _residual.AsSpan(0, m * n);
            TensorPrimitives.Multiply(residual, factor, residual);
            double square = Math.ScaleB(1.0, 2 * exponent);
            _residualMagnitudes = _residualMagnitudes with
            {
                AbsoluteSum = Math.ScaleB(_residualMagnitudes.AbsoluteSum, exponent),
                SquareSum = _residualMagnitudes.SquareSum * square,
                Max = _residualMagnitudes.Max * factor,
            };
            if (!_residualMagnitudes.IsFinite)
            {
                throw new ArgumentException($"The tensor's values (largest magnitude {statistics.Max:G4}) leave residual entries beyond float's range (±3.4E+38): scale the tensor down.", "tensor");
            }
        }
    }

    /// <summary>A singular value of a finite tensor may still exceed float (‖G‖ can be up to √(mn) times its largest entry).</summary>
    private void ThrowIfCoefficientsOverflow(ReadOnlySpan<float> tensor)
    {
        if (!AllFinite(Coefficients))
        {
            double norm = Math.Sqrt(ThinKernels.SumOfSquares(tensor));
            throw new ArgumentException($"The tensor's largest singular value exceeds float's range (±3.4E+38; its norm is {norm:G4}): scale the tensor down, or use coordinate atoms.", "tensor");
        }
    }

    /// <summary>
    /// <c>destination += Σ_j weights_j · atom_{atomIndices_j}</c> (m×n row-major) over rank-1 atoms: one GEMM over the
    /// kept atoms. Separate multiplies and adds in a fixed order: the same bits on every machine, so ranks
    /// reconstructing the same atoms agree bitwise. The residual's coordinate atoms are added by index
    /// (<see cref="AtomSelection.AddTo"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ or an index is out of range.</exception>
    public void AddAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, Span<float> destination)
    {
        if (destination.Length != Rows * Columns)
        {
            throw new ArgumentException($"The destination must have {Rows * Columns} elements.", nameof(destination));
        }

        Decomposer.CheckAtoms(atomIndices, weights, Rank);
        int count = atomIndices.Length;
        int m = Rows, n = Columns;
        float[] left = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Max(1, count * m));
        float[] right = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Max(1, count * n));
        try
        {
            for (int j = 0; j < count; j++)
            {
                LeftVector(atomIndices[j]).CopyTo(left.AsSpan(j * m, m));
                RightVector(atomIndices[j]).CopyTo(right.AsSpan(j * n, n));
            }

            ThinKernels.AddOuterProducts(m, n, left, right, weights, destination);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(left);
            System.Buffers.ArrayPool<float>.Shared.Return(right);
        }
    }

    private void DecomposeVector(ReadOnlySpan<float> tensor, int rows, int columns)
    {
        Rank = Math.Min(rows, columns);
        Grow(ref _coefficients, Rank);
        if (Rank == 0)
        {
            return;
        }

        Grow(ref _left, rows);
        Grow(ref _right, columns);
        float norm = (float)Math.Sqrt(ThinKernels.SumOfSquares(tensor));
        _coefficients[0] = norm;
        Span<float> vector = rows == 1 ? _right.AsSpan(0, columns) : _left.AsSpan(0, rows);
        Span<float> unit = rows == 1 ? _left.AsSpan(0, 1) : _right.AsSpan(0, 1);
        unit[0] = 1;
        if (norm == 0)
        {
            vector.Clear();
            vector[0] = 1;
        }
        else
        {
            TensorPrimitives.Multiply(tensor, 1f / norm, vector);
        }
    }

    private void DecomposeExact(ReadOnlySpan<float> tensor, int m, int n, ILinearAlgebraProvider provider)
    {
        int p = Math.Min(m, n);
        Rank = p;
        Grow(ref _coefficients, p);
        Grow(ref _y, m * p);
        Grow(ref _right, p * n);
        Grow(ref _left, p * m);
        provider.Svd(tensor, m, n, _coefficients.AsSpan(0, p), _y.AsSpan(0, m * p), _right.AsSpan(0, p * n));
        Transpose(_y, m, p, _left);
    }

    /// <summary>
    /// The fast decomposition; <see langword="false"/> when a product overflowed float, or (unless
    /// <paramref name="rescaled"/>) when GZ is so small that squares of G's scale underflow: then nothing is kept.
    /// </summary>
    private bool DecomposeFast(ReadOnlySpan<float> g, int m, int n, int k, int powerIterations, ulong seed, ILinearAlgebraProvider provider, SpectralSketch? sketch, bool rescaled)
    {
        Rank = k;
        Grow(ref _coefficients, k);
        Grow(ref _y, m * k);
        Grow(ref _zt, k * n);
        Grow(ref _z, n * k);
        Grow(ref _t, 3 * k * k);
        Grow(ref _left, k * m);
        Grow(ref _right, k * n);
        Grow(ref _residual, m * n);
        Span<float> y = _y.AsSpan(0, m * k);
        Span<float> zt = _zt.AsSpan(0, k * n);
        Span<float> t = _t.AsSpan(0, k * k);
        Span<float> smallU = _t.AsSpan(k * k, k * k);
        Span<float> smallVt = _t.AsSpan(2 * k * k, k * k);
        Span<float> sigma = _coefficients.AsSpan(0, k);

        // 1. The right basis Z (as Zᵀ, k×n): one power iteration on G from the tensor's previous basis (one pass:
        //    W = GᵀG·Z_prev, Z = orth(W)), or a cold range finder.
        ReadOnlySpan<float> kept = sketch is null ? default : sketch.BasisFor(m, n, k);
        bool warm = false;
        if (!kept.IsEmpty)
        {
            // GᵀG·Z squares G's scale: where that overflows float (entries near 1e19) the cold start, which
            // orthonormalises after each product, may still work.
            Grow(ref _wt, k * n);
            Span<float> w = _wt.AsSpan(0, k * n);
            ThinKernels.ProjectOut(g, m, n, kept, k, y, default, w);
            warm = AllFinite(w);
            if (warm)
            {
                w.CopyTo(zt);
                Orthonormalize(zt, n, k, provider);
                sketch!.CountWarmCall();
            }
        }

        // On failure the kept basis stays: it is scale-free, so the rescaled attempt starts from it too.
        if (!warm && !ColdBasis(g, m, n, k, powerIterations, seed, provider))
        {
            return false;
        }

        // 2. One pass: Y = GZ and R = G − YZᵀ.
        _residualMagnitudes = ThinKernels.ProjectOut(g, m, n, zt, k, y, _residual.AsSpan(0, m * n), default);
        if (!_residualMagnitudes.IsFinite || !AllFinite(y) || (!rescaled && TensorPrimitives.MaxMagnitude(y) is > 0 and < TinyProjection))
        {
            _residualMagnitudes = ResidualMagnitudes.None;
            return false;
        }

        // The basis is the next call's start.
        sketch?.Store(m, n, k, zt);

        // 3. The atoms: G·Z·Zᵀ = Y·Zᵀ with Y = Q_y·T = Q_y·U_s·Σ·W_sᵀ: u_i = (Q_y·U_s)_i, v_i = (Z·W_s)_i.
        ThinQR.Factor(provider, y, m, k, t);
        provider.Svd(t, k, k, sigma, smallU, smallVt);
        provider.Gemm(true, true, k, m, k, 1, smallU, k, y, k, 0, _left, m);
        provider.Gemm(false, false, k, n, k, 1, smallVt, k, zt, n, 0, _right, n);

        // ‖G‖² = Σσ² + ‖R‖² (R ⊥ the atoms). A residual below 2⁻²⁰·‖G‖ is rounding noise of a sketch that spans G, not
        // a direction of G: it is dropped, so it costs no pass and no bytes; the atoms then sum to G within 2⁻²⁰·‖G‖.
        double total = _residualMagnitudes.SquareSum + ThinKernels.SumOfSquares(sigma);
        if (_residualMagnitudes.SquareSum <= total * NoiseFloorSquared)
        {
            _residualMagnitudes = ResidualMagnitudes.None;
        }

        return true;
    }

    /// <summary>
    /// Zᵀ (k×n) in <c>_zt</c> from nothing: Z = orth(Ω) with Ω Gaussian from the seed alone, then
    /// <paramref name="powerIterations"/> times Q = orth(GZ), Z = orth(GᵀQ), two passes over G each.
    /// <see langword="false"/> when a product overflowed float.
    /// </summary>
    private bool ColdBasis(ReadOnlySpan<float> g, int m, int n, int k, int powerIterations, ulong seed, ILinearAlgebraProvider provider)
    {
        Span<float> y = _y.AsSpan(0, m * k);
        Span<float> zt = _zt.AsSpan(0, k * n);
        Gaussian.Fill(zt, seed);
        if (powerIterations == 0)
        {
            Orthonormalize(zt, n, k, provider);
            return true;
        }

        for (int iteration = 0; iteration < powerIterations; iteration++)
        {
            ThinKernels.MultiplyByTransposed(g, m, n, zt, k, y);    // y ← GZ (the first time GΩ)
            ThinQR.Factor(provider, y, m, k, _t.AsSpan(0, k * k));   // y ← Q
            ThinKernels.TransposeMultiply(g, m, n, y, k, zt);       // zt ← QᵀG = (GᵀQ)ᵀ
            Orthonormalize(zt, n, k, provider);                     // zt ← orth(GᵀQ)ᵀ
        }

        return AllFinite(zt);
    }

    /// <summary>Replaces the rows of <paramref name="rows"/> (k×n, the columns of an n×k panel) by an orthonormal basis of their span.</summary>
    private void Orthonormalize(Span<float> rows, int n, int k, ILinearAlgebraProvider provider)
    {
        Transpose(rows, k, n, _z);
        ThinQR.Factor(provider, _z.AsSpan(0, n * k), n, k, _t.AsSpan(0, k * k));
        Transpose(_z, n, k, rows);
    }

    /// <summary>Whether no entry is NaN or infinite (the largest magnitude is finite; NaN counts as largest).</summary>
    private static bool AllFinite(ReadOnlySpan<float> x)
    {
        int largest = TensorPrimitives.IndexOfMaxMagnitude(x);
        return largest < 0 || float.IsFinite(x[largest]);
    }

    private static void Transpose(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                destination[(c * rows) + r] = source[(r * columns) + c];
            }
        }
    }

    private static void Grow(ref float[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new float[length];
        }
    }
}
