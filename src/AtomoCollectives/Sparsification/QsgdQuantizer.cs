using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary>
/// Multi-bit QSGD (Alistarh et al. 2017), the baseline the ATOMO paper compares against: per bucket of
/// <see cref="BucketSize"/> entries, each entry becomes <c>sign(v_i)·‖v‖₂·ℓ_i/s</c> with <c>s = 2^bits − 1</c> levels
/// and <c>ℓ_i = ⌊s|v_i|/‖v‖₂⌋ + Bernoulli(frac)</c>: rounded up with probability equal to the fractional part,
/// which makes the estimate unbiased. One bit is QSGD with s = 1, the same as coordinate ATOMO's
/// <see cref="BudgetRule.Qsgd"/> preset.
/// </summary>
internal sealed class QsgdQuantizer
{
    /// <summary>A quantizer with <paramref name="bits"/> bits of level per entry (plus a sign).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bits"/> is outside 1–15 or <paramref name="bucketSize"/> is not positive.</exception>
    public QsgdQuantizer(int bits, int bucketSize = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bits, 15);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSize, 1);
        Bits = bits;
        BucketSize = bucketSize;
    }

    /// <summary>Bits of level per entry, excluding the sign.</summary>
    public int Bits { get; }

    /// <summary>Entries per bucket; each bucket has its own norm.</summary>
    public int BucketSize { get; }

    /// <summary>The number of non-zero levels, <c>s = 2^bits − 1</c>.</summary>
    public int Levels => (1 << Bits) - 1;

    /// <summary>The number of buckets for a tensor of <paramref name="length"/> entries.</summary>
    public int BucketCount(int length) => (length + BucketSize - 1) / BucketSize;

    /// <summary>Quantizes <paramref name="tensor"/>: one norm per bucket and one signed level per entry.</summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite, or a destination has the wrong length.</exception>
    public void Quantize(ReadOnlySpan<float> tensor, ulong seed, Span<float> norms, Span<short> levels)
    {
        if (norms.Length != BucketCount(tensor.Length))
        {
            throw new ArgumentException($"{tensor.Length} entries in buckets of {BucketSize} need {BucketCount(tensor.Length)} norms, not {norms.Length}.", nameof(norms));
        }

        if (levels.Length != tensor.Length)
        {
            throw new ArgumentException($"There are {tensor.Length} entries but room for {levels.Length} levels.", nameof(levels));
        }

        MagnitudeStatistics.Measure(tensor, nameof(tensor));
        var random = new RandomStream(seed);
        int s = Levels;
        for (int bucket = 0, start = 0; start < tensor.Length; bucket++, start += BucketSize)
        {
            ReadOnlySpan<float> values = tensor.Slice(start, Math.Min(BucketSize, tensor.Length - start));
            double norm = CoordinateSparsifier.EuclideanNorm(values);
            norms[bucket] = (float)norm;
            for (int offset = 0; offset < values.Length; offset += 8)
            {
                Vector256<uint> bits = random.NextVector();
                for (int lane = 0; lane < 8 && offset + lane < values.Length; lane++)
                {
                    float value = values[offset + lane];
                    double scaled = norm == 0 ? 0 : s * Math.Abs((double)value) / norm;
                    double floor = Math.Min(Math.Floor(scaled), s);
                    int level = (int)floor + (AtomicSparsifier.KeepExactly(scaled - floor, bits.GetElement(lane) & 0xFFFF, ref random) ? 1 : 0);
                    levels[start + offset + lane] = (short)(value < 0 ? -level : level);
                }
            }
        }
    }

    /// <summary>Writes the estimate <c>sign·‖v‖₂·ℓ/s</c> for quantized <paramref name="norms"/> and <paramref name="levels"/>.</summary>
    /// <exception cref="ArgumentException">The lengths do not match, or a level exceeds <see cref="Levels"/>.</exception>
    public void Dequantize(ReadOnlySpan<float> norms, ReadOnlySpan<short> levels, Span<float> destination)
    {
        if (destination.Length != levels.Length || norms.Length != BucketCount(levels.Length))
        {
            throw new ArgumentException($"{levels.Length} levels need {BucketCount(levels.Length)} norms and as many destination entries; got {norms.Length} and {destination.Length}.", nameof(destination));
        }

        int s = Levels;
        for (int i = 0; i < levels.Length; i++)
        {
            if (Math.Abs((int)levels[i]) > s)
            {
                throw new ArgumentException($"Level {levels[i]} at entry {i} exceeds the {s} levels of {Bits}-bit QSGD.", nameof(levels));
            }
        }

        for (int i = 0; i < levels.Length; i++)
        {
            destination[i] = (float)((double)norms[i / BucketSize] * levels[i] / s);
        }
    }

    /// <summary>Quantizes and dequantizes in one call: <paramref name="destination"/> receives one unbiased estimate of <paramref name="tensor"/>.</summary>
    public void Estimate(ReadOnlySpan<float> tensor, ulong seed, Span<float> destination)
    {
        var norms = new float[BucketCount(tensor.Length)];
        var levels = new short[tensor.Length];
        Quantize(tensor, seed, norms, levels);
        Dequantize(norms, levels, destination);
    }

    /// <summary>The exact variance <c>E‖Q(v) − v‖² = Σ (‖v‖/s)² f_i(1 − f_i)</c>, <c>f_i</c> the fractional part of <c>s|v_i|/‖v‖</c>.</summary>
    public double Variance(ReadOnlySpan<float> tensor)
    {
        double variance = 0;
        int s = Levels;
        for (int start = 0; start < tensor.Length; start += BucketSize)
        {
            ReadOnlySpan<float> values = tensor.Slice(start, Math.Min(BucketSize, tensor.Length - start));
            double norm = CoordinateSparsifier.EuclideanNorm(values);
            if (norm == 0)
            {
                continue;
            }

            foreach (float value in values)
            {
                double scaled = s * Math.Abs((double)value) / norm;
                double fraction = scaled - Math.Floor(scaled);
                variance += norm / s * (norm / s) * fraction * (1 - fraction);
            }
        }

        return variance;
    }
}
