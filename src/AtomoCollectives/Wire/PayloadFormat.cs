using System.Buffers.Binary;
using System.IO.Hashing;

namespace AtomoCollectives;

/// <summary>The fixed parts of the payload format (docs/wire-format.md): magic, version, header and checksum.</summary>
internal static class PayloadFormat
{
    public const uint Magic = 0x4F4D5441; // "ATMO" little-endian
    public const byte Version = 1;
    public const int MaxDimensions = 8;
    public const int ChecksumLength = 8;

    /// <summary>The smallest well-formed payload: magic, version, four kind bytes, rank, one dimension, checksum.</summary>
    public const int MinimumLength = 4 + 1 + 4 + 1 + 1 + ChecksumLength;

    public static void WriteHeader(BitWriter writer, Decomposition decomposition, Sampling sampling, ValuePrecision precision, TensorShape shape)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(writer.Reserve(4), Magic);
        writer.WriteByte(Version);
        writer.WriteByte((byte)decomposition);
        writer.WriteByte((byte)sampling);
        writer.WriteByte((byte)precision);
        writer.WriteByte(0); // flags, reserved
        writer.WriteByte((byte)shape.Rank);
        foreach (int dimension in shape.Dimensions)
        {
            writer.WriteVarint((ulong)dimension);
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
            throw new AtomoFormatException("version", $"version {payload[4]} is not supported (this library reads version {Version})");
        }

        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(payload[^ChecksumLength..]);
        if (XxHash3.HashToUInt64(covered) != expected)
        {
            throw new AtomoFormatException("checksum", "the XxHash3 checksum does not match: the payload was corrupted or truncated");
        }

        return covered;
    }

    public static (Decomposition Decomposition, Sampling Sampling, ValuePrecision Precision, TensorShape Shape) ReadHeader(ref BitReader reader)
    {
        reader.ReadBytes(5, "magic"); // magic and version, checked by Verify
        byte decomposition = reader.ReadByte("decomposition");
        if (decomposition > (byte)Decomposition.Fourier)
        {
            throw new AtomoFormatException("decomposition", $"unknown decomposition {decomposition}");
        }

        byte sampling = reader.ReadByte("sampling");
        if (sampling > (byte)Sampling.Systematic)
        {
            throw new AtomoFormatException("sampling", $"unknown sampling {sampling}");
        }

        byte precision = reader.ReadByte("precision");
        if (precision > (byte)ValuePrecision.BFloat16)
        {
            throw new AtomoFormatException("precision", $"unknown value precision {precision}");
        }

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

        return ((Decomposition)decomposition, (Sampling)sampling, (ValuePrecision)precision, TensorShape.Of(dimensions.ToArray()));
    }
}
