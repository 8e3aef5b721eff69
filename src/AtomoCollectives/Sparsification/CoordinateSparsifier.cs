namespace AtomoCollectives;

/// <summary>
/// Coordinate ATOMO: the atoms are the tensor's entries, sparsified bucket by bucket, each bucket with its own
/// budget (fixed, TernGrad's or QSGD's) and its own water level.
/// </summary>
public static class CoordinateSparsifier
{
    /// <summary>Draws one sparsification of <paramref name="tensor"/> into <paramref name="selection"/> (cleared first).</summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite (the message names its index).</exception>
    public static void Sample(ReadOnlySpan<float> tensor, AtomoOptions options, ulong seed, AtomSelection selection)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(selection);
        selection.Clear();
        var random = new RandomStream(seed);
        int bucketSize = options.BucketSize == 0 ? Math.Max(tensor.Length, 1) : options.BucketSize;
        for (int start = 0; start < tensor.Length; start += bucketSize)
        {
            ReadOnlySpan<float> bucket = tensor.Slice(start, Math.Min(bucketSize, tensor.Length - start));
            MagnitudeStatistics statistics;
            try
            {
                statistics = MagnitudeStatistics.Measure(bucket, nameof(tensor));
            }
            catch (ArgumentException)
            {
                // Name the index in the whole tensor, not in the bucket.
                MagnitudeStatistics.Measure(tensor, nameof(tensor));
                throw;
            }

            WaterLevel level = BucketLevel(options, bucket, statistics);
            AtomicSparsifier.SampleGroup(bucket, level, options.Sampling, ref random, start, selection);
        }
    }

    /// <summary>The exact variance <c>E‖ĝ − g‖² = Σ λ_i² (1/p_i − 1)</c> of <see cref="Sample"/> for these options.</summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite.</exception>
    public static double Variance(ReadOnlySpan<float> tensor, AtomoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int bucketSize = options.BucketSize == 0 ? Math.Max(tensor.Length, 1) : options.BucketSize;
        double variance = 0;
        for (int start = 0; start < tensor.Length; start += bucketSize)
        {
            ReadOnlySpan<float> bucket = tensor.Slice(start, Math.Min(bucketSize, tensor.Length - start));
            WaterLevel level = BucketLevel(options, bucket, MagnitudeStatistics.Measure(bucket, nameof(tensor)));
            foreach (float value in bucket)
            {
                double p = level.Probability(value);
                variance += p > 0 ? (double)value * value * ((1 / p) - 1) : 0;
            }
        }

        return variance;
    }

    /// <summary>
    /// The water level of one bucket. TernGrad's and QSGD's budgets are exactly those for which no atom is
    /// clipped, so their level is set directly (<c>c = 1/‖g‖∞</c>, <c>c = 1/‖g‖₂</c>) and the probabilities are the
    /// original papers' formulas, with no rounding through a budget.
    /// </summary>
    internal static WaterLevel BucketLevel(AtomoOptions options, ReadOnlySpan<float> bucket, MagnitudeStatistics statistics)
    {
        if (statistics.NonZeroCount == 0)
        {
            return AtomicSparsifier.Solve(bucket, 1, statistics);
        }

        return options.BudgetRule switch
        {
            BudgetRule.Fixed => AtomicSparsifier.Solve(bucket, options.Budget, statistics),
            BudgetRule.TernGrad => WaterLevel.Unclipped(1.0 / statistics.Max, statistics),
            BudgetRule.Qsgd => WaterLevel.Unclipped(1.0 / EuclideanNorm(bucket), statistics),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.BudgetRule, "Unknown budget rule."),
        };
    }

    internal static double EuclideanNorm(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float value in values)
        {
            sum += (double)value * value;
        }

        return Math.Sqrt(sum);
    }
}
