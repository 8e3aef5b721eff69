namespace AtomoCollectives.Tests.Sparsification;

public class CoordinateSparsifierTests
{
    private static double[] PresetProbabilities(AtomoOptions options, float[] g)
    {
        var p = new double[g.Length];
        int bucketSize = options.BucketSize == 0 ? g.Length : options.BucketSize;
        for (int start = 0; start < g.Length; start += bucketSize)
        {
            float[] bucket = g[start..Math.Min(g.Length, start + bucketSize)];
            WaterLevel level = CoordinateSparsifier.BucketLevel(options, bucket, MagnitudeStatistics.Measure(bucket));
            for (int i = 0; i < bucket.Length; i++)
            {
                p[start + i] = level.Probability(bucket[i]);
            }
        }

        return p;
    }

    [Fact]
    public void TernGrad_probabilities_are_the_papers_per_bucket()
    {
        float[] g = Reference.Gaussians(1000, 1);
        double[] p = PresetProbabilities(AtomoOptions.TernGrad(bucketSize: 128), g);

        for (int start = 0; start < g.Length; start += 128)
        {
            float[] bucket = g[start..Math.Min(g.Length, start + 128)];
            double max = bucket.Max(Math.Abs);
            for (int i = 0; i < bucket.Length; i++)
            {
                Assert.Equal(Math.Abs(bucket[i]) / max, p[start + i], 1e-15);
            }
        }
    }

    [Fact]
    public void Qsgd_probabilities_are_the_papers_per_bucket()
    {
        float[] g = Reference.Gaussians(1000, 2);
        double[] p = PresetProbabilities(AtomoOptions.Qsgd(bucketSize: 100), g);

        for (int start = 0; start < g.Length; start += 100)
        {
            float[] bucket = g[start..(start + 100)];
            double norm = Math.Sqrt(bucket.Sum(x => (double)x * x));
            for (int i = 0; i < bucket.Length; i++)
            {
                Assert.Equal(Math.Abs(bucket[i]) / norm, p[start + i], 1e-15);
            }
        }
    }

    [Fact]
    public void TernGrad_is_Algorithm_1_with_its_budget()
    {
        // s = ‖g‖₁/‖g‖∞ through the general solver gives the same p (to rounding of the budget).
        float[] g = Reference.Gaussians(300, 3);
        double budget = g.Sum(x => Math.Abs((double)x)) / g.Max(Math.Abs);
        var general = new double[g.Length];
        AtomicSparsifier.Probabilities(g, budget, general);
        double[] preset = PresetProbabilities(AtomoOptions.TernGrad(), g);

        for (int i = 0; i < g.Length; i++)
        {
            Assert.Equal(preset[i], general[i], 1e-12);
        }
    }

    [Theory]
    [InlineData(BudgetRule.TernGrad, Sampling.Independent)]
    [InlineData(BudgetRule.Qsgd, Sampling.Independent)]
    [InlineData(BudgetRule.Qsgd, Sampling.Systematic)]
    [InlineData(BudgetRule.Fixed, Sampling.Independent)]
    [InlineData(BudgetRule.Fixed, Sampling.Systematic)]
    public void Presets_are_unbiased_with_the_exact_variance(BudgetRule rule, Sampling sampling)
    {
        float[] g = Reference.HeavyTailed(90, 4, outliers: 2);
        g[7] = 0;
        var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, BudgetRule = rule, BucketSize = 32, Budget = 4, Sampling = sampling };
        double[] p = PresetProbabilities(options, g);
        var statistics = new SamplingStatistics(g, p);
        var selection = new AtomSelection();
        double exact = Reference.Variance(g, p);
        Assert.Equal(exact, CoordinateSparsifier.Variance(g, options), exact * 1e-12);
        for (int trial = 0; trial < 20_000; trial++)
        {
            CoordinateSparsifier.Sample(g, options, (ulong)trial, selection);
            statistics.Add(selection);
        }

        statistics.AssertUnbiased();
        statistics.AssertVarianceMatchesFormula(independentDraws: sampling == Sampling.Independent);
    }

    [Fact]
    public void TernGrad_sends_plus_or_minus_the_bucket_maximum()
    {
        float[] g = Reference.Gaussians(256, 6);
        var selection = new AtomSelection();
        CoordinateSparsifier.Sample(g, AtomoOptions.TernGrad(bucketSize: 64), 3, selection);

        Assert.Equal(4, selection.GroupCount);
        for (int j = 0; j < selection.Count; j++)
        {
            int i = selection.Indices[j];
            float max = g[(i / 64 * 64)..(i / 64 * 64 + 64)].Max(Math.Abs);
            Assert.Equal(max, Math.Abs(selection.Values[j]), max * 1e-6f);
            Assert.Equal(Math.Sign(g[i]), Math.Sign(selection.Values[j]));
        }
    }

    [Fact]
    public void A_non_finite_entry_is_named_by_its_index_in_the_tensor()
    {
        float[] g = Reference.Gaussians(100, 1);
        g[77] = float.NaN;

        var error = Assert.Throws<ArgumentException>(() => CoordinateSparsifier.Sample(g, AtomoOptions.Qsgd(bucketSize: 10), 1, new AtomSelection()));
        Assert.Contains("Coefficient 77", error.Message);
    }
}
