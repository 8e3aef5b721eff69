using System.Numerics.Tensors;
using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// Spectral atoms of a tensor's matrix view G (m×n, row-major): <see cref="Rank"/> rank-1 atoms <c>u_i·v_iᵀ</c> with
/// coefficients <c>σ_i ≥ 0</c>, plus one residual atom <c>R/‖R‖_F</c> with coefficient <c>‖R‖_F</c> (atom index
/// <see cref="Rank"/>). All <see cref="Rank"/> + 1 atoms are orthonormal and <c>Σ coefficient_i·atom_i = G</c> to float rounding.
/// <para>
/// <see cref="SpectralMethod.Fast"/> (randomized range finder, k = min(⌈budget⌉ + oversampling, min(m, n)) columns):
/// with q = <see cref="AtomoOptions.PowerIterations"/> ≥ 1, Y = GΩ, then q times Q = orth(Y), Z = orth(GᵀQ), Y = GZ; the
/// last Y = GZ doubles as the projection <c>G ≈ G·Z·Zᵀ = Y·Zᵀ</c>, so no separate <c>QᵀG</c> pass is needed, and
/// the atoms come from the SVD of Y: <c>Y = ŨΣW̃ᵀ</c>, <c>u_i = Ũ_i</c>, <c>v_i = (ZW̃)_i</c>; residual R = G(I − ZZᵀ).
/// The residual's norm comes from ‖R‖² = ‖G‖² − 2‖Y‖² + ⟨YᵀY, ZᵀZ⟩, with ‖G‖² and a double-accumulated Y taken in the
/// last pass, so passes over G are 2q + 1 (3 for the default q = 1); only when that formula cancels (‖R‖² &lt; 10⁻⁴‖G‖²,
/// a sketch that captured almost everything) an explicit residual pass is added. With q = 0: Q = orth(GΩ), B = QᵀG
/// (accumulated in double), atoms from the SVD of B, R = G − QQᵀG, ‖R‖² = ‖G‖² − 2⟨QᵀG, B⟩ + ⟨QᵀQ, BBᵀ⟩: 2 passes
/// (same fallback). The residual itself is only
/// formed by <see cref="MaterializeResidual"/>, which the encoder calls only when the residual atom was drawn; it is
/// stored as R_f/λ (R_f the float residual of the stored atoms), so <c>λ·atom</c> is exactly R_f and the atoms sum to G
/// to float rounding whatever the error of λ, which only makes the residual atom's norm 1 ± 8(k+2)·ε_f·‖G‖/‖R‖.
/// Unbiasedness never depends on the sketch: E[estimate] = Σ p_i·(λ_i/p_i)·atom_i = G.
/// </para>
/// <para>
/// <see cref="SpectralMethod.Exact"/>: the thin SVD of G (LAPACK sgesdd through the active provider); Rank = min(m, n)
/// and the residual coefficient is 0.
/// </para>
/// <para>
/// A matrix view with min(m, n) = 1 (every 1-D tensor, whose view is 1×n) has a single spectral atom, <c>g/‖g‖</c>
/// with coefficient ‖g‖, and a zero residual: spectral sparsification cannot shrink it, so the codec should send such
/// tensors dense or with coordinate or Fourier atoms.
/// </para>
/// <para>
/// Layout: <see cref="LeftVectors"/> is Rank×m row-major (row i = u_i), <see cref="RightVectors"/> is Rank×n row-major
/// (row i = v_i), <see cref="Residual"/> is m×n row-major, already divided by ‖R‖_F. An instance is reused across
/// calls (its buffers only grow) and is not thread-safe; same inputs and seed give bitwise the same atoms with the
/// same provider on the same machine.
/// </para>
/// </summary>
internal sealed class SpectralAtoms : IAtomDecomposition
{
    private float[] _coefficients = [];
    private float[] _left = [];
    private float[] _right = [];
    private float[] _residual = [];
    private float[] _y = [];
    private float[] _t = [];
    private float[] _zt = [];
    private float[] _z = [];
    private float[] _small = [];
    private float[] _rowScratch = [];
    private double[] _yd = [];
    private int[] _positions = [];
    private bool _residualReady;

    /// <summary>Rows m of the matrix view.</summary>
    public int Rows { get; private set; }

    /// <summary>Columns n of the matrix view.</summary>
    public int Columns { get; private set; }

    /// <summary>The number of rank-1 atoms; the residual atom has index Rank.</summary>
    public int Rank { get; private set; }

    /// <summary>The index of the residual atom (= <see cref="Rank"/>).</summary>
    public int ResidualIndex => Rank;

    /// <summary>Rank + 1 coefficients: σ_0 ≥ σ_1 ≥ … (Exact) or the sketch's singular values (Fast), then ‖R‖_F.</summary>
    public ReadOnlySpan<float> Coefficients => _coefficients.AsSpan(0, Rank + 1);

    /// <summary>u_i as rows, Rank×m.</summary>
    public ReadOnlySpan<float> LeftVectors => _left.AsSpan(0, Rank * Rows);

    /// <summary>v_i as rows, Rank×n.</summary>
    public ReadOnlySpan<float> RightVectors => _right.AsSpan(0, Rank * Columns);

    /// <summary>The residual coefficient ‖R‖_F.</summary>
    public float ResidualNorm => _coefficients[Rank];

    /// <summary>
    /// The normalised residual R/‖R‖_F (m×n row-major) after <see cref="MaterializeResidual"/>; empty when
    /// the residual norm is 0 or it was not materialised.
    /// </summary>
    public ReadOnlySpan<float> Residual => _residualReady ? _residual.AsSpan(0, Rows * Columns) : default;

    /// <summary>Whether <see cref="Residual"/> holds the residual atom.</summary>
    public bool HasResidual => _residualReady;

    /// <summary>u_i (length m).</summary>
    public ReadOnlySpan<float> LeftVector(int atom) => _left.AsSpan(atom * Rows, Rows);

    /// <summary>v_i (length n).</summary>
    public ReadOnlySpan<float> RightVector(int atom) => _right.AsSpan(atom * Columns, Columns);

    /// <inheritdoc />
    public Decomposition Basis => Decomposition.Spectral;

    /// <summary>Decomposes the matrix view (<see cref="TensorShape.MatrixView"/>) of <paramref name="tensor"/> with the active provider.</summary>
    public void Decompose(ReadOnlySpan<float> tensor, TensorShape shape, AtomoOptions options, ulong seed)
    {
        Decomposer.CheckLength(tensor, shape);
        (int rows, int columns) = shape.MatrixView;
        Decompose(tensor, rows, columns, options, seed, LinearAlgebraProvider.Current);
    }

    /// <summary>Materialises the residual atom when it is among <paramref name="atomIndices"/>.</summary>
    public void PrepareKept(ReadOnlySpan<float> tensor, ReadOnlySpan<int> atomIndices)
    {
        if (atomIndices.Contains(Rank))
        {
            MaterializeResidual(tensor);
        }
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

    /// <summary>
    /// <c>destination += weight · residual</c> for a received (normalised) residual atom: the decoder's counterpart of
    /// <see cref="AddRankOneAtoms"/>, with the same machine-independent arithmetic.
    /// </summary>
    public static void AddResidual(ReadOnlySpan<float> residual, float weight, Span<float> destination)
    {
        if (residual.Length != destination.Length)
        {
            throw new ArgumentException("The residual and the destination must have the same length.", nameof(residual));
        }

        ThinKernels.AddScaled(residual, weight, destination);
    }

    /// <summary>Decomposes <paramref name="tensor"/> (m×n row-major) with the active linear algebra provider.</summary>
    public void Decompose(ReadOnlySpan<float> tensor, int rows, int columns, AtomoOptions options, ulong seed) =>
        Decompose(tensor, rows, columns, options, seed, LinearAlgebraProvider.Current);

    /// <summary>Decomposes <paramref name="tensor"/> (m×n row-major) with <paramref name="provider"/>.</summary>
    /// <exception cref="ArgumentException">The tensor's length is not rows·columns.</exception>
    public void Decompose(ReadOnlySpan<float> tensor, int rows, int columns, AtomoOptions options, ulong seed, ILinearAlgebraProvider provider)
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
        _residualReady = false;
        int p = Math.Min(rows, columns);
        if (p <= 1)
        {
            DecomposeVector(tensor, rows, columns);
        }
        else if (options.SpectralMethod == SpectralMethod.Exact)
        {
            DecomposeExact(tensor, rows, columns, provider);
        }
        else
        {
            int k = (int)Math.Min(Math.Ceiling(options.Budget) + options.Oversampling, p);
            DecomposeFast(tensor, rows, columns, Math.Max(1, k), options.PowerIterations, seed, provider);
        }
    }

    /// <summary>
    /// Forms the residual atom R/‖R‖_F from the decomposed tensor (pass the same tensor; one pass over it).
    /// Idempotent; does nothing when the residual norm is 0.
    /// </summary>
    public void MaterializeResidual(ReadOnlySpan<float> tensor)
    {
        if (_residualReady || ResidualNorm == 0)
        {
            return;
        }

        int m = Rows, n = Columns;
        if (tensor.Length != m * n)
        {
            throw new ArgumentException("Pass the tensor that was decomposed.", nameof(tensor));
        }

        Grow(ref _residual, m * n);
        ReadOnlySpan<float> coefficients = _coefficients.AsSpan(0, Rank);
        for (int r = 0; r < m; r++)
        {
            ThinKernels.ResidualRow(tensor.Slice(r * n, n), r, m, coefficients, LeftVectors, RightVectors, Rank, _residual.AsSpan(r * n, n));
        }

        // Divide by the same norm that is the coefficient, so coefficient·atom reproduces R bit for bit up to one rounding.
        TensorPrimitives.Multiply(_residual.AsSpan(0, m * n), 1f / ResidualNorm, _residual.AsSpan(0, m * n));
        _residualReady = true;
    }

    /// <summary>
    /// <c>destination += Σ_j weights_j · atom_{atomIndices_j}</c> (m×n row-major): one GEMM over the kept rank-1 atoms,
    /// plus the residual atom if listed (it must have been materialised). Separate multiplies and adds in a fixed order:
    /// the same bits on every machine, so ranks reconstructing the same atoms agree bitwise.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, an index is out of range or repeated out of order.</exception>
    /// <exception cref="InvalidOperationException">The residual atom is listed but was not materialised.</exception>
    public void AddAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, Span<float> destination)
    {
        if (atomIndices.Length != weights.Length)
        {
            throw new ArgumentException("One weight per atom index is needed.", nameof(weights));
        }

        if (destination.Length != Rows * Columns)
        {
            throw new ArgumentException($"The destination must have {Rows * Columns} elements.", nameof(destination));
        }

        int count = 0;
        float residualWeight = 0;
        bool residual = false;
        foreach (int index in atomIndices)
        {
            if ((uint)index > (uint)Rank)
            {
                throw new ArgumentException($"Atom index {index} is outside 0..{Rank}.", nameof(atomIndices));
            }
        }

        Grow(ref _small, atomIndices.Length);
        if (_positions.Length < atomIndices.Length)
        {
            _positions = new int[atomIndices.Length];
        }

        Span<float> keptWeights = _small.AsSpan(0, atomIndices.Length);
        Span<int> positions = _positions.AsSpan(0, atomIndices.Length);
        for (int j = 0; j < atomIndices.Length; j++)
        {
            if (atomIndices[j] == Rank)
            {
                residual = true;
                residualWeight += weights[j];
            }
            else
            {
                keptWeights[count] = weights[j];
                positions[count] = atomIndices[j];
                count++;
            }
        }

        if (residual && residualWeight != 0 && ResidualNorm != 0 && !_residualReady)
        {
            throw new InvalidOperationException("The residual atom was kept: call MaterializeResidual(tensor) before reconstructing it.");
        }

        // Stack the kept atoms' vectors, then one GEMM (m×K)·(K×n).
        int m = Rows, n = Columns;
        float[] left = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Max(1, count * m));
        float[] right = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Max(1, count * n));
        try
        {
            for (int j = 0; j < count; j++)
            {
                int atom = positions[j];
                LeftVector(atom).CopyTo(left.AsSpan(j * m, m));
                RightVector(atom).CopyTo(right.AsSpan(j * n, n));
            }

            ThinKernels.AddOuterProducts(m, n, left, right, keptWeights[..count], destination);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(left);
            System.Buffers.ArrayPool<float>.Shared.Return(right);
        }

        if (residual && residualWeight != 0 && _residualReady)
        {
            ThinKernels.AddScaled(Residual, residualWeight, destination);
        }
    }

    private void DecomposeVector(ReadOnlySpan<float> tensor, int rows, int columns)
    {
        Rank = Math.Min(rows, columns);
        Grow(ref _coefficients, Rank + 1);
        _coefficients[Rank] = 0;
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
        Grow(ref _coefficients, p + 1);
        Grow(ref _y, m * p);
        Grow(ref _right, p * n);
        Grow(ref _left, p * m);
        provider.Svd(tensor, m, n, _coefficients.AsSpan(0, p), _y.AsSpan(0, m * p), _right.AsSpan(0, p * n));
        Transpose(_y, m, p, _left);
        _coefficients[p] = 0;
    }

    private void DecomposeFast(ReadOnlySpan<float> g, int m, int n, int k, int powerIterations, ulong seed, ILinearAlgebraProvider provider)
    {
        Rank = k;
        Grow(ref _coefficients, k + 1);
        Grow(ref _y, m * k);
        Grow(ref _zt, k * n);
        Grow(ref _z, n * k);
        Grow(ref _t, 3 * k * k);
        Grow(ref _left, k * m);
        Grow(ref _right, k * n);
        Grow(ref _rowScratch, n);
        Span<float> y = _y.AsSpan(0, m * k);
        Span<float> zt = _zt.AsSpan(0, k * n);
        Span<float> z = _z.AsSpan(0, n * k);
        Span<float> t = _t.AsSpan(0, k * k);
        Span<float> smallU = _t.AsSpan(k * k, k * k);
        Span<float> smallVt = _t.AsSpan(2 * k * k, k * k);
        Span<float> sigma = _coefficients.AsSpan(0, k);

        // Ωᵀ (k×n), Gaussian, from the seed alone.
        Gaussian.Fill(zt, seed);
        ThinKernels.MultiplyByTransposed(g, m, n, zt, k, y);

        if (powerIterations == 0)
        {
            // Two passes: Y = GΩ with ‖G‖², then B = QᵀG accumulated in double; the residual norm from
            // ‖G − QB_f‖² = ‖G‖² − 2⟨QᵀG, B_f⟩ + ⟨QᵀQ, B_f·B_fᵀ⟩ (B_f = B rounded to float, what the atoms hold).
            Grow(ref _yd, Math.Max(m, n) * k);
            Span<double> yd = _yd.AsSpan(0, m * k);
            double gNormSquared = ThinKernels.MultiplyByTransposedAccurate(g, m, n, zt, k, yd);
            for (int i = 0; i < yd.Length; i++)
            {
                y[i] = (float)yd[i];
            }

            ThinQR.Factor(provider, y, m, k, t);                  // y ← Q
            Span<double> bd = _yd.AsSpan(0, k * n);
            ThinKernels.TransposeMultiplyAccurate(g, m, n, y, k, bd, z); // bd ← B = QᵀG (k×n), z as scratch
            double cross = 0;
            for (int i = 0; i < bd.Length; i++)
            {
                zt[i] = (float)bd[i];
                cross += bd[i] * zt[i];
            }

            double residualFormula = gNormSquared - (2 * cross) + GramInner(y, m, zt, n, k);

            // SVD of the wide B via the QR of Bᵀ: Bᵀ = Q₂T, T ᵀ = U_s Σ W_sᵀ, so B = U_s Σ (Q₂W_s)ᵀ.
            Transpose(_zt, k, n, _z);
            ThinQR.Factor(provider, z, n, k, t);                  // z ← Q₂ (n×k)
            Transpose(_t, k, k, EnsureSmall(k));
            provider.Svd(_small.AsSpan(0, k * k), k, k, sigma, smallU, smallVt);
            // u_i = (Q·U_s)_i, stored as rows: left = U_sᵀ·Qᵀ (k×m).
            provider.Gemm(true, true, k, m, k, 1, smallU, k, y, k, 0, _left, m);
            // v_i = (Q₂·W_s)_i: right = W_sᵀ·Q₂ᵀ = Vtₛ·Q₂ᵀ (k×n).
            provider.Gemm(false, true, k, n, k, 1, smallVt, k, z, k, 0, _right, n);
            if (residualFormula >= 1e-4 * gNormSquared)
            {
                _coefficients[k] = (float)Math.Sqrt(residualFormula);
                return;
            }
        }
        else
        {
            double gNormSquared = 0;
            Grow(ref _yd, m * k);
            Span<double> yd = _yd.AsSpan(0, m * k);
            for (int iteration = 0; iteration < powerIterations; iteration++)
            {
                ThinQR.Factor(provider, y, m, k, t);                          // y ← Q
                ThinKernels.TransposeMultiply(g, m, n, y, k, zt); // zt ← QᵀG = (GᵀQ)ᵀ
                Transpose(_zt, k, n, _z);
                ThinQR.Factor(provider, z, n, k, t);                          // z ← Z = orth(GᵀQ)
                Transpose(_z, n, k, _zt);
                if (iteration + 1 < powerIterations)
                {
                    ThinKernels.MultiplyByTransposed(g, m, n, zt, k, y); // y ← GZ
                }
                else
                {
                    // The last pass, Y = GZ, with block-wise double accumulation, plus ‖G‖².
                    gNormSquared = ThinKernels.MultiplyByTransposedAccurate(g, m, n, zt, k, yd);
                    for (int i = 0; i < yd.Length; i++)
                    {
                        y[i] = (float)yd[i];
                    }
                }
            }

            // R = G − YZᵀ = G(I − ZZᵀ), so ‖R‖² = ‖G‖² − 2‖Y‖² + ⟨YᵀY, ZᵀZ⟩ exactly for the computed (float) Z,
            // which saves a pass. Evaluated in double from the double Y; its error is a few float roundings of ‖G‖²,
            // so it is trusted only when ‖R‖² ≥ 10⁻⁴·‖G‖² (then λ is within ~10⁻³ relative in the worst case and
            // the materialised atom R_f/λ still sums with the others to G exactly). Otherwise an explicit pass.
            double residualFormula = gNormSquared - (2 * SumOfSquares(yd)) + GramInner(yd, m, zt, n, k);

            // G·Z·Zᵀ = Y·Zᵀ with Y = Q_y·T = Q_y·U_s·Σ·W_sᵀ: u_i = (Q_y·U_s)_i, v_i = (Z·W_s)_i.
            ThinQR.Factor(provider, y, m, k, t);
            provider.Svd(t, k, k, sigma, smallU, smallVt);
            provider.Gemm(true, true, k, m, k, 1, smallU, k, y, k, 0, _left, m);
            provider.Gemm(false, false, k, n, k, 1, smallVt, k, zt, n, 0, _right, n);
            if (residualFormula >= 1e-4 * gNormSquared)
            {
                _coefficients[k] = (float)Math.Sqrt(residualFormula);
                return;
            }
        }

        // The residual's norm by an explicit pass over G.
        ReadOnlySpan<float> left = _left.AsSpan(0, k * m), right = _right.AsSpan(0, k * n);
        double residual = ThinKernels.ResidualNormSquared(g, m, n, sigma, left, right, k, _rowScratch.AsSpan(0, n));

        // ‖G‖² = Σσ² + ‖R‖² for orthonormal atoms. A residual below 2⁻²⁰·‖G‖ is float rounding noise, not a direction
        // of G: it is dropped (coefficient 0) so it is never sent and the atoms stay orthonormal; the atoms then sum to
        // G within 2⁻²⁰·‖G‖, the same order as the rounding of the other atoms.
        double total = residual + ThinKernels.SumOfSquares(sigma);
        _coefficients[k] = residual <= total * NoiseFloorSquared ? 0f : (float)Math.Sqrt(residual);
    }

    private static double SumOfSquares(ReadOnlySpan<double> x)
    {
        double sum = 0;
        foreach (double v in x)
        {
            sum += v * v;
        }

        return sum;
    }

    /// <summary>⟨QᵀQ, BBᵀ⟩ for Q (m×k, float) and B (k×n, float rows), in double.</summary>
    private static double GramInner(ReadOnlySpan<float> q, int m, ReadOnlySpan<float> b, int n, int k)
    {
        double sum = 0;
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double qq = 0, bb = 0;
                for (int r = 0; r < m; r++)
                {
                    qq += (double)q[(r * k) + i] * q[(r * k) + j];
                }

                ReadOnlySpan<float> a = b.Slice(i * n, n), c = b.Slice(j * n, n);
                for (int col = 0; col < n; col++)
                {
                    bb += (double)a[col] * c[col];
                }

                sum += (i == j ? 1 : 2) * qq * bb;
            }
        }

        return sum;
    }

    /// <summary>⟨YᵀY, ZᵀZ⟩ = Σ_ij (YᵀY)_ij (ZᵀZ)_ij for Y (m×k, double) and Z given as rows Zᵀ (k×n, float).</summary>
    private static double GramInner(ReadOnlySpan<double> y, int m, ReadOnlySpan<float> zt, int n, int k)
    {
        double sum = 0;
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double yy = 0, zz = 0;
                for (int r = 0; r < m; r++)
                {
                    yy += y[(r * k) + i] * y[(r * k) + j];
                }

                ReadOnlySpan<float> a = zt.Slice(i * n, n), b = zt.Slice(j * n, n);
                for (int c = 0; c < n; c++)
                {
                    zz += (double)a[c] * b[c];
                }

                sum += (i == j ? 1 : 2) * yy * zz;
            }
        }

        return sum;
    }

    /// <summary>(2⁻²⁰)²: residuals with ‖R‖ ≤ 2⁻²⁰·‖G‖ are treated as rounding noise.</summary>
    internal const double NoiseFloorSquared = 1.0 / (1L << 40);

    private float[] EnsureSmall(int k)
    {
        Grow(ref _small, k * k);
        return _small;
    }

    private static void Transpose(float[] source, int rows, int columns, float[] destination)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                destination[(c * rows) + r] = source[(r * columns) + c];
            }
        }
    }

    private static void Grow(ref double[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new double[length];
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
