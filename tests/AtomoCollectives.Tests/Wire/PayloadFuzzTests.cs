using System.Buffers.Binary;
using System.IO.Hashing;
using AtomoCollectives.Tests.Sparsification;

namespace AtomoCollectives.Tests.Wire;

/// <summary>
/// Malformed payloads must raise <see cref="AtomoFormatException"/> and nothing else, and leave the destination
/// untouched. Half of the mutants get a fresh checksum, so the parser itself sees them rather than the checksum.
/// </summary>
public class PayloadFuzzTests
{
    /// <summary>Eleven seed payloads × 11,400 = 125,400 mutants.</summary>
    private const int MutantsPerSeedPayload = 11_400;

    public static IEnumerable<object[]> SeedPayloads()
    {
        float[] g = Reference.HeavyTailed(2000, 5, outliers: 3);
        int index = 0;
        foreach ((string kind, Sampling sampling) in new[] { ("fixed", Sampling.Independent), ("bucketed", Sampling.Systematic), ("terngrad", Sampling.Independent), ("lossless", Sampling.Systematic) })
        {
            yield return [index++, kind, sampling, new AtomoCodec(AtomoCodecCoordinateTests.Make(kind, sampling)).Encode(g, TensorShape.Matrix(40, 50), 3)];
        }

        float[] matrix = AtomoCodecSpectralFourierTests.LowRankPlusNoise(24, 20, 7);
        yield return [index++, "spectral", Sampling.Systematic, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3 }).Encode(matrix, TensorShape.Matrix(24, 20), 2)];
        yield return [index++, "spectral-f16", Sampling.Independent, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 8, SpectralPrecision = ValuePrecision.Float16 }).Encode(matrix, TensorShape.Matrix(24, 20), 2)];
        float[] noise = Reference.Gaussians(30 * 26, 8);
        yield return [index++, "spectral-residual", Sampling.Systematic, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 2 }).Encode(noise, TensorShape.Matrix(30, 26), 4)];
        yield return [index++, "spectral-exact", Sampling.Independent, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3, SpectralMethod = SpectralMethod.Exact }).Encode(matrix, TensorShape.Matrix(24, 20), 2)];
        yield return [index++, "fourier", Sampling.Systematic, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Fourier, Budget = 30 }).Encode(matrix, TensorShape.Matrix(24, 20), 2)];
        float[] dense = Reference.Gaussians(512, 6);
        yield return [index++, "bitmap", Sampling.Independent, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 400 }).Encode(dense, TensorShape.Vector(512), 1)];
        yield return [index, "tiny", Sampling.Independent, new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 1 }).Encode([0f, 2f, -1f], TensorShape.Vector(3), 1)];
    }

    [Theory]
    [MemberData(nameof(SeedPayloads))]
    public void Mutated_payloads_raise_only_format_errors(int index, string kind, Sampling sampling, byte[] valid)
    {
        _ = kind;
        _ = sampling;
        (_, _, _, TensorShape shape) = AtomoCodec.ReadHeader(valid);
        var codec = new AtomoCodec(new AtomoOptions());
        var random = new Random(1000 + index);
        var destination = new float[shape.ElementCount];
        int accepted = 0;
        for (int mutant = 0; mutant < MutantsPerSeedPayload; mutant++)
        {
            byte[] bytes = Mutate(valid, random, mutant);
            if (mutant % 2 == 0)
            {
                Reseal(bytes);
            }

            destination.AsSpan().Fill(123f);
            try
            {
                codec.Decode(bytes, destination);
                accepted++;
                Assert.True(destination.All(float.IsFinite), "a decoded mutant holds NaN or infinity");
            }
            catch (AtomoFormatException error)
            {
                Assert.False(string.IsNullOrEmpty(error.Field));
                Assert.True(destination.AsSpan().IndexOfAnyExcept(123f) < 0, $"a refused mutant ({error.Field}) changed the destination");
            }
        }

        // Resealed bit flips in values and signs stay well-formed; structural damage must not.
        Assert.True(accepted < MutantsPerSeedPayload / 2, $"{accepted} of {MutantsPerSeedPayload} mutants decoded");
    }

    [Fact]
    public void Length_fields_set_to_zero_max_or_negative_are_refused()
    {
        float[] g = Reference.Gaussians(300, 2);
        byte[] valid = new AtomoCodec(new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 30, BucketSize = 100 }).Encode(g, TensorShape.Vector(300), 1);
        var codec = new AtomoCodec(new AtomoOptions());
        var destination = new float[300];
        byte[][] replacements = [[0x00], [0xFF, 0xFF, 0xFF, 0xFF, 0x07], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]];
        int tried = 0;

        // Replace the varint at every offset after the fixed header bytes with each extreme value.
        for (int offset = 10; offset < valid.Length - 8; offset++)
        {
            foreach (byte[] replacement in replacements)
            {
                byte[] bytes = [.. valid[..offset], .. replacement, .. valid[Math.Min(valid.Length - 8, offset + 1)..]];
                Reseal(bytes);
                try
                {
                    codec.Decode(bytes, destination);
                }
                catch (AtomoFormatException)
                {
                }

                tried++;
            }
        }

        Assert.True(tried > 100);
    }

    private static byte[] Mutate(byte[] valid, Random random, int mutant)
    {
        switch (mutant % 5)
        {
            case 0:
            case 1:
            {
                byte[] bytes = (byte[])valid.Clone();
                int flips = 1 + random.Next(8);
                for (int f = 0; f < flips; f++)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            }

            case 2:
                return valid[..random.Next(valid.Length)];
            case 3:
            {
                var bytes = new byte[random.Next(1, valid.Length * 2)];
                random.NextBytes(bytes);
                if (bytes.Length >= 5 && random.Next(2) == 0)
                {
                    valid.AsSpan(0, 5).CopyTo(bytes);
                }

                return bytes;
            }

            default:
            {
                // Splice: a valid prefix, random middle, valid tail.
                int cut = random.Next(valid.Length);
                var middle = new byte[random.Next(0, 16)];
                random.NextBytes(middle);
                return [.. valid[..cut], .. middle, .. valid[Math.Min(valid.Length, cut + random.Next(0, 16))..]];
            }
        }
    }

    /// <summary>Recomputes the trailing XxHash3 so that only the parser can catch the mutation.</summary>
    private static void Reseal(byte[] bytes)
    {
        if (bytes.Length >= 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), XxHash3.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8)));
        }
    }
}
