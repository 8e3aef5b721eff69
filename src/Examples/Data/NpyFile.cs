using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace AtomoCollectives.Examples.Data;

/// <summary>A float32 array read from a <c>.npy</c> file: its shape (C order) and its values.</summary>
internal sealed record NpyArray(int[] Shape, float[] Data);

/// <summary>
/// NumPy's <c>.npy</c> format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), for
/// little-endian float32 arrays in C order only, which is what gradient captures hold. Writes version 1.0; reads
/// 1.0 and 2.0. This file is also compiled into the benchmarks project (linked), so it depends on nothing else here.
/// </summary>
internal static partial class NpyFile
{
    /// <summary>The six magic bytes every <c>.npy</c> file starts with.</summary>
    public static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The only dtype written and accepted: little-endian IEEE float32.</summary>
    public const string Dtype = "<f4";

    /// <summary>Preamble plus header dictionary are padded to a multiple of this many bytes.</summary>
    public const int Alignment = 64;

    /// <summary>
    /// The complete version 1.0 header for an array of <paramref name="shape"/>: magic, version, header length
    /// (uint16 little-endian) and the dictionary, padded with spaces and ended by <c>\n</c> so that its total
    /// length is a multiple of <see cref="Alignment"/>.
    /// </summary>
    public static byte[] Header(ReadOnlySpan<int> shape)
    {
        var dictionary = new StringBuilder("{'descr': '").Append(Dtype).Append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0)
            {
                throw new ArgumentException($"Dimension {i} of the shape is negative ({shape[i]}).", nameof(shape));
            }

            dictionary.Append(shape[i].ToString(CultureInfo.InvariantCulture)).Append(shape.Length == 1 ? "," : i < shape.Length - 1 ? ", " : "");
        }

        dictionary.Append("), }");
        const int preamble = 10; // magic (6), version (2), header length (2)
        int unpadded = preamble + dictionary.Length + 1;
        int total = (unpadded + Alignment - 1) / Alignment * Alignment;
        dictionary.Append(' ', total - unpadded).Append('\n');
        if (total - preamble > ushort.MaxValue)
        {
            throw new ArgumentException("The shape does not fit a version 1.0 header.", nameof(shape));
        }

        var header = new byte[total];
        Magic.CopyTo(header);
        header[6] = 1;
        header[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(total - preamble));
        Encoding.ASCII.GetBytes(dictionary.ToString(), header.AsSpan(preamble));
        return header;
    }

    /// <summary>Writes <paramref name="data"/> as a version 1.0 <c>.npy</c> file of <paramref name="shape"/> (C order).</summary>
    /// <exception cref="ArgumentException">The shape's element count is not the data's length.</exception>
    public static void Write(string path, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        long elements = 1;
        foreach (int dimension in shape)
        {
            elements *= dimension;
        }

        if (elements != data.Length)
        {
            throw new ArgumentException($"The shape holds {elements} elements but {data.Length} values were given.", nameof(shape));
        }

        byte[] header = Header(shape);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        file.Write(header);
        if (BitConverter.IsLittleEndian)
        {
            file.Write(MemoryMarshal.AsBytes(data));
        }
        else
        {
            var bytes = new byte[4];
            foreach (float value in data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
                file.Write(bytes);
            }
        }
    }

    /// <summary>Reads a float32 <c>.npy</c> file.</summary>
    /// <exception cref="NpyFormatException">Not a <c>.npy</c> file, or not a little-endian float32 C-order array, or truncated; the message names the file and the problem.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static NpyArray Read(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Parses the bytes of a <c>.npy</c> file; <paramref name="path"/> only names it in errors.</summary>
    /// <exception cref="NpyFormatException">See <see cref="Read(string)"/>.</exception>
    public static NpyArray Parse(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw new NpyFormatException(path, "not a .npy file (it does not start with the magic \\x93NUMPY)");
        }

        byte major = bytes[6], minor = bytes[7];
        int headerLength, preamble;
        if (major == 1 && minor == 0)
        {
            preamble = 10;
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
        }
        else if (major == 2 && minor == 0)
        {
            if (bytes.Length < 12)
            {
                throw new NpyFormatException(path, "truncated in the version 2.0 preamble");
            }

            preamble = 12;
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
            headerLength = length > int.MaxValue ? int.MaxValue : (int)length;
        }
        else
        {
            throw new NpyFormatException(path, $"unsupported .npy version {major}.{minor} (1.0 and 2.0 are read)");
        }

        if ((long)preamble + headerLength > bytes.Length)
        {
            throw new NpyFormatException(path, $"truncated: the header claims {headerLength} bytes but the file has {bytes.Length - preamble} after the preamble");
        }

        string header;
        try
        {
            header = Encoding.ASCII.GetString(bytes.Slice(preamble, headerLength)).TrimEnd(' ', '\n', '\0');
        }
        catch (DecoderFallbackException)
        {
            throw new NpyFormatException(path, "the header is not ASCII");
        }

        if (!header.StartsWith('{') || !header.EndsWith('}'))
        {
            throw new NpyFormatException(path, $"the header is not a Python dict literal: {Abbreviate(header)}");
        }

        Match descr = DescrPattern().Match(header);
        if (!descr.Success)
        {
            throw new NpyFormatException(path, $"the header has no 'descr': {Abbreviate(header)}");
        }

        if (descr.Groups[1].Value != Dtype)
        {
            throw new NpyFormatException(path, $"dtype '{descr.Groups[1].Value}' is not supported; only little-endian float32 ('{Dtype}') is read");
        }

        Match fortran = FortranPattern().Match(header);
        if (!fortran.Success)
        {
            throw new NpyFormatException(path, $"the header has no 'fortran_order' True or False: {Abbreviate(header)}");
        }

        if (fortran.Groups[1].Value == "True")
        {
            throw new NpyFormatException(path, "fortran_order is True; only C-order arrays are read");
        }

        int[] shape = ParseShape(header, path);
        long elements = 1;
        foreach (int dimension in shape)
        {
            elements *= dimension;
        }

        long dataBytes = bytes.Length - preamble - headerLength;
        if (dataBytes != elements * sizeof(float))
        {
            throw new NpyFormatException(path, $"the shape ({string.Join(", ", shape)}) needs {elements * sizeof(float)} data bytes but the file has {dataBytes}");
        }

        var data = new float[elements];
        ReadOnlySpan<byte> payload = bytes[(preamble + headerLength)..];
        if (BitConverter.IsLittleEndian)
        {
            payload.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
        }
        else
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(payload[(4 * i)..]);
            }
        }

        return new NpyArray(shape, data);
    }

    private static int[] ParseShape(string header, string path)
    {
        Match match = ShapePattern().Match(header);
        if (!match.Success)
        {
            throw new NpyFormatException(path, $"the header has no 'shape' tuple: {Abbreviate(header)}");
        }

        string[] parts = match.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 0 && parts[^1].Length == 0)
        {
            parts = parts[..^1]; // "(3,)" and "(3, 4,)"
        }

        var shape = new int[parts.Length];
        long elements = 1;
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
            {
                throw new NpyFormatException(path, $"the shape '({match.Groups[1].Value})' is not a tuple of non-negative integers");
            }

            elements *= shape[i];
            if (elements > int.MaxValue)
            {
                throw new NpyFormatException(path, $"the shape '({match.Groups[1].Value})' has more than {int.MaxValue} elements");
            }
        }

        return shape;
    }

    private static string Abbreviate(string header) => header.Length <= 120 ? header : header[..120] + "…";

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)\b")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
