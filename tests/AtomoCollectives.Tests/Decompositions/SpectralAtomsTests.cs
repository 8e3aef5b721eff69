using AtomoCollectives.Decompositions;
using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Tests.Decompositions;

public class SpectralAtomsTests
{
    public enum Kind
    {
        Gaussian,
        RankThree,
        Zero,
    }

    /// <summary>Shapes: 1-D, 1×n, n×1, tall, wide, square, conv-like N-D, rank-deficient and all-zero.</summary>
    public static TheoryData<SpectralMethod, int[], Kind> Cases()
    {
        var data = new TheoryData<SpectralMethod, int[], Kind>();
        foreach (SpectralMethod method in new[] { SpectralMethod.Fast, SpectralMethod.Exact })
        {
            data.Add(method, [50], Kind.Gaussian);
            data.Add(method, [1, 40], Kind.Gaussian);
            data.Add(method, [40, 1], Kind.Gaussian);
            data.Add(method, [60, 12], Kind.Gaussian);
            data.Add(method, [12, 60], Kind.Gaussian);
            data.Add(method, [33, 33], Kind.Gaussian);
            data.Add(method, [8, 3, 3, 3], Kind.Gaussian);
            data.Add(method, [40, 30], Kind.RankThree);
            data.Add(method, [30, 40], Kind.RankThree);
            data.Add(method, [20, 10], Kind.Zero);
            data.Add(method, [1, 9], Kind.Zero);
        }

        return data;
    }

    public static TheoryData<string> Providers => ["native", "managed"];

    private static ILinearAlgebraProvider Provider(string name) => LinearAlgebraProvider.Select(name, null).Provider;

    private static float[] Make(TensorShape shape, Kind kind, int seed)
    {
        (int rows, int columns) = shape.MatrixView;
        return kind switch
        {
            Kind.Gaussian => TestMatrices.Gaussian(shape.ElementCount, seed),
            Kind.RankThree => TestMatrices.LowRank(rows, columns, 3, seed),
            _ => new float[shape.ElementCount],
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AtomsReconstructTheTensorAndAreOrthonormal(SpectralMethod method, int[] dimensions, Kind kind)
    {
        foreach (string provider in new[] { "native", "managed" })
        {
            TensorShape shape = TensorShape.Of(dimensions);
            (int m, int n) = shape.MatrixView;
            float[] g = Make(shape, kind, 17 * m + n);
            var atoms = new SpectralAtoms();
            var options = new AtomoOptions { SpectralMethod = method, Budget = 3 };
            atoms.Decompose(g, m, n, options, seed: 42, Provider(provider));

            // Coefficients are non-negative (ATOMO's λ_i = σ_i).
            Assert.All(atoms.Coefficients.ToArray(), c => Assert.True(c >= 0));

            // Reconstruction: float SVD/QR are backward stable, error ≈ c·p·ε_f·‖G‖ ≤ 1e-5·‖G‖ for these sizes
            // (the brief's bound); the flushed noise residual adds ≤ 2⁻²⁰·‖G‖ ≈ 9.5e-7·‖G‖.
            float[] back = TestMatrices.ReconstructAll(atoms, g);
            double norm = TestMatrices.Norm(g);
            Assert.True(TestMatrices.Distance(g, back) <= 1e-5 * Math.Max(norm, 1e-30) || (norm == 0 && TestMatrices.Norm(back) == 0), $"{provider}: error {TestMatrices.Distance(g, back)} of {norm}");

            // Gram matrix of the rank-1 atoms: ⟨u_iv_iᵀ, u_jv_jᵀ⟩ = (u_iᵀu_j)(v_iᵀv_j); Householder QR and LAPACK SVD give
            // ‖UᵀU − I‖ ≤ c·max(m,n)·ε_f, so we allow 8·(m+n)·ε_f. The residual R = G − YZᵀ is orthogonal to every
            // atom (its rows are orthogonal to span Z, which holds every v_i) up to the rounding of R and of the atoms:
            // |⟨R, u_iv_iᵀ⟩| ≤ 8·(m + n + k)·ε_f·‖G‖.
            float[][] dense = TestMatrices.DenseAtoms(atoms, g);
            int count = atoms.Coefficients.Length;
            Assert.Equal(atoms.Rank, count);
            double baseTolerance = 8 * (m + n) * TestMatrices.FloatEpsilon;
            for (int i = 0; i < count; i++)
            {
                for (int j = 0; j <= i; j++)
                {
                    double expected = i == j ? 1 : 0;
                    double actual = TestMatrices.Dot(dense[i], dense[j]);
                    Assert.True(Math.Abs(actual - expected) <= baseTolerance, $"{provider}: <{i},{j}> = {actual}, tolerance {baseTolerance}");
                }

                if (atoms.HasResidual)
                {
                    double inner = TestMatrices.Dot(dense[i], atoms.Residual.ToArray());
                    double tolerance = 8 * (m + n + atoms.Rank) * TestMatrices.FloatEpsilon * norm;
                    Assert.True(Math.Abs(inner) <= tolerance, $"{provider}: <R, atom {i}> = {inner}, tolerance {tolerance}");
                }
            }

            Assert.True(method == SpectralMethod.Fast || !atoms.HasResidual, "the exact SVD leaves no residual");
        }
    }

    [Fact]
    public void FastFindsAnExactlyLowRankMatrixWithNoResidual()
    {
        float[] g = TestMatrices.LowRank(80, 50, 3, 5);
        var fast = new SpectralAtoms();
        var exact = new SpectralAtoms();
        fast.Decompose(g, 80, 50, new AtomoOptions { Budget = 3 }, 1, LinearAlgebraProvider.Current);
        exact.Decompose(g, 80, 50, new AtomoOptions { SpectralMethod = SpectralMethod.Exact }, 1, LinearAlgebraProvider.Current);

        // k = 7 ≥ rank 3: the sketch spans the range, the residual is rounding noise and is dropped.
        Assert.False(fast.HasResidual);
        Assert.Equal(0, fast.ResidualNorm);
        double norm = TestMatrices.Norm(g);
        for (int i = 0; i < 3; i++)
        {
            // Both are backward-stable float computations of the same σ_i: |Δσ| ≤ c·p·ε_f·‖G‖, c·p ≤ 8·(m+n).
            Assert.True(Math.Abs(fast.Coefficients[i] - exact.Coefficients[i]) <= 8 * 130 * TestMatrices.FloatEpsilon * norm);
        }
    }

    /// <summary>
    /// Unbiasedness of the whole path with a deliberately poor sketch (width ⌈s⌉, a random subspace or one power
    /// iteration): the mean of T estimates Σ_kept (λ_i/p_i)·atom_i + Σ_kept (r_j/p_j)·e_j must be G. The error of the
    /// mean is x + y, x in the span of the orthonormal rank-1 atoms and y in that of the residual's coordinates, with
    /// ‖x‖² = Σ_i V_i·Z_i²/T (V_i = λ_i²(1/p_i − 1), Z_i standardised) and likewise y; so
    /// ‖mean − G‖ ≤ 6·(√V₁ + √V₂)/√T fails only if some |Z_i| > 6 (probability ~1e-9 per atom).
    /// </summary>
    [Theory]
    [InlineData(Sampling.Independent, 1.0, 0)]
    [InlineData(Sampling.Systematic, 1.0, 0)]
    [InlineData(Sampling.Independent, 1.5, 0)]
    [InlineData(Sampling.Systematic, 1.0, 1)]
    [InlineData(Sampling.Independent, 1.0, 1)]
    public void FastIsUnbiasedEvenWithAPoorSketch(Sampling sampling, double budget, int powerIterations)
    {
        const int Rows = 30, Columns = 20, Trials = 8000;
        float[] g = TestMatrices.Gaussian(Rows * Columns, 99);
        var atoms = new SpectralAtoms();
        var options = new AtomoOptions { Budget = budget, Oversampling = 0, PowerIterations = powerIterations };
        atoms.Decompose(g, Rows, Columns, options, 7, LinearAlgebraProvider.Current);
        Assert.Equal((int)Math.Ceiling(budget), atoms.Rank);

        // A rough sketch leaves most of G in the residual: its coordinate atoms matter here.
        Assert.True(atoms.ResidualNorm > 0.5 * TestMatrices.Norm(g));
        var rankOne = new AtomSelection();
        var residual = new AtomSelection();
        (WaterLevel first, WaterLevel second) = SpectralSparsifier.Sample(atoms, budget, sampling, ValuePrecision.Float32, 1, rankOne, residual);
        (double rankOneVariance, double residualVariance) = SpectralSparsifier.Variances(atoms, first, second);
        Assert.True(rankOneVariance + residualVariance > 0, "the test needs atoms with p < 1");
        var sum = new double[g.Length];
        var estimate = new float[g.Length];
        for (int t = 0; t < Trials; t++)
        {
            SpectralSparsifier.Sample(atoms, budget, sampling, ValuePrecision.Float32, (ulong)(1000 + t), rankOne, residual);
            Array.Clear(estimate);
            atoms.AddAtoms(rankOne.Indices, rankOne.Values, estimate);
            residual.AddTo(estimate);
            for (int e = 0; e < g.Length; e++)
            {
                sum[e] += estimate[e];
            }
        }

        double error = 0;
        for (int e = 0; e < g.Length; e++)
        {
            double d = (sum[e] / Trials) - g[e];
            error += d * d;
        }

        double bound = 6 * (Math.Sqrt(rankOneVariance) + Math.Sqrt(residualVariance)) / Math.Sqrt(Trials);
        Assert.True(Math.Sqrt(error) <= bound, $"‖mean − G‖ = {Math.Sqrt(error)}, bound {bound}");

        // And the test can fail: dropping the residual (a biased estimator) is detected.
        Assert.True(atoms.ResidualNorm > 10 * bound, $"‖R‖ = {atoms.ResidualNorm}, bound {bound}, V = {rankOneVariance} + {residualVariance}");
    }

    [Theory]
    [InlineData(SpectralMethod.Fast, 64, 48)]
    [InlineData(SpectralMethod.Fast, 48, 64)]
    [InlineData(SpectralMethod.Exact, 64, 48)]
    [InlineData(SpectralMethod.Exact, 48, 64)]
    public void NativeAndManagedProvidersAgree(SpectralMethod method, int m, int n)
    {
        // A well-separated spectrum (rank-5 signal + 1e-3 noise) so singular values are well conditioned.
        float[] g = TestMatrices.LowRank(m, n, 5, 3);
        float[] noise = TestMatrices.Gaussian(m * n, 4);
        for (int i = 0; i < g.Length; i++)
        {
            g[i] += 1e-3f * noise[i];
        }

        var options = new AtomoOptions { SpectralMethod = method, Budget = 3 };
        var native = new SpectralAtoms();
        var managed = new SpectralAtoms();
        native.Decompose(g, m, n, options, 9, Provider("native"));
        managed.Decompose(g, m, n, options, 9, Provider("managed"));
        Assert.Equal(native.Rank, managed.Rank);

        // Same sketch, same subspaces; singular values from two backward-stable float computations differ by at most
        // c·p·ε_f·‖G‖ each; we allow 2·8·(m+n)·ε_f·‖G‖. Atoms may differ in sign, so compare σ and the residual norm,
        // and the dominant rank-1 projections (unique for separated σ, up to sign) through |⟨atom_native, atom_managed⟩|.
        double norm = TestMatrices.Norm(g);
        double tolerance = 16 * (m + n) * TestMatrices.FloatEpsilon * norm;
        for (int i = 0; i < native.Coefficients.Length; i++)
        {
            Assert.True(Math.Abs(native.Coefficients[i] - managed.Coefficients[i]) <= tolerance, $"coefficient {i}: {native.Coefficients[i]} vs {managed.Coefficients[i]}");
        }

        float[][] a = TestMatrices.DenseAtoms(native, g), b = TestMatrices.DenseAtoms(managed, g);
        for (int i = 0; i < 5; i++)
        {
            // Singular gaps here are ≥ 1·min|a||b| ≫ the perturbation, so the atoms agree to the same order.
            Assert.True(1 - Math.Abs(TestMatrices.Dot(a[i], b[i])) <= 1e-4, $"atom {i}: {TestMatrices.Dot(a[i], b[i])}");
        }
    }

    /// <summary>
    /// The residual is G − Σσ_i u_i v_iᵀ, computed here in double from the atoms, for a large residual (Gaussian) and a
    /// small one (rank 3 + 10⁻³ noise), cold with q = 0, 1, 2 and warm. R is formed as G − YZᵀ and the atoms are the
    /// SVD of YZᵀ, so the two differ by the rounding of that SVD: ‖ΔR‖ ≤ 8·(m + n)·ε_f·‖G‖.
    /// </summary>
    [Theory]
    [InlineData(false, 1, false)]
    [InlineData(true, 1, false)]
    [InlineData(false, 0, false)]
    [InlineData(true, 0, false)]
    [InlineData(false, 2, false)]
    [InlineData(true, 0, true)]
    public void ResidualIsTheTensorLessItsAtoms(bool nearlyLowRank, int powerIterations, bool warm)
    {
        const int M = 90, N = 70;
        float[] g = nearlyLowRank ? TestMatrices.LowRank(M, N, 3, 21) : TestMatrices.Gaussian(M * N, 21);
        if (nearlyLowRank)
        {
            float[] noise = TestMatrices.Gaussian(M * N, 22);
            for (int i = 0; i < g.Length; i++)
            {
                g[i] += 1e-3f * noise[i];
            }
        }

        var atoms = new SpectralAtoms();
        var options = new AtomoOptions { PowerIterations = powerIterations };
        SpectralSketch? sketch = warm ? new SpectralSketch() : null;
        atoms.Decompose(g, M, N, options, 3, LinearAlgebraProvider.Current, sketch);
        if (warm)
        {
            atoms.Decompose(g, M, N, options, 4, LinearAlgebraProvider.Current, sketch);
            Assert.Equal(1, sketch!.WarmCalls);
        }

        double norm = TestMatrices.Norm(g), difference = 0, residualSquares = 0;
        ReadOnlySpan<float> residual = atoms.Residual;
        Assert.True(atoms.HasResidual);
        for (int r = 0; r < M; r++)
        {
            for (int c = 0; c < N; c++)
            {
                double value = g[(r * N) + c];
                for (int i = 0; i < atoms.Rank; i++)
                {
                    value -= (double)atoms.Coefficients[i] * atoms.LeftVector(i)[r] * atoms.RightVector(i)[c];
                }

                residualSquares += value * value;
                difference += Math.Pow(value - residual[(r * N) + c], 2);
            }
        }

        double tolerance = 8 * (M + N) * TestMatrices.FloatEpsilon * norm;
        Assert.True(Math.Sqrt(difference) <= tolerance, $"‖R − (G − Σσuvᵀ)‖ = {Math.Sqrt(difference)}, tolerance {tolerance}");
        Assert.True(Math.Abs(atoms.ResidualNorm - Math.Sqrt(residualSquares)) <= tolerance, $"{atoms.ResidualNorm} vs {Math.Sqrt(residualSquares)}");
        Assert.True(
            nearlyLowRank && powerIterations + (warm ? 1 : 0) > 0 ? atoms.ResidualNorm < 1e-2 * norm : atoms.ResidualNorm > 1e-3 * norm,
            "the case exercises the intended path");
    }

    /// <summary>
    /// A warm start converges to the dominant subspace: on a matrix with a decaying spectrum, starting from a random
    /// subspace (q = 0), each call is one power iteration, and after six calls the residual is within 1 % of the best
    /// rank-k residual (the exact SVD's tail), while the first, cold call is far from it.
    /// </summary>
    [Fact]
    public void WarmStartConvergesToTheBestRankKResidual()
    {
        const int M = 120, N = 80, K = 7;
        float[] g = TestMatrices.Decaying(M, N, 0.7, 31);
        var exact = new SpectralAtoms();
        exact.Decompose(g, M, N, new AtomoOptions { SpectralMethod = SpectralMethod.Exact }, 0, LinearAlgebraProvider.Current);
        double tail = Math.Sqrt(exact.Coefficients[K..].ToArray().Sum(x => (double)x * x));
        var options = new AtomoOptions { Budget = 3, Oversampling = K - 3, PowerIterations = 0 };
        var sketch = new SpectralSketch();
        var atoms = new SpectralAtoms();
        atoms.Decompose(g, M, N, options, 5, LinearAlgebraProvider.Current, sketch);
        double cold = atoms.ResidualNorm;
        for (int call = 0; call < 6; call++)
        {
            atoms.Decompose(g, M, N, options, 5, LinearAlgebraProvider.Current, sketch);
        }

        Assert.True(cold > 1.5 * tail, $"cold {cold} vs best {tail}: the case needs a poor cold start");
        Assert.True(atoms.ResidualNorm <= 1.01 * tail, $"warm residual {atoms.ResidualNorm}, best rank-{K} residual {tail}");
        Assert.Equal(6, sketch.WarmCalls);
    }

    /// <summary>A kept basis for another shape or width is ignored (same bits as a cold start) and then replaced.</summary>
    [Fact]
    public void SketchForAnotherShapeIsIgnored()
    {
        float[] a = TestMatrices.Gaussian(40 * 30, 1), b = TestMatrices.Gaussian(30 * 40, 2);
        var options = new AtomoOptions();
        var sketch = new SpectralSketch();
        var warm = new SpectralAtoms();
        warm.Decompose(a, 40, 30, options, 9, LinearAlgebraProvider.Current, sketch);
        warm.Decompose(b, 30, 40, options, 9, LinearAlgebraProvider.Current, sketch);
        var cold = new SpectralAtoms();
        cold.Decompose(b, 30, 40, options, 9, LinearAlgebraProvider.Current);
        Assert.Equal(0, sketch.WarmCalls);
        Assert.True(cold.Coefficients.SequenceEqual(warm.Coefficients));
        Assert.True(cold.Residual.SequenceEqual(warm.Residual));
        Assert.Equal(30, sketch.Rows);
        Assert.Equal(40, sketch.Columns);
    }

    [Fact]
    public void NonFiniteTensorsAreRefusedWithTheirIndex()
    {
        float[] g = TestMatrices.Gaussian(20 * 16, 3);
        g[37] = float.NaN;
        var sketch = new SpectralSketch();
        var error = Assert.Throws<ArgumentException>(() => new SpectralAtoms().Decompose(g, 20, 16, new AtomoOptions(), 1, LinearAlgebraProvider.Current, sketch));
        Assert.Contains("37", error.Message);
        Assert.Equal(0, sketch.Rows);
        g[37] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => new SpectralAtoms().Decompose(g, 20, 16, new AtomoOptions { SpectralMethod = SpectralMethod.Exact }, 1, LinearAlgebraProvider.Current));
    }

    [Fact]
    public void SameSeedGivesBitwiseSameAtoms()
    {
        float[] g = TestMatrices.Gaussian(70 * 45, 8);
        var first = new SpectralAtoms();
        var second = new SpectralAtoms();
        first.Decompose(g, 70, 45, new AtomoOptions(), 123, LinearAlgebraProvider.Current);
        second.Decompose(g, 70, 45, new AtomoOptions(), 123, LinearAlgebraProvider.Current);
        Assert.True(first.Coefficients.SequenceEqual(second.Coefficients));
        Assert.True(first.LeftVectors.SequenceEqual(second.LeftVectors));
        Assert.True(first.RightVectors.SequenceEqual(second.RightVectors));

        // Reusing an instance gives the same bits too.
        second.Decompose(TestMatrices.Gaussian(30 * 20, 1), 30, 20, new AtomoOptions(), 5, LinearAlgebraProvider.Current);
        second.Decompose(g, 70, 45, new AtomoOptions(), 123, LinearAlgebraProvider.Current);
        Assert.True(first.Coefficients.SequenceEqual(second.Coefficients));
        Assert.True(first.LeftVectors.SequenceEqual(second.LeftVectors));
    }

    [Fact]
    public void AddRankOneAtomsIsTheStackedOuterProduct()
    {
        const int M = 13, N = 21, K = 6;
        float[] left = TestMatrices.Gaussian(K * M, 1), right = TestMatrices.Gaussian(K * N, 2), weights = TestMatrices.Gaussian(K, 3);
        float[] destination = TestMatrices.Gaussian(M * N, 4);
        var expected = new double[M * N];
        for (int r = 0; r < M; r++)
        {
            for (int c = 0; c < N; c++)
            {
                double sum = destination[(r * N) + c];
                for (int j = 0; j < K; j++)
                {
                    sum += (double)weights[j] * left[(j * M) + r] * right[(j * N) + c];
                }

                expected[(r * N) + c] = sum;
            }
        }

        SpectralAtoms.AddRankOneAtoms(M, N, left, right, weights, destination);

        // K + 1 float roundings per entry of terms bounded by Σ|w·l·r| + |d|.
        for (int e = 0; e < expected.Length; e++)
        {
            Assert.True(Math.Abs(destination[e] - expected[e]) <= 1e-5 * (1 + Math.Abs(expected[e])) * 10);
        }
    }

    [Fact]
    public void AddAtomsTakesRankOneAtomsOnly()
    {
        float[] g = TestMatrices.Gaussian(20 * 20, 2);
        var atoms = new SpectralAtoms();
        atoms.Decompose(g, 20, 20, new AtomoOptions(), 1, LinearAlgebraProvider.Current);
        Assert.True(atoms.HasResidual);
        Assert.Throws<ArgumentException>(() => atoms.AddAtoms([atoms.Rank], [1f], new float[400]));
        Assert.Throws<ArgumentException>(() => atoms.AddAtoms([0], [1f], new float[399]));
    }
}
