using AtomoCollectives.Decompositions;
using AtomoCollectives.Tests.Decompositions;

namespace AtomoCollectives.Tests.Wire;

/// <summary>Fourier atoms on blocks (<see cref="AtomoOptions.FourierBlockLength"/>): the wire code, and the fused encode and decode paths.</summary>
public class AtomoCodecFourierBlocksTests
{
    private static readonly TensorShape Shape = TensorShape.Matrix(96, 100); // 9,600 = 300 blocks of 32: the fused chunks end mid-tensor

    [Theory]
    [InlineData(8, 1024)]
    [InlineData(32, 1024)]
    [InlineData(32, 16)]
    [InlineData(1024, 256)]
    public void The_fused_encode_draws_exactly_what_sampling_the_whole_coefficient_vector_draws(int blockLength, int bucketSize)
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, blockLength + bucketSize);
        var options = new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = blockLength, BucketSize = bucketSize, Budget = 10 };
        var fused = new AtomSelection();
        Assert.True(CoordinateSparsifier.TrySampleBlockCosines(g, blockLength, options, 99, fused));

        var coefficients = new float[g.Length];
        BlockCosineTransform.Forward(g, coefficients, blockLength);
        var whole = new AtomSelection();
        CoordinateSparsifier.Sample(coefficients, options, 99, whole);

        Assert.True(whole.Count > 0);
        Assert.Equal(whole.Indices.ToArray(), fused.Indices.ToArray());
        Assert.Equal(whole.Values.ToArray(), fused.Values.ToArray());
        Assert.Equal(whole.IsExact.ToArray(), fused.IsExact.ToArray());
        Assert.Equal(whole.GroupMagnitudes.ToArray(), fused.GroupMagnitudes.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    public void Buckets_that_do_not_nest_with_the_blocks_take_the_unfused_path(int bucketSize)
    {
        var options = new AtomoOptions { Decomposition = Decomposition.Fourier, BucketSize = bucketSize };
        Assert.False(CoordinateSparsifier.TrySampleBlockCosines(new float[4096], 32, options, 1, new AtomSelection()));

        // The codec still encodes them, and its decode reconstructs the kept atoms.
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 3);
        var codec = new AtomoCodec(options);
        var decoded = new float[g.Length];
        codec.Decode(codec.Encode(g, Shape, 4), decoded);
        Assert.Equal(Reconstruct(codec.LastSelection, g.Length, options.FourierBlockLength), decoded);
    }

    [Fact]
    public void A_payload_carries_its_block_length_and_decodes_to_the_inverse_of_its_atoms_bit_for_bit()
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 5);
        var options = new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = 64, BucketSize = 1024, Budget = 20 };
        var codec = new AtomoCodec(options);
        byte[] payload = codec.Encode(g, Shape, 6);

        Assert.Equal(WireCodes.FourierOnBlocks, payload[5]);
        Assert.Equal(Decomposition.Fourier, AtomoCodec.ReadHeader(payload).Decomposition);

        // Decoded by a codec whose own options say otherwise: the payload's block length rules.
        var decoded = new float[g.Length];
        new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = 8 }).Decode(payload, decoded);
        Assert.Equal(Reconstruct(codec.LastSelection, g.Length, 64), decoded);
    }

    [Fact]
    public void A_NaN_is_named_by_its_index_in_the_tensor_on_the_fused_path()
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 12);
        g[5000] = float.NaN;
        var codec = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, BucketSize = 1024 });
        var error = Assert.Throws<ArgumentException>(() => codec.Encode(g, Shape, 1));
        Assert.Contains("5000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Whole_tensor_payloads_keep_decomposition_code_2()
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 7);
        byte[] payload = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = 0 }).Encode(g, Shape, 1);
        Assert.Equal(2, payload[5]);
    }

    [Fact]
    public void Payloads_on_different_blocks_are_not_summed()
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 8);
        byte[] on32 = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = 32 }).Encode(g, Shape, 1);
        byte[] on64 = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = 64 }).Encode(g, Shape, 1);
        var codec = new AtomoCodec(new AtomoOptions());
        codec.BeginAccumulate(g.Length);
        codec.Accumulate(on32, 1);
        var error = Assert.Throws<AtomoFormatException>(() => codec.Accumulate(on64, 1));
        Assert.Equal("fourierBlockLength", error.Field);
        Assert.Contains("blocks of 64", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(2048)]
    public void A_block_length_that_is_not_a_power_of_two_from_8_to_1024_is_refused_on_decode(int blockLength)
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 9);
        byte[] payload = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, FourierBlockLength = 16 }).Encode(g, Shape, 1);

        // The block length is the varint after the shape (96, 100: one byte each); 16 is one byte too.
        int at = 10 + 2;
        Assert.Equal(16, payload[at]);
        byte[] bad = [.. payload[..at], .. Varint(blockLength), .. payload[(at + 1)..^8]];
        bad = [.. bad, .. BitConverter.GetBytes(System.IO.Hashing.XxHash3.HashToUInt64(bad))];
        var destination = new float[g.Length];
        destination.AsSpan().Fill(7f);
        var error = Assert.Throws<AtomoFormatException>(() => new AtomoCodec(new AtomoOptions()).Decode(bad, destination));
        Assert.Equal("fourierBlockLength", error.Field);
        Assert.All(destination, x => Assert.Equal(7f, x));
    }

    [Fact]
    public void Coefficients_beyond_the_overflow_free_bound_are_decoded_with_the_scan_and_an_overflow_is_refused_untouched()
    {
        float[] g = TestMatrices.Gaussian(Shape.ElementCount, 10);
        var options = new AtomoOptions { Decomposition = Decomposition.Fourier, BucketSize = 1024, Budget = 30 };
        byte[] payload = new AtomoCodec(options).Encode(g, Shape, 1);
        var codec = new AtomoCodec(options);
        var destination = new float[g.Length];
        destination.AsSpan().Fill(7f);

        // Weighted by 1e38, the kept atoms' values (about 27 here) exceed float: the estimate overflows and nothing is written.
        codec.BeginAccumulate(g.Length);
        codec.Accumulate(payload, 1e38f);
        var error = Assert.Throws<AtomoFormatException>(() => codec.FinishAccumulate(destination, 1, add: true));
        Assert.Equal("values", error.Field);
        Assert.All(destination, x => Assert.Equal(7f, x));

        // Weighted by 2⁶⁴ (beyond the bound, below overflow), the scanned path gives what the fused one gives, scaled exactly.
        codec.BeginAccumulate(g.Length);
        codec.Accumulate(payload, 18446744073709551616f);
        var large = new float[g.Length];
        codec.FinishAccumulate(large, 1, add: false);
        codec.BeginAccumulate(g.Length);
        codec.Accumulate(payload, 1);
        var plain = new float[g.Length];
        codec.FinishAccumulate(plain, 1, add: false);
        Assert.Equal(plain.Select(x => x * 18446744073709551616f).ToArray(), large);
    }

    /// <summary>The inverse transform of the selection's atoms, added into zeros as the decoder does.</summary>
    private static float[] Reconstruct(AtomSelection selection, int length, int blockLength)
    {
        var coefficients = new float[length];
        selection.AddTo(coefficients);
        var x = new float[length];
        FourierAtoms.Inverse(coefficients, x, blockLength);
        return x;
    }

    private static byte[] Varint(int value)
    {
        var bytes = new List<byte>();
        uint v = (uint)value;
        while (v >= 0x80)
        {
            bytes.Add((byte)(v | 0x80));
            v >>= 7;
        }

        bytes.Add((byte)v);
        return [.. bytes];
    }
}
