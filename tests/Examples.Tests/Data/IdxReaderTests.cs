using System.IO.Compression;
using AtomoCollectives.Examples.Data;

namespace AtomoCollectives.Examples.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("idx-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static byte[] Idx(int dimensions, int[] sizes, byte[] data, byte type = 0x08)
    {
        var bytes = new List<byte> { 0, 0, type, (byte)dimensions };
        foreach (int size in sizes)
        {
            bytes.AddRange([(byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size]);
        }

        bytes.AddRange(data);
        return [.. bytes];
    }

    private string Write(string name, byte[] content, bool gzip)
    {
        string path = Path.Combine(_directory, name);
        if (gzip)
        {
            using FileStream file = File.Create(path);
            using var zip = new GZipStream(file, CompressionLevel.Fastest);
            zip.Write(content);
        }
        else
        {
            File.WriteAllBytes(path, content);
        }

        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsAWellFormedFilePlainOrGzipped(bool gzip)
    {
        string path = Write("ok", Idx(3, [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), gzip);
        (int[] sizes, byte[] data) = IdxReader.Read(path, 3);
        Assert.Equal([2, 2, 3], sizes);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (byte)i), data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RefusesATruncatedFile(bool gzip)
    {
        byte[] whole = Idx(3, [2, 2, 3], new byte[12]);
        string path = Write("short", whole[..^5], gzip);
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 3));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains("7 of the 12", e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void RefusesAFileCutInsideTheHeader()
    {
        string path = Write("header", Idx(3, [2, 2, 3], [])[..9], gzip: false);
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 3));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesTrailingBytes()
    {
        string path = Write("long", Idx(1, [3], [1, 2, 3, 4]), gzip: false);
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 1));
        Assert.Contains("trailing bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesABadMagicNumberAWrongTypeAndAWrongDimensionCount()
    {
        byte[] good = Idx(1, [3], [1, 2, 3]);
        byte[] badMagic = [.. good];
        badMagic[0] = 0x1F;
        Assert.Contains("magic", Assert.Throws<IdxFormatException>(() => IdxReader.Read(Write("magic", badMagic, false), 1)).Message, StringComparison.Ordinal);
        Assert.Contains("element type 0x0D", Assert.Throws<IdxFormatException>(() => IdxReader.Read(Write("type", Idx(1, [3], [1, 2, 3], type: 0x0D), false), 1)).Message, StringComparison.Ordinal);
        Assert.Contains("1 dimensions, expected 3", Assert.Throws<IdxFormatException>(() => IdxReader.Read(Write("dims", good, false), 3)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesAZeroSize()
    {
        string path = Write("zero", Idx(2, [0, 5], []), gzip: false);
        Assert.Contains("size 0 is 0", Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesACorruptGzipStream()
    {
        string path = Write("corrupt.gz", Idx(1, [64], new byte[64]), gzip: true);
        byte[] bytes = File.ReadAllBytes(path);
        for (int i = 10; i < bytes.Length - 8; i++)
        {
            bytes[i] ^= 0x5A; // scramble the deflate data, keep the gzip header
        }

        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, 1));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void AMissingDataSetNamesTheInstallCommand()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(_directory, training: true));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message, StringComparison.Ordinal);
        Assert.Contains("train-images-idx3-ubyte", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImagesAndLabelsThatDisagreeAreRefused()
    {
        Write("t10k-images-idx3-ubyte", Idx(3, [2, 1, 1], [0, 255]), gzip: false);
        Write("t10k-labels-idx1-ubyte", Idx(1, [3], [0, 1, 2]), gzip: false);
        var e = Assert.Throws<IdxFormatException>(() => FashionMnist.Load(_directory, training: false));
        Assert.Contains("3 labels for the 2 images", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALabelOutsideTheTenClassesIsRefused()
    {
        Write("t10k-images-idx3-ubyte", Idx(3, [2, 1, 1], [0, 255]), gzip: false);
        Write("t10k-labels-idx1-ubyte", Idx(1, [2], [0, 10]), gzip: false);
        Assert.Contains("label 10 at index 1", Assert.Throws<IdxFormatException>(() => FashionMnist.Load(_directory, training: false)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheInstalledDataSetHasTheKnownSizes()
    {
        LabeledImages test = FashionMnist.Load(FashionMnist.DefaultDirectory, training: false);
        Assert.Equal(10_000, test.Count);
        Assert.Equal(28 * 28, test.Pixels);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, test.Labels.Count(l => l == c))); // the test set is balanced
        Assert.InRange(test.Images.Max(), 0.99f, 1f);
        Assert.Equal(0f, test.Images.Min());
    }
}
