namespace AtomoCollectives.Tests.Sparsification;

/// <summary>
/// Adversarial dynamic ranges (issue 15): one huge entry among tiny ones, per bucket and per tensor, over float's
/// range. An unbiased estimator may be noisy, but it may never drop a large entry or return zero for a non-zero input.
/// </summary>
public class DynamicRangeTests
{
    public static TheoryData<double, double> Ranges()
    {
        var data = new TheoryData<double, double>();
        foreach ((double big, double small) in new[] { (1e10, 1e-6), (1e15, 1e-6), (1e20, 1.0), (1e30, 1e-6), (1e30, 1e-30), (3e38, 1.0), (1e-20, 1e-38) })
        {
            data.Add(big, small);
        }

        return data;
    }

    private static float[] Tensor(double big, double small, int length, int at)
    {
        var g = new float[length];
        for (int i = 0; i < length; i++)
        {
            g[i] = (float)(small * (1.5 + Math.Sin(i)));   // between 0.5 and 2.5 times small: never zero
        }

        g[at] = (float)big;
        return g;
    }

    /// <summary>
    /// Coordinate atoms, budget 10 per bucket of 512, the huge entry in bucket 1. That entry has p = 1 and must come back
    /// exactly in every draw; the other 511 of its bucket are unclipped with p = c·|λ|, c = 9/Σ|λ_small|, so the mean
    /// over T draws of their sum S is within 6·√(Σλ²(1/p − 1)/T) of the true sum (a sum of T independent draws;
    /// fails with probability ~1e-9). Every bucket without the huge entry is checked the same way with c = 10/Σ|λ|.
    /// </summary>
    [Theory]
    [MemberData(nameof(Ranges))]
    public void Coordinate_buckets_keep_the_huge_entry_and_stay_unbiased(double big, double small)
    {
        const int Length = 2048, Bucket = 512, At = 700, Trials = 400;
        float[] g = Tensor(big, small, Length, At);
        var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 10, BucketSize = Bucket, Sampling = Sampling.Independent });
        var sums = new double[Length / Bucket];
        var decoded = new float[Length];
        for (int t = 0; t < Trials; t++)
        {
            codec.Decode(codec.Encode(g, TensorShape.Vector(Length), (ulong)t), decoded);
            Assert.Equal(g[At], decoded[At]);
            Assert.Contains(decoded, x => x != 0 && x != g[At]);
            for (int i = 0; i < Length; i++)
            {
                sums[i / Bucket] += i == At ? 0 : decoded[i] / (double)Trials;
            }
        }

        for (int b = 0; b < sums.Length; b++)
        {
            double truth = 0, variance = 0;
            int atoms = b == At / Bucket ? 9 : 10;
            double total = Enumerable.Range(b * Bucket, Bucket).Where(i => i != At).Sum(i => Math.Abs((double)g[i]));
            foreach (int i in Enumerable.Range(b * Bucket, Bucket).Where(i => i != At))
            {
                double p = atoms * Math.Abs((double)g[i]) / total;
                Assert.True(p < 1, "the case assumes the small entries are unclipped");
                truth += g[i];
                variance += (double)g[i] * g[i] * ((1 / p) - 1);
            }

            double bound = 6 * Math.Sqrt(variance / Trials);
            Assert.True(Math.Abs(sums[b] - truth) <= bound + (1e-6 * Math.Abs(truth)), $"bucket {b}: mean sum {sums[b]:G6}, true {truth:G6}, bound {bound:G3}");
        }
    }

    /// <summary>
    /// Every basis and preset on a tensor with one huge entry: either a clear refusal before anything is sent (an
    /// ArgumentException naming float's range) or an estimate that is never all zero and, for the coordinate presets
    /// (where the huge entry has p = 1), keeps that entry exactly.
    /// </summary>
    [Theory]
    [MemberData(nameof(Ranges))]
    public void No_basis_returns_zero_or_drops_the_huge_entry(double big, double small)
    {
        const int Rows = 64, Columns = 48, At = 777;
        float[] g = Tensor(big, small, Rows * Columns, At);
        (string Name, AtomoOptions Options, bool KeepsHugeExactly)[] cases =
        [
            ("spectral fast", new AtomoOptions(), false),
            ("spectral exact", new AtomoOptions { SpectralMethod = SpectralMethod.Exact }, false),
            ("coordinate", new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 30 }, true),
            ("fourier", new AtomoOptions { Decomposition = Decomposition.Fourier, Budget = 200 }, false),
            ("terngrad", AtomoOptions.TernGrad(512), true),
            ("qsgd", AtomoOptions.Qsgd(512), true),
        ];
        foreach ((string name, AtomoOptions options, bool keepsHuge) in cases)
        {
            var codec = new AtomoCodec(options);
            var decoded = new float[g.Length];
            for (ulong seed = 0; seed < 20; seed++)
            {
                byte[] payload;
                try
                {
                    payload = codec.Encode(g, TensorShape.Matrix(Rows, Columns), seed);
                }
                catch (ArgumentException error)
                {
                    Assert.True(big > 1e37, $"{name} refused a tensor of magnitude {big:G3}: {error.Message}");
                    Assert.Contains("float", error.Message, StringComparison.Ordinal);
                    break;
                }

                codec.Decode(payload, decoded);
                Assert.True(decoded.Any(x => x != 0), $"{name}, {big:G3} among {small:G3}, seed {seed}: the estimate is all zero");
                Assert.True(!keepsHuge || decoded[At] == g[At], $"{name}, {big:G3} among {small:G3}, seed {seed}: the huge entry came back as {decoded[At]:G6}");
            }
        }
    }
}
