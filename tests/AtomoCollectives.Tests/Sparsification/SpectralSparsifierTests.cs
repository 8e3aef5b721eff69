using AtomoCollectives.Decompositions;
using AtomoCollectives.LinearAlgebra;
using AtomoCollectives.Tests.Decompositions;
using AtomoCollectives.Tests.Wire;

namespace AtomoCollectives.Tests.Sparsification;

public class SpectralSparsifierTests
{
    /// <summary>
    /// The whole wire path (encode, payload, decode) for spectral payloads with rank-1 atoms and residual entries: the
    /// mean of T decoded estimates is G. As in <see cref="SpectralAtomsTests.FastIsUnbiasedEvenWithAPoorSketch"/>, the
    /// error of the mean splits into the span of the orthonormal rank-1 atoms and that of the residual's coordinates,
    /// each with squared norm Σ V_i·Z_i²/T, so ‖mean − G‖ ≤ 6·(√V₁ + √V₂)/√T fails only if some |Z_i| > 6. The codec is
    /// cold (no sketch), so every draw has the same atoms, whose variances the test takes from the decomposition.
    /// </summary>
    [Theory]
    [InlineData(Sampling.Systematic, 3.0)]
    [InlineData(Sampling.Independent, 3.0)]
    [InlineData(Sampling.Systematic, 1.0)]
    [InlineData(Sampling.Independent, 1.0)]
    public void DecodedEstimateIsUnbiased(Sampling sampling, double budget)
    {
        const int M = 40, N = 30, Trials = 10_000;
        float[] g = AtomoCodecSpectralFourierTests.LowRankPlusNoise(M, N, 11);
        var options = new AtomoOptions { Budget = budget, Sampling = sampling };
        var atoms = new SpectralAtoms();
        atoms.Decompose(g, M, N, options, 5, LinearAlgebraProvider.Current);
        Assert.True(atoms.HasResidual, "the case needs a residual");
        (WaterLevel first, WaterLevel second) = SpectralSparsifier.Sample(atoms, budget, sampling, ValuePrecision.Float32, 0, new AtomSelection(), new AtomSelection());
        (double v1, double v2) = SpectralSparsifier.Variances(atoms, first, second);
        Assert.True(v1 > 0 && v2 > 0, "the case needs atoms with p < 1 in both groups");

        var codec = new AtomoCodec(options);
        var sum = new double[g.Length];
        var estimate = new float[g.Length];
        long residualKept = 0;
        for (int t = 0; t < Trials; t++)
        {
            codec.Decode(codec.Encode(g, TensorShape.Matrix(M, N), 5 + ((ulong)t << 32)), estimate);
            residualKept += codec.LastResidualSelection.Count;
            for (int e = 0; e < g.Length; e++)
            {
                sum[e] += estimate[e];
            }
        }

        // The seed's low word is the sketch's: every trial above decomposed to the same atoms.
        double[] meanError = [.. sum.Select((s, e) => (s / Trials) - g[e])];
        double error = Math.Sqrt(meanError.Sum(x => x * x));
        double bound = 6 * (Math.Sqrt(v1) + Math.Sqrt(v2)) / Math.Sqrt(Trials);
        Assert.True(error <= bound, $"‖mean − G‖ = {error}, bound {bound}");
        Assert.True(residualKept > Trials, "residual entries were drawn");

        // Off the rank-1 atoms' span only the residual's error remains (R ⊥ every atom): there ‖P⊥(mean − G)‖ ≤
        // 6·√(V₂/T). The test can fail: an estimator that drops the residual is off by P⊥R = R there.
        for (int a = 0; a < atoms.Rank; a++)
        {
            double dot = 0;
            for (int e = 0; e < g.Length; e++)
            {
                dot += meanError[e] * atoms.LeftVector(a)[e / N] * atoms.RightVector(a)[e % N];
            }

            for (int e = 0; e < g.Length; e++)
            {
                meanError[e] -= dot * atoms.LeftVector(a)[e / N] * atoms.RightVector(a)[e % N];
            }
        }

        double offSpan = Math.Sqrt(meanError.Sum(x => x * x));
        double residualBound = 6 * Math.Sqrt(v2 / Trials);
        Assert.True(offSpan <= residualBound, $"‖P⊥(mean − G)‖ = {offSpan}, bound {residualBound}");
        Assert.True(atoms.ResidualNorm > 3 * residualBound, $"‖R‖ = {atoms.ResidualNorm}, bound {residualBound}");
    }

    /// <summary>
    /// The measured mean squared error of T draws against the formula Σ λ²(1/p − 1) summed over both groups: within five
    /// standard errors of the mean, the standard error being the draws' own standard deviation over √T (the squared
    /// error's variance needs fourth moments the formula does not give).
    /// </summary>
    [Theory]
    [InlineData(Sampling.Systematic)]
    [InlineData(Sampling.Independent)]
    public void VarianceMatchesTheFormula(Sampling sampling)
    {
        const int M = 40, N = 30, Trials = 6000;
        float[] g = AtomoCodecSpectralFourierTests.LowRankPlusNoise(M, N, 12);
        var atoms = new SpectralAtoms();
        atoms.Decompose(g, M, N, new AtomoOptions { Budget = 2, Sampling = sampling }, 5, LinearAlgebraProvider.Current);
        var rankOne = new AtomSelection();
        var residual = new AtomSelection();
        (WaterLevel first, WaterLevel second) = SpectralSparsifier.Sample(atoms, 2, sampling, ValuePrecision.Float32, 0, rankOne, residual);
        (double v1, double v2) = SpectralSparsifier.Variances(atoms, first, second);
        var errors = new double[Trials];
        var estimate = new float[g.Length];
        for (int t = 0; t < Trials; t++)
        {
            SpectralSparsifier.Sample(atoms, 2, sampling, ValuePrecision.Float32, (ulong)(t + 1), rankOne, residual);
            Array.Clear(estimate);
            atoms.AddAtoms(rankOne.Indices, rankOne.Values, estimate);
            residual.AddTo(estimate);
            errors[t] = estimate.Select((x, e) => Math.Pow(x - g[e], 2)).Sum();
        }

        double mean = errors.Average();
        double standardError = Math.Sqrt(errors.Select(x => Math.Pow(x - mean, 2)).Sum() / (Trials - 1) / Trials);
        Assert.True(Math.Abs(mean - (v1 + v2)) <= 5 * standardError, $"measured {mean}, formula {v1 + v2} = {v1} + {v2}, standard error {standardError}");
    }

    /// <summary>
    /// The byte budget: Budget rank-1 atoms' worth of vectors, spread over both groups so that Σ c·p = B exactly;
    /// measured payloads average within 10 % of B plus their fixed fields.
    /// </summary>
    [Fact]
    public void PayloadsSpendTheByteBudget()
    {
        const int M = 128, N = 200;
        float[] g = AtomoCodecSpectralFourierTests.LowRankPlusNoise(M, N, 13);
        var codec = new AtomoCodec(new AtomoOptions { Budget = 3 });
        double byteBudget = 3 * SpectralSparsifier.RankOneCost(M, N, ValuePrecision.Float32);
        double total = 0;
        for (ulong seed = 0; seed < 40; seed++)
        {
            total += codec.Encode(g, TensorShape.Matrix(M, N), seed).Length;
        }

        Assert.InRange(total / 40, 0.9 * byteBudget, (1.1 * byteBudget) + 64);
    }
}
