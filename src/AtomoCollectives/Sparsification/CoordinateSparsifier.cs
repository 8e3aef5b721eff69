using System.Buffers;

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
        try
        {
            SampleBuckets(tensor, 0, bucketSize, options, ref random, selection);
        }
        catch (ArgumentException)
        {
            // Name the index in the whole tensor, not in the bucket.
            MagnitudeStatistics.Measure(tensor, nameof(tensor));
            throw;
        }
    }

    /// <summary>
    /// As <see cref="Sample"/> on the orthonormal DCT-II of <paramref name="tensor"/>'s blocks of
    /// <paramref name="blockLength"/> (<see cref="Decompositions.BlockCosineTransform"/>), with the same result, but
    /// without writing the coefficients out: a chunk of whole blocks and whole buckets is transformed into a scratch
    /// that stays in cache and sampled there, so the tensor is read once. Returns false (and samples nothing) when
    /// buckets and blocks do not nest (neither length divides the other) or the tensor is one bucket, and when the
    /// tensor holds entries above <see cref="Decompositions.BlockCosineTransform.OverflowFreeMagnitude"/> and the draw
    /// failed (the range-safe transform must then be used).
    /// </summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite (the message names its index in the tensor), or the draw failed.</exception>
    internal static bool TrySampleBlockCosines(ReadOnlySpan<float> tensor, int blockLength, AtomoOptions options, ulong seed, AtomSelection selection)
    {
        int bucketSize = options.BucketSize;
        if (bucketSize == 0 || (bucketSize % blockLength != 0 && blockLength % bucketSize != 0))
        {
            return false;
        }

        selection.Clear();
        var random = new RandomStream(seed);
        int unit = Math.Max(bucketSize, blockLength);
        int chunk = unit * Math.Max(1, FusedChunkFloats / unit);
        float[] scratch = ArrayPool<float>.Shared.Rent(Math.Min(chunk, tensor.Length));
        try
        {
            for (int start = 0; start < tensor.Length; start += chunk)
            {
                int length = Math.Min(chunk, tensor.Length - start);
                Span<float> coefficients = scratch.AsSpan(0, length);
                Decompositions.BlockCosineTransform.Forward(tensor.Slice(start, length), coefficients, blockLength);
                SampleBuckets(coefficients, start, bucketSize, options, ref random, selection);
            }
        }
        catch (ArgumentException)
        {
            // Not in an exception filter: an exception thrown there is swallowed, and Measure's names a NaN or infinity
            // by its index in the tensor. A finite tensor this large may have overflowed the transform's intermediate
            // sums: the caller's range-safe path (FourierAtoms) handles it.
            if (MagnitudeStatistics.Measure(tensor, nameof(tensor)).Max > Decompositions.BlockCosineTransform.OverflowFreeMagnitude)
            {
                return false;
            }

            throw;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }

        return true;
    }

    /// <summary>Floats transformed and sampled at a time by <see cref="TrySampleBlockCosines"/> (in L2 with room to spare).</summary>
    private const int FusedChunkFloats = 16384;

    /// <summary>Samples <paramref name="values"/> (coefficients <paramref name="offset"/> … of the tensor, starting on a bucket) bucket by bucket.</summary>
    private static void SampleBuckets(ReadOnlySpan<float> values, int offset, int bucketSize, AtomoOptions options, ref RandomStream random, AtomSelection selection)
    {
        for (int start = 0; start < values.Length; start += bucketSize)
        {
            ReadOnlySpan<float> bucket = values.Slice(start, Math.Min(bucketSize, values.Length - start));
            WaterLevel level = BucketLevel(options, bucket, MagnitudeStatistics.Measure(bucket, "tensor"));
            AtomicSparsifier.SampleGroup(bucket, level, options.Sampling, ref random, offset + start, selection);
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
