using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace AtomoCollectives;

/// <summary>
/// The one format of an averager's saved state (<c>SaveState</c>/<c>LoadState</c>), so that a job stopped by a time
/// limit or preemption resumes where it was. Little-endian:
/// <code>
/// "ATOMOST1"  8 bytes magic
/// u16         format version (1)
/// u8 + UTF-8  kind: the averager's type name
/// i64         options hash: a state is only loaded by an averager with the same options
/// i32, i32    rank and size it was saved on: each rank keeps its own state (warm-start bases follow its own gradients)
/// i64         step (calls completed)
/// i64 + bytes body (the averager's own sections)
/// u64         XxHash3 of everything above
/// </code>
/// Reading checks every field and the checksum before anything is handed back, so a failed load leaves the averager as
/// it was.
/// </summary>
internal static class AveragerState
{
    private const ushort Version = 1;
    private static ReadOnlySpan<byte> Magic => "ATOMOST1"u8;

    /// <summary>At most this many tensor positions in a state (a model with more tensors is not plausible).</summary>
    public const int MaxTensors = 1 << 20;

    /// <summary>Saves <paramref name="header"/> and a body through <paramref name="runner"/>, so that no call runs meanwhile.</summary>
    public static void Save(CallRunner runner, Stream stream, Func<Header> header, Action<BinaryWriter> writeBody)
    {
        ArgumentNullException.ThrowIfNull(stream);
        runner.RunSynchronous(() => Write(stream, header(), writeBody));
    }

    /// <summary>
    /// Loads a state through <paramref name="runner"/>: reads and checks the header and the whole body with
    /// <paramref name="readBody"/>, and only then hands the step and the body's result to <paramref name="commit"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">See <see cref="Read"/> and <see cref="ReadBody"/>.</exception>
    public static void Load<T>(CallRunner runner, Stream stream, Func<Header> expected, Func<BinaryReader, T> readBody, Action<long, T> commit)
    {
        ArgumentNullException.ThrowIfNull(stream);
        runner.RunSynchronous(() =>
        {
            (long step, BinaryReader body) = Read(stream, expected());
            T state = ReadBody(body, readBody);
            commit(step, state);
        });
    }

    /// <summary>Reads a shape written as its dimension count and dimensions.</summary>
    /// <exception cref="InvalidDataException">The dimensions do not make a shape.</exception>
    public static TensorShape ReadShape(BinaryReader reader)
    {
        int[] dimensions = new int[ReadCount(reader, 32, "shape dimensions")];
        for (int i = 0; i < dimensions.Length; i++)
        {
            dimensions[i] = reader.ReadInt32();
        }

        try
        {
            return TensorShape.Of(dimensions);
        }
        catch (ArgumentException error)
        {
            throw new InvalidDataException($"The averager state holds an impossible shape: {error.Message}");
        }
    }

    /// <summary>Writes a shape as its dimension count and dimensions.</summary>
    public static void WriteShape(BinaryWriter writer, TensorShape shape)
    {
        writer.Write(shape.Dimensions.Length);
        foreach (int dimension in shape.Dimensions)
        {
            writer.Write(dimension);
        }
    }

    /// <summary>What a state file says about where it came from.</summary>
    public readonly record struct Header(string Kind, long OptionsHash, int Rank, int Size, long Step);

    /// <summary>Writes <paramref name="header"/> and the body that <paramref name="writeBody"/> produces, then the checksum.</summary>
    public static void Write(Stream stream, Header header, Action<BinaryWriter> writeBody)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var body = new MemoryStream();
        using (var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            writeBody(writer);
        }

        var all = new MemoryStream();
        using (var writer = new BinaryWriter(all, Encoding.UTF8, leaveOpen: true))
        {
            byte[] kind = Encoding.UTF8.GetBytes(header.Kind);
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write((byte)kind.Length);
            writer.Write(kind);
            writer.Write(header.OptionsHash);
            writer.Write(header.Rank);
            writer.Write(header.Size);
            writer.Write(header.Step);
            writer.Write(body.Length);
            body.Position = 0;
            body.CopyTo(all);
        }

        Span<byte> checksum = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, XxHash3.HashToUInt64(all.GetBuffer().AsSpan(0, (int)all.Length)));
        all.Write(checksum);
        all.Position = 0;
        all.CopyTo(stream);
    }

    /// <summary>
    /// Reads a state written by <see cref="Write"/> for an averager described by <paramref name="expected"/> (its step
    /// is not compared) and returns the saved step and a reader over the body.
    /// </summary>
    /// <exception cref="InvalidDataException">The stream is not a state file, is of another version, is truncated or corrupted, or was saved by another kind of averager, with other options, or on another rank or number of ranks.</exception>
    public static (long Step, BinaryReader Body) Read(Stream stream, Header expected)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        byte[] bytes = copy.ToArray();
        if (bytes.Length < Magic.Length + 8 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException("This is not an AtomoCollectives averager state (the magic bytes \"ATOMOST1\" are missing).");
        }

        ReadOnlySpan<byte> covered = bytes.AsSpan(0, bytes.Length - 8);
        if (XxHash3.HashToUInt64(covered) != BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8)))
        {
            throw new InvalidDataException("The averager state's XxHash3 checksum does not match: the file was truncated or corrupted.");
        }

        var reader = new BinaryReader(new MemoryStream(bytes, 0, bytes.Length - 8, writable: false), Encoding.UTF8);
        try
        {
            reader.ReadBytes(Magic.Length);
            ushort version = reader.ReadUInt16();
            if (version != Version)
            {
                throw new InvalidDataException($"The averager state has format version {version}; this library reads version {Version}.");
            }

            var saved = new Header(Encoding.UTF8.GetString(reader.ReadBytes(reader.ReadByte())), reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64());
            if (saved.Kind != expected.Kind)
            {
                throw new InvalidDataException($"The state was saved by {saved.Kind}, not {expected.Kind}.");
            }

            if (saved.OptionsHash != expected.OptionsHash)
            {
                throw new InvalidDataException($"The state was saved by a {saved.Kind} with other options (options hash {saved.OptionsHash:X16}, this one's {expected.OptionsHash:X16}): load it with the options it was saved with.");
            }

            if (saved.Rank != expected.Rank || saved.Size != expected.Size)
            {
                throw new InvalidDataException($"The state was saved by rank {saved.Rank} of {saved.Size}; this is rank {expected.Rank} of {expected.Size}. Each rank loads the state it saved, with the same number of ranks.");
            }

            if (saved.Step < 0)
            {
                throw new InvalidDataException($"The state's step is {saved.Step}.");
            }

            long bodyLength = reader.ReadInt64();
            if (bodyLength != reader.BaseStream.Length - reader.BaseStream.Position)
            {
                throw new InvalidDataException($"The state's body is {reader.BaseStream.Length - reader.BaseStream.Position} bytes, its header says {bodyLength}.");
            }

            return (saved.Step, reader);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("The averager state ends inside its header.");
        }
    }

    /// <summary>Runs <paramref name="read"/> over the body and checks that it used all of it.</summary>
    /// <exception cref="InvalidDataException">The body ends early or has bytes left over.</exception>
    public static T ReadBody<T>(BinaryReader body, Func<BinaryReader, T> read)
    {
        T result;
        try
        {
            result = read(body);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("The averager state ends inside its body: it was truncated.");
        }

        long left = body.BaseStream.Length - body.BaseStream.Position;
        if (left != 0)
        {
            throw new InvalidDataException($"The averager state has {left} bytes after its body.");
        }

        return result;
    }

    /// <summary>Reads a count of items the body may hold, at most <paramref name="limit"/>.</summary>
    /// <exception cref="InvalidDataException">The count is negative or above the limit.</exception>
    public static int ReadCount(BinaryReader reader, int limit, string what)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > limit)
        {
            throw new InvalidDataException($"The averager state holds {count} {what}; at most {limit} are possible.");
        }

        return count;
    }

    /// <summary>Writes a length-prefixed float array.</summary>
    public static void WriteFloats(BinaryWriter writer, ReadOnlySpan<float> values)
    {
        writer.Write(values.Length);
        Span<byte> buffer = stackalloc byte[4];
        foreach (float value in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, value);
            writer.Write(buffer);
        }
    }

    /// <summary>Reads a length-prefixed float array of exactly <paramref name="expectedLength"/> values.</summary>
    /// <exception cref="InvalidDataException">The length differs or a value is not finite.</exception>
    public static float[] ReadFloats(BinaryReader reader, int expectedLength, string what)
    {
        int length = reader.ReadInt32();
        if (length != expectedLength)
        {
            throw new InvalidDataException($"The averager state's {what} has {length} values; {expectedLength} were expected.");
        }

        var values = new float[length];
        byte[] bytes = reader.ReadBytes(checked(length * 4));
        if (bytes.Length != length * 4)
        {
            throw new EndOfStreamException();
        }

        for (int i = 0; i < length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
            if (!float.IsFinite(values[i]))
            {
                throw new InvalidDataException($"The averager state's {what} holds {values[i]} at {i}.");
            }
        }

        return values;
    }
}
