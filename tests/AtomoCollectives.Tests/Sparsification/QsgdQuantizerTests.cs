namespace AtomoCollectives.Tests.Sparsification;

public class QsgdQuantizerTests
{
    private const int Trials = 20_000;

    private static double[] UpProbabilities(float[] g, int bits, int bucketSize)
    {
        int s = (1 << bits) - 1;
        var fraction = new double[g.Length];
        for (int start = 0; start < g.Length; start += bucketSize)
        {
            float[] bucket = g[start..Math.Min(g.Length, start + bucketSize)];
            double norm = Math.Sqrt(bucket.Sum(x => (double)x * x));
            for (int i = 0; i < bucket.Length; i++)
            {
                double scaled = s * Math.Abs((double)bucket[i]) / norm;
                fraction[start + i] = scaled - Math.Floor(scaled);
            }
        }

        return fraction;
    }

    /// <summary>
    /// Mean of T estimates per coordinate within 5 standard errors; entry i's estimate takes two adjacent
    /// levels ‖v‖/s apart, so its variance is (‖v‖/s)²·f(1 − f).
    /// </summary>
    private static void AssertUnbiased(float[] g, double[] sum, int bits, int bucketSize)
    {
        int s = (1 << bits) - 1;
        double[] f = UpProbabilities(g, bits, bucketSize);
        for (int i = 0; i < g.Length; i++)
        {
            int start = i / bucketSize * bucketSize;
            double norm = Math.Sqrt(g[start..Math.Min(g.Length, start + bucketSize)].Sum(x => (double)x * x));
            double sd = norm / s * Math.Sqrt(f[i] * (1 - f[i]) / Trials);
            double tolerance = (5 * sd) + (1e-6 * Math.Abs(g[i]));
            Assert.True(Math.Abs((sum[i] / Trials) - g[i]) <= tolerance, $"entry {i}: mean {sum[i] / Trials} vs {g[i]}, tolerance {tolerance}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Unbiased_with_the_exact_variance(int bits)
    {
        float[] g = Reference.HeavyTailed(70, 5, outliers: 1);
        var quantizer = new QsgdQuantizer(bits, bucketSize: 32);
        var sum = new double[g.Length];
        var estimate = new float[g.Length];
        double squaredError = 0;
        for (int trial = 0; trial < Trials; trial++)
        {
            quantizer.Estimate(g, (ulong)trial, estimate);
            for (int i = 0; i < g.Length; i++)
            {
                sum[i] += estimate[i];
                squaredError += Math.Pow((double)estimate[i] - g[i], 2);
            }
        }

        AssertUnbiased(g, sum, bits, 32);

        // ‖Q(v) − v‖² is a sum of independent two-point errors; its standard error from their exact moments.
        double expected = quantizer.Variance(g);
        double spread = 0;
        int s = quantizer.Levels;
        double[] f = UpProbabilities(g, bits, 32);
        for (int i = 0; i < g.Length; i++)
        {
            int start = i / 32 * 32;
            double step = Math.Sqrt(g[start..Math.Min(g.Length, start + 32)].Sum(x => (double)x * x)) / s;
            double mean = step * step * f[i] * (1 - f[i]);
            double second = step * step * step * step * ((f[i] * Math.Pow(1 - f[i], 4)) + ((1 - f[i]) * Math.Pow(f[i], 4)));
            spread += second - (mean * mean);
        }

        double tolerance = (5 * Math.Sqrt(spread / Trials)) + (1e-6 * expected);
        Assert.Equal(expected, squaredError / Trials, tolerance);
    }

    [Fact]
    public void Rounding_the_wrong_way_is_caught_as_biased()
    {
        // The paper's public reference code rounds up with probability 1 − f instead of f. The same
        // statistic that passes our quantizer must reject that one, or the test above proves nothing.
        float[] g = Reference.Gaussians(40, 8);
        const int bits = 2;
        int s = (1 << bits) - 1;
        double norm = Math.Sqrt(g.Sum(x => (double)x * x));
        var random = new Random(1);
        var sum = new double[g.Length];
        for (int trial = 0; trial < Trials; trial++)
        {
            for (int i = 0; i < g.Length; i++)
            {
                double scaled = s * Math.Abs((double)g[i]) / norm;
                double floor = Math.Floor(scaled);
                double level = floor + (random.NextDouble() < 1 - (scaled - floor) ? 1 : 0);
                sum[i] += Math.Sign(g[i]) * norm * level / s;
            }
        }

        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertUnbiased(g, sum, bits, g.Length));
    }

    [Fact]
    public void One_bit_qsgd_has_the_variance_of_the_coordinate_ATOMO_preset()
    {
        float[] g = Reference.Gaussians(512, 9);
        double quantized = new QsgdQuantizer(1, bucketSize: 512).Variance(g);
        double norm = Math.Sqrt(g.Sum(x => (double)x * x));
        double atomo = g.Where(x => x != 0).Sum(x => (double)x * x * ((norm / Math.Abs((double)x)) - 1));

        Assert.Equal(atomo, quantized, atomo * 1e-9);
    }

    [Fact]
    public void Levels_stay_in_range_and_decode_to_the_grid()
    {
        float[] g = Reference.HeavyTailed(1000, 3, outliers: 2);
        var quantizer = new QsgdQuantizer(3, bucketSize: 100);
        var norms = new float[quantizer.BucketCount(g.Length)];
        var levels = new short[g.Length];
        quantizer.Quantize(g, 5, norms, levels);

        Assert.Equal(10, norms.Length);
        Assert.All(levels, level => Assert.InRange(level, -7, 7));
        Assert.All(Enumerable.Range(0, g.Length), i => Assert.True(levels[i] == 0 || Math.Sign(levels[i]) == Math.Sign(g[i])));
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new QsgdQuantizer(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QsgdQuantizer(16));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QsgdQuantizer(4, 0));
        var quantizer = new QsgdQuantizer(2, bucketSize: 4);
        Assert.Throws<ArgumentException>(() => quantizer.Quantize([1, 2, 3, 4, 5], 1, new float[1], new short[5]));
        Assert.Throws<ArgumentException>(() => quantizer.Dequantize([1f], [4, 0, 0, 0], new float[4]));
        var destination = new float[] { 9, 9, 9, 9 };
        Assert.Throws<ArgumentException>(() => quantizer.Dequantize([1f], [1, 2, 3, 4], destination));
        Assert.Equal([9f, 9, 9, 9], destination);
    }
}
