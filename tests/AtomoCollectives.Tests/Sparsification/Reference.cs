namespace AtomoCollectives.Tests.Sparsification;

/// <summary>Slow, obviously-correct versions of what the library computes fast, and shared test data.</summary>
internal static class Reference
{
    /// <summary>Algorithm 1 exactly as the paper states it: sort descending, clip the top k while c·|λ_(k+1)| &gt; 1.</summary>
    public static double[] Probabilities(ReadOnlySpan<float> coefficients, double budget)
    {
        int n = coefficients.Length;
        var p = new double[n];
        float[] copy = coefficients.ToArray();
        int[] order = Enumerable.Range(0, n).Where(i => copy[i] != 0).ToArray();
        Array.Sort(order, (a, b) => Math.Abs(copy[b]).CompareTo(Math.Abs(copy[a])));
        if (budget >= order.Length)
        {
            foreach (int i in order)
            {
                p[i] = 1;
            }

            return p;
        }

        double rest = order.Sum(i => Math.Abs((double)copy[i]));
        int k = 0;
        double c = budget / rest;
        while (c * Math.Abs(copy[order[k]]) > 1)
        {
            rest -= Math.Abs(copy[order[k]]);
            k++;
            c = (budget - k) / rest;
        }

        for (int j = 0; j < order.Length; j++)
        {
            p[order[j]] = j < k ? 1 : c * Math.Abs(copy[order[j]]);
        }

        return p;
    }

    /// <summary>Σ λ_i² (1/p_i − 1) over the atoms with p_i &gt; 0.</summary>
    public static double Variance(ReadOnlySpan<float> coefficients, ReadOnlySpan<double> p)
    {
        double variance = 0;
        for (int i = 0; i < coefficients.Length; i++)
        {
            if (p[i] > 0)
            {
                variance += (double)coefficients[i] * coefficients[i] * (1 / p[i] - 1);
            }
        }

        return variance;
    }

    /// <summary>Gaussian values with a few large outliers, so that Algorithm 1 has to clip.</summary>
    public static float[] HeavyTailed(int n, int seed, int outliers = 3)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = (float)Gaussian(random);
        }

        for (int j = 0; j < outliers && j < n; j++)
        {
            values[random.Next(n)] = (float)(Gaussian(random) * 50 * n);
        }

        return values;
    }

    public static float[] Gaussians(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)Gaussian(random)).ToArray();
    }

    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
