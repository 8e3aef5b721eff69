namespace AtomoCollectives.Tests.Sparsification;

public class CostWeightedWaterFillingTests
{
    /// <summary>
    /// The generalised Algorithm 1 stated directly: μ_i = |λ_i|/√c_i sorted descending; clip the top j while
    /// μ_(j) > τ_j = Σ_{unclipped} c·μ / (B − Σ_{clipped} c); p_i = min(1, μ_i/τ).
    /// </summary>
    private static (double[] First, double[] Second) Reference(float[] first, double firstCost, float[] second, double secondCost, double budget)
    {
        var atoms = first.Select((x, i) => (Mu: Math.Abs((double)x) / Math.Sqrt(firstCost), Cost: firstCost, Group: 0, Index: i))
            .Concat(second.Select((x, i) => (Mu: Math.Abs((double)x) / Math.Sqrt(secondCost), Cost: secondCost, Group: 1, Index: i)))
            .Where(a => a.Mu > 0).OrderByDescending(a => a.Mu).ToArray();
        double[] p1 = new double[first.Length], p2 = new double[second.Length];
        if (budget >= atoms.Sum(a => a.Cost))
        {
            foreach (var a in atoms)
            {
                (a.Group == 0 ? p1 : p2)[a.Index] = 1;
            }

            return (p1, p2);
        }

        double linear = atoms.Sum(a => a.Cost * a.Mu), clippedCost = 0;
        int j = 0;
        double level = linear / budget;
        while (j < atoms.Length && atoms[j].Mu > level)
        {
            linear -= atoms[j].Cost * atoms[j].Mu;
            clippedCost += atoms[j].Cost;
            j++;
            level = linear / (budget - clippedCost);
        }

        foreach (var a in atoms)
        {
            (a.Group == 0 ? p1 : p2)[a.Index] = Math.Min(1, a.Mu / level);
        }

        return (p1, p2);
    }

    private static (WaterLevel, WaterLevel) Solve(float[] first, double firstCost, float[] second, double secondCost, double budget) =>
        CostWeightedWaterFilling.Solve(
            new CostWeightedWaterFilling.Group(first, firstCost, MagnitudeStatistics.Measure(first)),
            new CostWeightedWaterFilling.Group(second, secondCost, MagnitudeStatistics.Measure(second)),
            budget);

    /// <summary>Unclipped, clipped in either group, and clipped in both: the levels give the reference's p to 1e-9, and Σ c·p = B.</summary>
    [Theory]
    [InlineData(7, 500.0, 20_000, 1.0, 1500.0, 0)]
    [InlineData(7, 500.0, 20_000, 1.0, 1500.0, 3)]
    [InlineData(7, 4160.0, 200_000, 0.9, 12_480.0, 5)]
    [InlineData(7, 4160.0, 200_000, 0.9, 12_480.0, 400)]
    [InlineData(64, 100.0, 5_000, 2.0, 3_000.0, 40)]
    public void LevelsMatchTheGeneralisedAlgorithmOne(int firstCount, double firstCost, int secondCount, double secondCost, double budget, int outliers)
    {
        float[] first = Sparsification.Reference.HeavyTailed(firstCount, 1, outliers: Math.Min(3, firstCount));
        for (int i = 0; i < first.Length; i++)
        {
            first[i] *= 40;
        }

        float[] second = Sparsification.Reference.HeavyTailed(secondCount, 2, outliers);
        (WaterLevel a, WaterLevel b) = Solve(first, firstCost, second, secondCost, budget);
        (double[] p1, double[] p2) = Reference(first, firstCost, second, secondCost, budget);
        double bytes = 0;
        for (int i = 0; i < first.Length; i++)
        {
            Assert.True(Math.Abs(a.Probability(first[i]) - p1[i]) <= 1e-9, $"rank-1 atom {i}: {a.Probability(first[i])} vs {p1[i]}");
            bytes += firstCost * a.Probability(first[i]);
        }

        for (int i = 0; i < second.Length; i++)
        {
            Assert.True(Math.Abs(b.Probability(second[i]) - p2[i]) <= 1e-9, $"entry {i}: {b.Probability(second[i])} vs {p2[i]}");
            bytes += secondCost * b.Probability(second[i]);
        }

        Assert.True(Math.Abs(bytes - budget) <= 1e-9 * budget, $"Σ c·p = {bytes}, budget {budget}");
        Assert.True(Math.Abs(p1.Sum() - a.ExpectedAtoms) <= 1e-9 * p1.Sum(), $"{a.ExpectedAtoms} vs {p1.Sum()}");
        Assert.True(Math.Abs(p2.Sum() - b.ExpectedAtoms) <= 1e-9 * p2.Sum(), $"{b.ExpectedAtoms} vs {p2.Sum()}");
    }

    /// <summary>With one cost for every atom the level is the plain water level of Algorithm 1 with Σ p = B/c.</summary>
    [Fact]
    public void EqualCostsGivePlainAlgorithmOne()
    {
        float[] first = Sparsification.Reference.HeavyTailed(50, 3), second = Sparsification.Reference.HeavyTailed(70, 4);
        (WaterLevel a, WaterLevel b) = Solve(first, 8, second, 8, 8 * 12.5);
        double[] p = Sparsification.Reference.Probabilities([.. first, .. second], 12.5);
        for (int i = 0; i < first.Length; i++)
        {
            Assert.Equal(p[i], a.Probability(first[i]), 12);
        }

        for (int i = 0; i < second.Length; i++)
        {
            Assert.Equal(p[first.Length + i], b.Probability(second[i]), 12);
        }
    }

    [Fact]
    public void ABudgetThatCoversEveryAtomKeepsThemAll()
    {
        float[] first = [3, 0, -1], second = [0.5f, 0, 0, 2];
        (WaterLevel a, WaterLevel b) = Solve(first, 10, second, 1, 10 * 2 + 2);
        Assert.True(a.IsLossless && b.IsLossless);
        Assert.Equal(0, a.Probability(0));
        Assert.Equal(1, b.Probability(0.5f));
        (a, b) = Solve(first, 10, second, 1, 21.9);
        Assert.False(a.IsLossless || b.IsLossless);
    }

    [Theory]
    [InlineData(0.0, 1.0, 1.0)]
    [InlineData(-1.0, 1.0, 1.0)]
    [InlineData(double.NaN, 1.0, 1.0)]
    [InlineData(10.0, 0.0, 1.0)]
    [InlineData(10.0, 1.0, -2.0)]
    public void NonPositiveBudgetsAndCostsAreRefused(double budget, double firstCost, double secondCost)
    {
        float[] x = [1, 2];
        Assert.Throws<ArgumentException>(() => Solve(x, firstCost, x, secondCost, budget));
    }
}
