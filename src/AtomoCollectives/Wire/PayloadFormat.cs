using System.Buffers.Binary;
using System.IO.Hashing;

namespace AtomoCollectives;

/// <summary>The fixed parts of the payload format (docs/wire-format.md): magic, version, header and checksum.</summary>
internal static class PayloadFormat
{
    public const uint Magic = 0x4F4D5441; // "ATMO" little-endian
    public const byte Version = 2;
    public const int MaxDimensions = 8;
    public const int ChecksumLength = 8;

    /// <summary>The smallest well-formed payload: magic, version, four kind bytes, rank, one dimension, checksum.</summary>
    public const int MinimumLength = 4 + 1 + 4 + 1 + 1 + ChecksumLength;

    /// <summary>Writes the header; <paramref name="fourierBlockLength"/> is the Fourier atoms' block length (0: one DCT of the whole tensor).</summary>
    public static void WriteHeader(BitWriter writer, Decomposition decomposition, Sampling sampling, ValuePrecision precision, TensorShape shape, int fourierBlockLength = 0)
    {
        bool blocks = decomposition == Decomposition.Fourier && fourierBlockLength != 0;
        BinaryPrimitives.WriteUInt32LittleEndian(writer.Reserve(4), Magic);
        writer.WriteByte(Version);
        writer.WriteByte(blocks ? WireCodes.FourierOnBlocks : WireCodes.Of(decomposition));
        writer.WriteByte(WireCodes.Of(sampling));
        writer.WriteByte(WireCodes.Of(precision));
        writer.WriteByte(0); // flags, reserved
        writer.WriteByte((byte)shape.Rank);
        foreach (int dimension in shape.Dimensions)
        {
            writer.WriteVarint((ulong)dimension);
        }

        if (blocks)
        {
            writer.WriteVarint((ulong)fourierBlockLength);
        }
    }

    public static void AppendChecksum(BitWriter writer)
    {
        ulong checksum = XxHash3.HashToUInt64(writer.Written);
        BinaryPrimitives.WriteUInt64LittleEndian(writer.Reserve(ChecksumLength), checksum);
    }

    /// <summary>Verifies length, checksum, magic and version; returns the bytes covered by the checksum.</summary>
    public static ReadOnlySpan<byte> Verify(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < MinimumLength)
        {
            throw new AtomoFormatException("length", $"{payload.Length} bytes is shorter than the smallest payload ({MinimumLength} bytes)");
        }

        ReadOnlySpan<byte> covered = payload[..^ChecksumLength];
        if (BinaryPrimitives.ReadUInt32LittleEndian(payload) != Magic)
        {
            throw new AtomoFormatException("magic", "the payload does not start with \"ATMO\"");
        }

        if (payload[4] != Version)
        {
            string detail = payload[4] == 1
                ? "version 1 (AtomoCollectives 0.1, whose spectral payloads carry a dense residual atom) is not read by this library, which reads version 2: every rank must run the same version"
                : $"version {payload[4]} is not supported (this library reads version {Version})";
            throw new AtomoFormatException("version", detail);
        }

        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(payload[^ChecksumLength..]);
        if (XxHash3.HashToUInt64(covered) != expected)
        {
            throw new AtomoFormatException("checksum", "the XxHash3 checksum does not match: the payload was corrupted or truncated");
        }

        return covered;
    }

    public static (Decomposition Decomposition, Sampling Sampling, ValuePrecision Precision, TensorShape Shape) ReadHeader(ref BitReader reader) =>
        ReadHeader(ref reader, out _);

    /// <summary>Reads the header; <paramref name="fourierBlockLength"/> is the Fourier atoms' block length (0 for one DCT of the whole tensor and for other decompositions).</summary>
    public static (Decomposition Decomposition, Sampling Sampling, ValuePrecision Precision, TensorShape Shape) ReadHeader(ref BitReader reader, out int fourierBlockLength)
    {
        reader.ReadBytes(5, "magic"); // magic and version, checked by Verify
        byte code = reader.ReadByte("decomposition");
        bool blocks = code == WireCodes.FourierOnBlocks;
        Decomposition decomposition = blocks ? Decomposition.Fourier : WireCodes.DecompositionOf(code) ?? throw new AtomoFormatException("decomposition", $"unknown decomposition {code}");
        code = reader.ReadByte("sampling");
        Sampling sampling = WireCodes.SamplingOf(code) ?? throw new AtomoFormatException("sampling", $"unknown sampling {code}");
        code = reader.ReadByte("precision");
        ValuePrecision precision = WireCodes.PrecisionOf(code) ?? throw new AtomoFormatException("precision", $"unknown value precision {code}");

        byte flags = reader.ReadByte("flags");
        if (flags != 0)
        {
            throw new AtomoFormatException("flags", $"reserved flags {flags:X2} are set");
        }

        int rank = reader.ReadByte("rank");
        if (rank is 0 or > MaxDimensions)
        {
            throw new AtomoFormatException("rank", $"{rank} dimensions (1 to {MaxDimensions} allowed)");
        }

        Span<int> dimensions = stackalloc int[rank];
        long count = 1;
        for (int axis = 0; axis < rank; axis++)
        {
            dimensions[axis] = reader.ReadCount($"shape[{axis}]", int.MaxValue);
            count *= dimensions[axis];
            if (count > int.MaxValue)
            {
                throw new AtomoFormatException("shape", "the element count exceeds 2³¹ − 1");
            }
        }

        fourierBlockLength = 0;
        if (blocks)
        {
            fourierBlockLength = reader.ReadCount("fourierBlockLength", Decompositions.BlockCosineTransform.MaximumBlockLength);
            if (!Decompositions.BlockCosineTransform.IsValidBlockLength(fourierBlockLength))
            {
                throw new AtomoFormatException("fourierBlockLength", $"{fourierBlockLength} is not a power of two from {Decompositions.BlockCosineTransform.MinimumBlockLength} to {Decompositions.BlockCosineTransform.MaximumBlockLength}");
            }
        }

        return (decomposition, sampling, precision, TensorShape.Of(dimensions.ToArray()));
    }
}
