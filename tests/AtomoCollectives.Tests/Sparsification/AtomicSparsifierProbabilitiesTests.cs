namespace AtomoCollectives.Tests.Sparsification;

public class AtomicSparsifierProbabilitiesTests
{
    private static double[] Probabilities(float[] coefficients, double budget)
    {
        var p = new double[coefficients.Length];
        AtomicSparsifier.Probabilities(coefficients, budget, p);
        return p;
    }

    [Fact]
    public void Paper_example_redistributes_the_clipped_mass()
    {
        double[] p = Probabilities([10, 1, 1, 1], 2);

        Assert.Equal(1, p[0], 15);
        for (int i = 1; i < 4; i++)
        {
            Assert.Equal(1.0 / 3, p[i], 15);
        }
    }

    [Fact]
    public void Clipping_without_redistribution_has_higher_variance()
    {
        float[] lambda = [10, 1, 1, 1];
        double budget = 2;
        double l1 = lambda.Sum(Math.Abs);
        double[] naive = lambda.Select(x => Math.Min(1, budget * Math.Abs(x) / l1)).ToArray();

        double optimal = Reference.Variance(lambda, Probabilities(lambda, budget));
        double clipped = Reference.Variance(lambda, naive);

        // Algorithm 1: 3·1²·(3 − 1) = 6. Naive clipping: p = (1, 2/13, 2/13, 2/13), 3·(13/2 − 1) = 16.5.
        Assert.Equal(6, optimal, 12);
        Assert.Equal(16.5, clipped, 12);
    }

    [Theory]
    [InlineData(1000, 10.0, 1)]
    [InlineData(1000, 0.5, 2)]
    [InlineData(1000, 37.25, 3)]
    [InlineData(4097, 100.0, 4)]
    [InlineData(33, 3.0, 5)]
    public void Matches_the_papers_sorting_algorithm_and_sums_to_the_budget(int n, double budget, int seed)
    {
        foreach (float[] lambda in new[] { Reference.Gaussians(n, seed), Reference.HeavyTailed(n, seed, outliers: 5) })
        {
            double[] p = Probabilities(lambda, budget);
            double[] expected = Reference.Probabilities(lambda, budget);

            for (int i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(p[i] - expected[i]) <= 1e-12 * Math.Max(1, expected[i]), $"p[{i}] = {p[i]}, reference {expected[i]}");
                Assert.InRange(p[i], 0, 1);
            }

            // Σp = min(s, nnz); the double sums of n terms agree to n·2⁻⁵³ relative.
            Assert.Equal(budget, p.Sum(), budget * 1e-12);
        }
    }

    [Fact]
    public void Clipped_atoms_get_one_and_ties_are_handled()
    {
        // 6 equal giants, many equal small values: the water level falls between two tie groups.
        float[] lambda = Enumerable.Repeat(1f, 200).Concat(Enumerable.Repeat(1000f, 6)).ToArray();
        double[] p = Probabilities(lambda, 8);

        Assert.All(p.Skip(200), x => Assert.Equal(1, x));
        Assert.All(p.Take(200), x => Assert.Equal(2.0 / 200, x, 15));
        Assert.Equal(8, p.Sum(), 12);
    }

    [Fact]
    public void Any_feasible_perturbation_raises_the_variance()
    {
        float[] lambda = Reference.HeavyTailed(64, seed: 7, outliers: 2);
        double budget = 12;
        double[] p = Probabilities(lambda, budget);
        double optimum = Reference.Variance(lambda, p);
        var random = new Random(11);
        int tried = 0;
        for (int trial = 0; trial < 2000; trial++)
        {
            // Move mass ε between two atoms: Σp stays s; keep 0 < p ≤ 1.
            int from = random.Next(64), to = random.Next(64);
            double epsilon = random.NextDouble() * 0.05 * Math.Min(p[from], 1 - p[to]);
            if (from == to || lambda[from] == 0 || lambda[to] == 0 || epsilon <= 1e-9)
            {
                continue;
            }

            double[] q = (double[])p.Clone();
            q[from] -= epsilon;
            q[to] += epsilon;
            tried++;
            Assert.True(Reference.Variance(lambda, q) > optimum, $"moving {epsilon} from {from} to {to} lowered the variance");
        }

        Assert.True(tried > 1000);
    }

    [Fact]
    public void Zeros_get_zero_and_a_budget_covering_every_atom_is_lossless()
    {
        float[] lambda = [0, 3, 0, -2, 5, 0];

        Assert.Equal([0, 1, 0, 1, 1, 0], Probabilities(lambda, 3));
        Assert.Equal([0, 1, 0, 1, 1, 0], Probabilities(lambda, 1e9));
        double[] partial = Probabilities(lambda, 2);
        Assert.Equal(0, partial[0]);
        Assert.Equal(0, partial[2]);
        Assert.Equal(2, partial.Sum(), 14);
    }

    [Fact]
    public void Edge_cases()
    {
        Assert.Equal([0, 0, 0], Probabilities([0, 0, 0], 1));
        Assert.Empty(Probabilities([], 1));
        Assert.Equal([0.5], Probabilities([-4], 0.5));
        Assert.Equal([1], Probabilities([-4], 1));
        Assert.Equal([0, 0.25, 0], Probabilities([0, 7, 0], 0.25));

        // s < 1 with many atoms: no clipping, p = s·|λ|/Σ|λ|.
        double[] small = Probabilities([1, 2, 3, 4], 0.3);
        Assert.Equal(0.3 * 4 / 10, small[3], 15);
        Assert.Equal(0.3, small.Sum(), 15);
    }

    [Fact]
    public void Ten_million_atoms()
    {
        float[] lambda = Reference.HeavyTailed(10_000_000, seed: 3, outliers: 20);
        double[] p = Probabilities(lambda, 100_000);

        // A sequential sum of n doubles is exact to n·2⁻⁵³ relative (here 1.1e-9), whichever sums it.
        Assert.Equal(100_000, p.Sum(), 100_000.0 * lambda.Length * Math.Pow(2, -53));
        Assert.All(lambda.Zip(p).Where(pair => pair.First == 0), pair => Assert.Equal(0, pair.Second));
        Assert.InRange(p.Max(), 0, 1);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    public void A_budget_that_is_not_positive_is_refused(double budget)
    {
        var error = Assert.Throws<ArgumentException>(() => Probabilities([1, 2], budget));
        Assert.Contains("budget", error.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void A_non_finite_coefficient_is_refused_by_index(float bad)
    {
        float[] lambda = Reference.Gaussians(40, 1);
        lambda[29] = bad;

        var error = Assert.Throws<ArgumentException>(() => Probabilities(lambda, 3));
        Assert.Contains("Coefficient 29", error.Message);
    }

    [Fact]
    public void A_destination_of_the_wrong_length_is_refused_and_left_alone()
    {
        var p = new double[] { 42, 42 };
        var error = Assert.Throws<ArgumentException>(() => AtomicSparsifier.Probabilities([1, 2, 3], 1, p));

        Assert.Equal("probabilities", error.ParamName);
        Assert.Equal([42, 42], p);
    }
}
