using AtomoCollectives.Tests.Sparsification;
using CsCheck;

namespace AtomoCollectives.Tests.Wire;

public class AtomoCodecCoordinateTests
{
    public static TheoryData<string, Sampling> Options() => new()
    {
        { "fixed", Sampling.Independent },
        { "fixed", Sampling.Systematic },
        { "bucketed", Sampling.Independent },
        { "terngrad", Sampling.Systematic },
        { "qsgd", Sampling.Independent },
        { "lossless", Sampling.Systematic },
    };

    internal static AtomoOptions Make(string kind, Sampling sampling)
    {
        AtomoOptions options = kind switch
        {
            "terngrad" => AtomoOptions.TernGrad(bucketSize: 256),
            "qsgd" => AtomoOptions.Qsgd(bucketSize: 128),
            "bucketed" => new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 5, BucketSize = 100 },
            "lossless" => new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 1e9 },
            _ => new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 40 },
        };
        options.Sampling = sampling;
        return options;
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void Round_trip_decodes_the_sampled_estimate(string kind, Sampling sampling)
    {
        float[] g = Reference.HeavyTailed(3001, 2, outliers: 3);
        g[10] = 0;
        var codec = new AtomoCodec(Make(kind, sampling));
        byte[] payload = codec.Encode(g, TensorShape.Vector(3001), 17);
        var expected = new float[g.Length];
        codec.LastSelection.AddTo(expected);

        var decoded = new float[g.Length];
        codec.Decode(payload, decoded);
        Assert.Equal(expected, decoded);

        var accumulated = Enumerable.Repeat(1f, g.Length).ToArray();
        new AtomoCodec(new AtomoOptions()).DecodeAdd(payload, accumulated, 0.5f);
        Assert.Equal(expected.Select(x => 1f + (0.5f * x)), accumulated);
        if (kind == "lossless")
        {
            Assert.Equal(g, decoded);
        }
    }

    [Fact]
    public void Coordinate_payload_is_close_to_the_information_bound()
    {
        // n = 2²⁰ atoms, budget 1 %: k atoms cost about log2(n/k) + 1.5 bits of Rice-coded position plus a sign bit.
        // Bound: header (≤ 32 bytes) + one 4-byte magnitude + k·(log2(n/k) + 3) bits.
        const int n = 1 << 20;
        float[] g = Reference.Gaussians(n, 3);
        var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = n * 0.01 });
        byte[] payload = codec.Encode(g, TensorShape.Vector(n), 1);
        int k = codec.LastSelection.Count;

        double bound = 32 + 4 + (k * (Math.Log2((double)n / k) + 3) / 8);
        Assert.True(payload.Length <= bound, $"{payload.Length} bytes for {k} atoms; bound {bound:F0}");
        Assert.True(payload.Length < n * 4 / 20, "at least 20× smaller than dense float32");
    }

    [Fact]
    public void Dense_selections_switch_to_a_bitmap()
    {
        const int n = 4096;
        float[] g = Reference.Gaussians(n, 4);
        var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = n * 0.6 });
        byte[] payload = codec.Encode(g, TensorShape.Vector(n), 1);

        // A bitmap costs n bits; signs one bit per drawn atom; exact atoms 4 bytes each.
        int exact = codec.LastSelection.ExactCount;
        Assert.True(payload.Length <= 64 + (n / 8) + (codec.LastSelection.Count / 8) + (exact * 4) + (exact / 2), $"{payload.Length} bytes");
        var decoded = new float[n];
        codec.Decode(payload, decoded);
        var expected = new float[n];
        codec.LastSelection.AddTo(expected);
        Assert.Equal(expected, decoded);
    }

    [Fact]
    public void Shape_mismatches_are_refused_and_leave_the_destination_alone()
    {
        var codec = new AtomoCodec(Make("fixed", Sampling.Independent));
        Assert.Throws<ArgumentException>(() => codec.Encode(new float[10], TensorShape.Vector(11), 1));

        byte[] payload = codec.Encode(Reference.Gaussians(100, 1), TensorShape.Matrix(10, 10), 1);
        var destination = Enumerable.Repeat(7f, 99).ToArray();
        var error = Assert.Throws<AtomoFormatException>(() => codec.Decode(payload, destination));
        Assert.Equal("shape", error.Field);
        Assert.All(destination, x => Assert.Equal(7f, x));
        Assert.Equal(TensorShape.Matrix(10, 10), AtomoCodec.ReadHeader(payload).Shape);
    }

    [Fact]
    public void Round_trip_property()
    {
        Gen.Select(Gen.Int[1, 600], Gen.Double[0.1, 50], Gen.Int[0, 64], Gen.Bool, Gen.ULong)
            .Sample((n, budget, bucket, systematic, seed) =>
            {
                var random = new Random((int)(seed % int.MaxValue));
                float[] g = Enumerable.Range(0, n).Select(i => random.Next(4) == 0 ? 0f : (float)Reference.Gaussian(random)).ToArray();
                var codec = new AtomoCodec(new AtomoOptions
                {
                    Decomposition = Decomposition.Coordinate,
                    Budget = budget,
                    BucketSize = bucket,
                    Sampling = systematic ? Sampling.Systematic : Sampling.Independent,
                });
                byte[] payload = codec.Encode(g, TensorShape.Vector(n), seed);
                var expected = new float[n];
                codec.LastSelection.AddTo(expected);
                var decoded = new float[n];
                codec.Decode(payload, decoded);
                return expected.AsSpan().SequenceEqual(decoded);
            }, iter: 2000, seed: "0N0XIzNsQ0O2");
    }
}
