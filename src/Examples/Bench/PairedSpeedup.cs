namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// A configuration's speedup over the better dense baseline, paired round by round: in each timed round the baseline
/// and the configuration ran one after the other, so their ratio leaves out what slowed the whole round. The median
/// of the rounds' ratios, and a distribution-free interval for it of at least <see cref="Confidence"/> (by order
/// statistics, nothing assumed of how the ratios spread): where <see cref="High"/> is below 1/1.05, the configuration
/// is more than 5 % slower in most rounds beyond what the run's noise explains; where the interval holds 1/1.05, one
/// run cannot tell.
/// </summary>
/// <param name="Baseline">The dense configuration compared with: of <c>dense</c> and <c>dense-node</c>, the shorter median step.</param>
/// <param name="Coverage">The interval's coverage: at least <see cref="Confidence"/>, or less with fewer than 6 rounds (then the whole range).</param>
internal sealed record PairedSpeedup(string Baseline, double Median, double Low, double High, double Coverage)
{
    /// <summary>The interval's aimed coverage.</summary>
    public const double Confidence = 0.95;

    /// <summary>
    /// <paramref name="result"/> against the better of <c>dense</c> and <c>dense-node</c> on the same set, rank count
    /// and label, round by round; null where neither was run, the rounds differ in number, or <paramref name="result"/>
    /// is that baseline itself.
    /// </summary>
    public static PairedSpeedup? Of(IReadOnlyList<ConfigResult> results, ConfigResult result)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(result);
        ConfigResult? baseline = results
            .Where(r => r.Set == result.Set && r.Ranks == result.Ranks && r.Label == result.Label && r.Config is BenchConfigurations.Dense or BenchConfigurations.DenseNode)
            .MinBy(r => r.StepSeconds);
        if (baseline is null || baseline.Config == result.Config || baseline.StepTotals.Count == 0 || baseline.StepTotals.Count != result.StepTotals.Count)
        {
            return null;
        }

        double[] ratios = [.. baseline.StepTotals.Zip(result.StepTotals, (dense, mine) => dense / mine)];
        (double median, double low, double high, double coverage) = MedianInterval(ratios);
        return new PairedSpeedup(baseline.Config, median, low, high, coverage);
    }

    /// <summary>
    /// The median of <paramref name="values"/> and the order statistics x₍ₖ₎ and x₍ₙ₋ₖ₊₁₎ around it, k the largest with
    /// P(Binomial(n, ½) &lt; k) ≤ (1 − <see cref="Confidence"/>)/2 (at least 1): the interval holds the true median with
    /// probability 1 − 2·P(Binomial(n, ½) &lt; k), whatever the distribution (n = 15: x₍₄₎ … x₍₁₂₎, 96.5 %).
    /// </summary>
    internal static (double Median, double Low, double High, double Coverage) MedianInterval(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("The median of no values.", nameof(values));
        }

        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
        int k = 1;
        while (k < (n + 1) / 2 && BinomialHalfBelow(n, k + 1) <= (1 - Confidence) / 2)
        {
            k++;
        }

        return (median, sorted[k - 1], sorted[n - k], 1 - (2 * BinomialHalfBelow(n, k)));
    }

    /// <summary>P(Binomial(<paramref name="n"/>, ½) &lt; <paramref name="k"/>).</summary>
    private static double BinomialHalfBelow(int n, int k)
    {
        double sum = 0, term = Math.Pow(0.5, n);   // C(n, 0)/2ⁿ
        for (int i = 0; i < k; i++)
        {
            sum += term;
            term *= (double)(n - i) / (i + 1);
        }

        return sum;
    }
}
