namespace AtomoCollectives;

/// <summary>
/// The solution of Algorithm 1 for one set of coefficients: <c>p_i = min(1, Scale·|λ_i|)</c>,
/// or every non-zero atom kept exactly when the budget covers them all.
/// </summary>
public readonly record struct WaterLevel
{
    internal WaterLevel(double scale, bool lossless, int nonZeroCount, double expectedAtoms, double magnitudeSum)
    {
        Scale = scale;
        IsLossless = lossless;
        NonZeroCount = nonZeroCount;
        ExpectedAtoms = expectedAtoms;
        MagnitudeSum = magnitudeSum;
    }

    /// <summary>A level whose scale keeps every <c>c·|λ_i| ≤ 1</c>; the expected count is <c>c·Σ|λ|</c>.</summary>
    internal static WaterLevel Unclipped(double scale, MagnitudeStatistics statistics) =>
        new(scale, lossless: false, statistics.NonZeroCount, scale * statistics.Sum, statistics.Sum);

    /// <summary>The multiplier <c>c</c> in <c>p_i = min(1, c·|λ_i|)</c>; infinite when <see cref="IsLossless"/>.</summary>
    public double Scale { get; }

    /// <summary>The budget covers every non-zero atom: all are kept with probability 1.</summary>
    public bool IsLossless { get; }

    /// <summary>How many coefficients are non-zero.</summary>
    public int NonZeroCount { get; }

    /// <summary><c>Σ p_i = min(budget, nnz)</c>: the expected number of atoms kept.</summary>
    public double ExpectedAtoms { get; }

    /// <summary><c>Σ |λ_i|</c>.</summary>
    public double MagnitudeSum { get; }

    /// <summary>The magnitude every kept atom with <c>p &lt; 1</c> carries: <c>1/c</c>, rounded to float.</summary>
    public float KeptMagnitude => IsLossless || Scale == 0 ? 0f : (float)(1.0 / Scale);

    /// <summary>The inclusion probability of an atom with coefficient <paramref name="coefficient"/>.</summary>
    public double Probability(float coefficient)
    {
        if (coefficient == 0)
        {
            return 0;
        }

        return IsLossless ? 1 : Math.Min(1.0, Scale * Math.Abs((double)coefficient));
    }
}
