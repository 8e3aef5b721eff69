namespace AtomoCollectives.Tests.Sparsification;

public class AtomicSparsifierSamplingTests
{
    private const int Trials = 20_000;

    public static TheoryData<Sampling, string> Cases()
    {
        var data = new TheoryData<Sampling, string>();
        foreach (Sampling sampling in Enum.GetValues<Sampling>())
        {
            foreach (string input in new[] { "gaussian", "clipped", "tiny", "huge" })
            {
                data.Add(sampling, input);
            }
        }

        return data;
    }

    /// <summary>100 atoms (a vector loop and a tail), some zero; "clipped" forces p = 1 atoms; "tiny" and "huge"
    /// push c·2²⁴ outside float's normal range or near its ends, exercising the exact fallback.</summary>
    private static float[] Input(string kind)
    {
        float[] lambda = kind == "clipped" ? Reference.HeavyTailed(100, 5, outliers: 4) : Reference.Gaussians(100, 5);
        float factor = kind switch { "tiny" => 1e-36f, "huge" => 1e36f, _ => 1f };
        for (int i = 0; i < lambda.Length; i++)
        {
            lambda[i] = i % 17 == 3 ? 0 : lambda[i] * factor;
        }

        return lambda;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Unbiased_with_the_exact_variance(Sampling sampling, string input)
    {
        float[] lambda = Input(input);
        const double budget = 10;
        double[] p = Reference.Probabilities(lambda, budget);
        var statistics = new SamplingStatistics(lambda, p);
        var selection = new AtomSelection();
        for (int trial = 0; trial < Trials; trial++)
        {
            AtomicSparsifier.Sample(lambda, budget, sampling, SeedSequence.Derive(42, 0, trial, 0), selection);
            statistics.Add(selection);
        }

        statistics.AssertUnbiased();
        statistics.AssertVarianceMatchesFormula(independentDraws: sampling == Sampling.Independent);
        if (sampling == Sampling.Systematic)
        {
            Assert.All(statistics.Counts, count => Assert.InRange(count, 9, 10));
        }
        else
        {
            // Count ~ Σ Bernoulli(p_i): mean Σp = 10, variance Σp(1 − p); 5 standard errors.
            double variance = p.Sum(x => x * (1 - x));
            Assert.Equal(budget, statistics.Counts.Average(), 5 * Math.Sqrt(variance / Trials));
        }
    }

    [Fact]
    public void Independent_and_systematic_have_the_same_variance()
    {
        float[] lambda = Reference.HeavyTailed(64, 9, outliers: 2);
        const double budget = 6.5;
        double exact = AtomicSparsifier.Variance(lambda, budget);
        var selection = new AtomSelection();
        foreach (Sampling sampling in Enum.GetValues<Sampling>())
        {
            var statistics = new SamplingStatistics(lambda, Reference.Probabilities(lambda, budget));
            for (int trial = 0; trial < Trials; trial++)
            {
                AtomicSparsifier.Sample(lambda, budget, sampling, (ulong)trial, selection);
                statistics.Add(selection);
            }

            statistics.AssertVarianceMatchesFormula(independentDraws: sampling == Sampling.Independent);
        }

        Assert.Equal(Reference.Variance(lambda, Reference.Probabilities(lambda, budget)), exact, exact * 1e-12);
    }

    [Theory]
    [InlineData(Sampling.Independent)]
    [InlineData(Sampling.Systematic)]
    public void Kept_atoms_carry_lambda_over_p(Sampling sampling)
    {
        float[] lambda = Reference.HeavyTailed(1000, 2, outliers: 3);
        var selection = new AtomSelection();
        WaterLevel level = AtomicSparsifier.Sample(lambda, 50, sampling, 7, selection);

        Assert.Equal(3, selection.ExactCount);
        for (int j = 0; j < selection.Count; j++)
        {
            int i = selection.Indices[j];
            double p = level.Probability(lambda[i]);
            Assert.Equal(p >= 1, selection.IsExact[j]);
            float expected = p >= 1 ? lambda[i] : (float)(lambda[i] / p);
            Assert.Equal(expected, selection.Values[j], Math.Abs(expected) * 1e-6f);
            Assert.True(j == 0 || selection.Indices[j - 1] < i, "indices ascend");
        }
    }

    [Theory]
    [InlineData(Sampling.Independent)]
    [InlineData(Sampling.Systematic)]
    public void A_seed_reproduces_its_draw_and_other_seeds_differ(Sampling sampling)
    {
        float[] lambda = Reference.Gaussians(5000, 4);
        var first = new AtomSelection();
        var again = new AtomSelection();
        var other = new AtomSelection();
        AtomicSparsifier.Sample(lambda, 40, sampling, 99, first);
        AtomicSparsifier.Sample(lambda, 40, sampling, 99, again);
        AtomicSparsifier.Sample(lambda, 40, sampling, 100, other);

        Assert.Equal(first.Indices.ToArray(), again.Indices.ToArray());
        Assert.Equal(first.Values.ToArray(), again.Values.ToArray());
        Assert.NotEqual(first.Indices.ToArray(), other.Indices.ToArray());
    }

    [Theory]
    [InlineData(Sampling.Independent)]
    [InlineData(Sampling.Systematic)]
    public void A_budget_covering_every_atom_returns_the_tensor_exactly(Sampling sampling)
    {
        float[] lambda = Input("gaussian");
        var selection = new AtomSelection();
        AtomicSparsifier.Sample(lambda, 1000, sampling, 1, selection);
        var estimate = new float[lambda.Length];
        selection.AddTo(estimate);

        Assert.Equal(lambda, estimate);
        Assert.Equal(selection.Count, selection.ExactCount);
    }

    [Fact]
    public void Systematic_sampling_sends_the_fixed_count_on_a_large_tensor()
    {
        float[] lambda = Reference.HeavyTailed(1_000_003, 8, outliers: 10);
        var selection = new AtomSelection();
        for (int trial = 0; trial < 5; trial++)
        {
            AtomicSparsifier.Sample(lambda, 10_000.5, Sampling.Systematic, (ulong)trial, selection);
            Assert.InRange(selection.Count, 10_000, 10_001);
        }
    }

    [Fact]
    public void One_non_zero_atom_and_all_zeros()
    {
        var selection = new AtomSelection();
        AtomicSparsifier.Sample([0, 0, -3, 0], 1, Sampling.Independent, 1, selection);
        Assert.Equal(1, selection.Count);
        Assert.Equal(-3, selection.Values[0]);

        // Below one atom the single non-zero is sent with probability s, carrying λ/s.
        int kept = 0;
        for (ulong seed = 0; seed < 4000; seed++)
        {
            AtomicSparsifier.Sample([0, 0, -3, 0], 0.25, Sampling.Independent, seed, selection);
            if (selection.Count == 1)
            {
                Assert.Equal(-12, selection.Values[0]);
                kept++;
            }
        }

        // Binomial(4000, 0.25): mean 1000, sd 27.4; 5 sd.
        Assert.InRange(kept, 1000 - 137, 1000 + 137);

        AtomicSparsifier.Sample(new float[20], 3, Sampling.Systematic, 1, selection);
        Assert.Equal(0, selection.Count);
    }

    [Fact]
    public void A_kept_magnitude_beyond_float_is_refused()
    {
        // 1000 entries of 1e38 at budget 1: every kept atom would carry Σ|λ|/s = 1e41.
        float[] huge = Enumerable.Repeat(1e38f, 1000).ToArray();
        var error = Assert.Throws<ArgumentException>(() => AtomicSparsifier.Sample(huge, 1, Sampling.Independent, 1, new AtomSelection()));
        Assert.Contains("beyond float's range", error.Message);
    }
}
