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

            // Gram matrix of the atoms with non-zero coefficient (zero ones are never sent; for the zero tensor they
            // are still unit-norm directions, but the residual is absent). Rank-1 atoms: ⟨u_iv_iᵀ, u_jv_jᵀ⟩ =
            // (u_iᵀu_j)(v_iᵀv_j); Householder QR and LAPACK SVD give ‖UᵀU − I‖ ≤ c·max(m,n)·ε_f, so we allow
            // 8·(m+n)·ε_f. The residual atom R_f/‖R‖ is off by the rounding of R_f, ≤ (k+2)·ε_f·‖G‖ relative to ‖R‖,
            // so pairs with it get an extra 8·(k+2)·ε_f·‖G‖/‖R‖.
            float[][] dense = TestMatrices.DenseAtoms(atoms, g);
            int count = atoms.Coefficients.Length;
            double baseTolerance = 8 * (m + n) * TestMatrices.FloatEpsilon;
            double residualNorm = atoms.ResidualNorm;
            double residualTolerance = residualNorm > 0 ? 8 * (atoms.Rank + 2) * TestMatrices.FloatEpsilon * norm / residualNorm : 0;
            for (int i = 0; i < count; i++)
            {
                bool iUsed = i < atoms.Rank || residualNorm > 0;
                for (int j = 0; j <= i && iUsed; j++)
                {
                    double expected = i == j ? 1 : 0;
                    double tolerance = baseTolerance + (i == atoms.Rank || j == atoms.Rank ? residualTolerance : 0);
                    double actual = TestMatrices.Dot(dense[i], dense[j]);
                    Assert.True(Math.Abs(actual - expected) <= tolerance, $"{provider}: <{i},{j}> = {actual}, tolerance {tolerance}");
                }
            }
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
        Assert.Equal(0f, fast.ResidualNorm);
        double norm = TestMatrices.Norm(g);
        for (int i = 0; i < 3; i++)
        {
            // Both are backward-stable float computations of the same σ_i: |Δσ| ≤ c·p·ε_f·‖G‖, c·p ≤ 8·(m+n).
            Assert.True(Math.Abs(fast.Coefficients[i] - exact.Coefficients[i]) <= 8 * 130 * TestMatrices.FloatEpsilon * norm);
        }
    }

    /// <summary>
    /// Unbiasedness of the whole path with a deliberately poor sketch (width 1, no power iteration): the mean of
    /// T independent estimates Σ_kept (λ_i/p_i)·atom_i must be G. The error of the mean lies in the span of the atoms,
    /// ‖mean − G‖² = Σ_i V_i·Z_i²/T with V_i = λ_i²(1/p_i − 1), Σ V_i = V, Z_i standardised: so
    /// ‖mean − G‖ ≤ 6·√(V/T) fails only if some |Z_i| > 6 (probability ~1e-9 per atom).
    /// </summary>
    [Theory]
    [InlineData(Sampling.Independent, 1.0, 0)]
    [InlineData(Sampling.Systematic, 1.0, 0)]
    [InlineData(Sampling.Independent, 1.5, 0)]
    [InlineData(Sampling.Independent, 1.0, 1)]
    public void FastIsUnbiasedEvenWithAPoorSketch(Sampling sampling, double budget, int powerIterations)
    {
        const int Rows = 30, Columns = 20, Trials = 4000;
        float[] g = TestMatrices.Gaussian(Rows * Columns, 99);
        var atoms = new SpectralAtoms();
        var options = new AtomoOptions { Budget = budget, Oversampling = 0, PowerIterations = powerIterations };
        atoms.Decompose(g, Rows, Columns, options, 7, LinearAlgebraProvider.Current);
        Assert.Equal((int)Math.Ceiling(budget), atoms.Rank);

        // A rough sketch leaves most of G in the residual: the residual atom matters here.
        Assert.True(atoms.ResidualNorm > 0.5 * TestMatrices.Norm(g));
        ReadOnlySpan<float> lambda = atoms.Coefficients;
        var p = new double[lambda.Length];
        AtomicSparsifier.Probabilities(lambda, budget, p);
        double variance = 0;
        for (int i = 0; i < lambda.Length; i++)
        {
            variance += p[i] > 0 ? (double)lambda[i] * lambda[i] * ((1 / p[i]) - 1) : 0;
        }

        Assert.True(variance > 0, "the test needs atoms with p < 1");
        var all = new int[lambda.Length];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = i;
        }

        atoms.PrepareKept(g, all);
        var sum = new double[g.Length];
        var estimate = new float[g.Length];
        var selection = new AtomSelection();
        for (int t = 0; t < Trials; t++)
        {
            selection.Clear();
            AtomicSparsifier.Sample(lambda, budget, sampling, (ulong)(1000 + t), selection);
            Array.Clear(estimate);
            atoms.AddAtoms(selection.Indices, selection.Values, estimate);
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

        double bound = 6 * Math.Sqrt(variance / Trials);
        Assert.True(Math.Sqrt(error) <= bound, $"‖mean − G‖ = {Math.Sqrt(error)}, bound {bound}");

        // And the test can fail: dropping the residual atom (a biased estimator) is detected.
        Assert.True(atoms.ResidualNorm > 10 * bound);
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
    /// The residual coefficient equals ‖G − Σσ_i u_i v_iᵀ‖ computed here in double, both where it comes from the
    /// one-pass formula (a Gaussian matrix: large residual) and where the explicit pass is used (rank 3 + 10⁻³ noise:
    /// ‖R‖² &lt; 10⁻⁴‖G‖²). Tolerance: the float atoms perturb R by ≤ 8(k+2)·ε_f·‖G‖, relative to ‖R‖.
    /// </summary>
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 2)]
    public void ResidualCoefficientIsTheResidualNorm(bool nearlyLowRank, int powerIterations)
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
        atoms.Decompose(g, M, N, new AtomoOptions { PowerIterations = powerIterations }, 3, LinearAlgebraProvider.Current);
        double norm = TestMatrices.Norm(g), residual = 0;
        for (int r = 0; r < M; r++)
        {
            for (int c = 0; c < N; c++)
            {
                double value = g[(r * N) + c];
                for (int i = 0; i < atoms.Rank; i++)
                {
                    value -= (double)atoms.Coefficients[i] * atoms.LeftVector(i)[r] * atoms.RightVector(i)[c];
                }

                residual += value * value;
            }
        }

        residual = Math.Sqrt(residual);
        Assert.True(nearlyLowRank ? residual < 1e-2 * norm : residual > 0.5 * norm, "the case exercises the intended path");

        // And Σ λ_i·atom_i = G with the residual atom materialised.
        float[] back = TestMatrices.ReconstructAll(atoms, g);
        Assert.True(TestMatrices.Distance(g, back) <= 1e-5 * norm);
        double tolerance = 8 * (atoms.Rank + 2) * TestMatrices.FloatEpsilon * norm;
        Assert.True(Math.Abs(atoms.ResidualNorm - residual) <= tolerance + (residual * 1e-6), $"{atoms.ResidualNorm} vs {residual}");
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
    public void ResidualMustBeMaterialisedBeforeItIsAdded()
    {
        float[] g = TestMatrices.Gaussian(20 * 20, 2);
        var atoms = new SpectralAtoms();
        atoms.Decompose(g, 20, 20, new AtomoOptions(), 1, LinearAlgebraProvider.Current);
        Assert.True(atoms.ResidualNorm > 0);
        Assert.Throws<InvalidOperationException>(() => atoms.AddAtoms([atoms.Rank], [1f], new float[400]));
        Assert.Throws<ArgumentException>(() => atoms.AddAtoms([atoms.Rank + 1], [1f], new float[400]));
    }
}
