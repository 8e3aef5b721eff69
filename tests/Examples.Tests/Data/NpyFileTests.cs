using System.Buffers.Binary;
using System.Text;
using AtomoCollectives.Examples.Data;

namespace AtomoCollectives.Examples.Tests.Data;

/// <summary>The .npy writer and reader: NumPy's exact header, round trips, and a clear error for each malformed file.</summary>
public sealed class NpyFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("npy-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // What numpy 1.24.2 writes for np.save(path, np.zeros(shape, dtype='<f4')) (checked by hand with real NumPy).
    [Theory]
    [InlineData(new[] { 5 }, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }")]
    [InlineData(new[] { 2, 3, 4 }, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }")]
    [InlineData(new[] { 6, 5, 5, 1 }, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 5, 5, 1), }")]
    [InlineData(new int[0], "{'descr': '<f4', 'fortran_order': False, 'shape': (), }")]
    public void HeaderIsByteForByteWhatNumPyWrites(int[] shape, string dictionary)
    {
        byte[] header = NpyFile.Header(shape);

        Assert.Equal(128, header.Length); // numpy pads these to 128 bytes: 10 preamble + 118
        Assert.Equal(0, header.Length % NpyFile.Alignment);
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], header[..8]);
        Assert.Equal(header.Length - 10, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(8)));
        string text = Encoding.ASCII.GetString(header, 10, header.Length - 10);
        Assert.Equal(dictionary.PadRight(header.Length - 11) + "\n", text);
    }

    [Fact]
    public void LongShapesPadToTheNextMultipleOf64()
    {
        int[] shape = [1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000];
        byte[] header = NpyFile.Header(shape);
        Assert.Equal(192, header.Length);
        Assert.Equal((byte)'\n', header[^1]);
        Assert.Equal((byte)' ', header[^2]);
    }

    [Theory]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 3, 4 })]
    [InlineData(new[] { 2, 3, 4 })]
    [InlineData(new[] { 6, 5, 5, 1 })]
    [InlineData(new[] { 0, 3 })]
    public void RoundTripKeepsShapeAndEveryBit(int[] shape)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        var random = new Random(count);
        float[] data = [.. Enumerable.Range(0, count).Select(i => i switch
        {
            0 => -0f,
            1 => float.PositiveInfinity,
            2 => float.Epsilon,
            _ => (float)(random.NextDouble() - 0.5) * 1e-3f,
        })];
        string path = Path.Combine(_directory, "a.npy");

        NpyFile.Write(path, data, shape);
        NpyArray read = NpyFile.Read(path);

        Assert.Equal(shape, read.Shape);
        Assert.Equal(data.Select(BitConverter.SingleToInt32Bits), read.Data.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(NpyFile.Header(shape).Length + (4L * count), new FileInfo(path).Length);
    }

    [Fact]
    public void WriteRefusesAShapeThatDoesNotHoldTheData()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => NpyFile.Write(Path.Combine(_directory, "b.npy"), new float[5], [2, 3]));
        Assert.Contains("6 elements but 5 values", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadsVersion2AndOtherKeyOrders()
    {
        // Version 2.0 (uint32 header length), keys in another order, no trailing comma: all valid .npy.
        byte[] file = Build(2, "{'shape': (2, 2), 'fortran_order': False, 'descr': '<f4'}", [1f, 2f, 3f, 4f]);
        NpyArray read = NpyFile.Parse(file, "v2.npy");
        Assert.Equal([2, 2], read.Shape);
        Assert.Equal([1f, 2f, 3f, 4f], read.Data);
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "magic", [.. "NUMPY\u0001\u0000"u8, .. new byte[20]], "not a .npy file (it does not start with the magic \\x93NUMPY)" },
        { "too short", [0x93, (byte)'N'], "not a .npy file" },
        { "version 3.0", Build(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", [1f]), "unsupported .npy version 3.0" },
        { "version 1.1", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", [1f], minor: 1), "unsupported .npy version 1.1" },
        { "float64", Build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", [1f, 1f]), "dtype '<f8' is not supported; only little-endian float32 ('<f4')" },
        { "big-endian", Build(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", [1f]), "dtype '>f4' is not supported" },
        { "fortran", Build(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", [1f, 2f, 3f, 4f]), "fortran_order is True; only C-order arrays are read" },
        { "no fortran_order", Build(1, "{'descr': '<f4', 'shape': (1,), }", [1f]), "the header has no 'fortran_order'" },
        { "no descr", Build(1, "{'fortran_order': False, 'shape': (1,), }", [1f]), "the header has no 'descr'" },
        { "no shape", Build(1, "{'descr': '<f4', 'fortran_order': False, }", [1f]), "the header has no 'shape' tuple" },
        { "bad shape", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", [1f, 1f]), "the shape '(2, x)' is not a tuple of non-negative integers" },
        { "negative shape", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", [1f, 1f]), "the shape '(-2,)' is not a tuple of non-negative integers" },
        { "not a dict", Build(1, "'descr': '<f4', 'fortran_order': False, 'shape': (1,)", [1f]), "the header is not a Python dict literal" },
        { "truncated data", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", [1f, 2f]), "the shape (3) needs 12 data bytes but the file has 8" },
        { "trailing data", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", [1f, 2f]), "the shape (1) needs 4 data bytes but the file has 8" },
        { "truncated header", Build(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", [])[..40], "truncated: the header claims 118 bytes but the file has 30 after the preamble" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void RejectsMalformedFilesNamingTheFileAndTheProblem(string name, byte[] bytes, string problem)
    {
        string path = Path.Combine(_directory, $"{name}.npy");
        File.WriteAllBytes(path, bytes);

        NpyFormatException e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));

        Assert.StartsWith($"{path}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.Path);
        Assert.IsAssignableFrom<FormatException>(e); // so the CLI's Guard turns it into one error line
    }

    /// <summary>A .npy file with the given version and dictionary (padded to 64 bytes) followed by <paramref name="data"/>.</summary>
    private static byte[] Build(byte major, string dictionary, float[] data, byte minor = 0)
    {
        int preamble = major == 1 ? 10 : 12;
        int unpadded = preamble + dictionary.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        string header = dictionary.PadRight(total - preamble - 1) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, minor };
        if (major == 1)
        {
            bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        }
        else
        {
            bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        }

        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (float value in data)
        {
            bytes.AddRange(BitConverter.GetBytes(value));
        }

        return [.. bytes];
    }
}
