using System.Buffers.Binary;
using System.IO.Compression;

namespace AtomoCollectives.Examples.Data;

/// <summary>
/// Reads IDX files (the MNIST and Fashion-MNIST format), gzip-compressed or not: a big-endian header
/// <c>00 00 08 D</c> (unsigned bytes, D dimensions), D big-endian 32-bit sizes, then the bytes.
/// Anything else (wrong magic, a size that does not match, a file cut short or with trailing bytes,
/// a broken gzip stream) is an <see cref="IdxFormatException"/> naming the file and the problem.
/// </summary>
public static class IdxReader
{
    private const int UnsignedByteType = 0x08;

    /// <summary>Reads an unsigned-byte IDX file with <paramref name="dimensions"/> dimensions.</summary>
    /// <returns>The sizes and the data, row-major.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IdxFormatException">The file is not a well-formed IDX file of that kind.</exception>
    public static (int[] Sizes, byte[] Data) Read(string path, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist.", path);
        }

        try
        {
            using FileStream file = File.OpenRead(path);
            using Stream stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Read(stream, path, dimensions);
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException(path, $"the gzip stream is corrupt ({e.Message})", e);
        }
    }

    /// <summary>Reads an unsigned-byte IDX file from <paramref name="stream"/> (already decompressed); <paramref name="name"/> is used in errors.</summary>
    /// <exception cref="IdxFormatException">The data are not a well-formed IDX file of that kind.</exception>
    public static (int[] Sizes, byte[] Data) Read(Stream stream, string name, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, name, "the header");
        if (header[0] != 0 || header[1] != 0)
        {
            throw new IdxFormatException(name, $"bad magic number {BinaryPrimitives.ReadUInt32BigEndian(header):X8}: not an IDX file");
        }

        if (header[2] != UnsignedByteType)
        {
            throw new IdxFormatException(name, $"element type 0x{header[2]:X2} is not unsigned byte (0x08)");
        }

        if (header[3] != dimensions)
        {
            throw new IdxFormatException(name, $"{header[3]} dimensions, expected {dimensions}");
        }

        var sizes = new int[dimensions];
        long total = 1;
        Span<byte> size = stackalloc byte[4];
        for (int axis = 0; axis < dimensions; axis++)
        {
            ReadExactly(stream, size, name, $"size {axis}");
            uint value = BinaryPrimitives.ReadUInt32BigEndian(size);
            total *= value;
            if (value == 0 || total > Array.MaxLength)
            {
                throw new IdxFormatException(name, $"size {axis} is {value}: the data would be empty or larger than an array can hold");
            }

            sizes[axis] = (int)value;
        }

        var data = new byte[total];
        ReadExactly(stream, data, name, $"the data ({total:N0} bytes for sizes {string.Join('×', sizes)})");
        if (stream.ReadByte() != -1)
        {
            throw new IdxFormatException(name, $"trailing bytes after the {total:N0} bytes the header announces");
        }

        return (sizes, data);
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
        {
            throw new IdxFormatException(name, $"truncated: the file ends after {read} of the {buffer.Length:N0} bytes of {what}");
        }
    }
}
