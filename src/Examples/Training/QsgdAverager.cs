using System.Diagnostics;
using System.Numerics.Tensors;

namespace AtomoCollectives.Examples.Training;

/// <summary>
/// Multi-bit QSGD (Alistarh et al. 2017), the paper's baseline, with the library's <see cref="QsgdQuantizer"/>:
/// per 512-entry bucket one float norm, per entry a sign and a <c>bits</c>-bit level packed at fixed width.
/// Every rank's payload goes to every rank in one allgatherv; each rank then dequantizes all payloads in rank
/// order, so all ranks add the same numbers in the same order and end with the same bits.
/// </summary>
/// <remarks>
/// The library's wire format carries 1-bit QSGD (<see cref="AtomoOptions.Qsgd"/>); more bits are packed here, in a
/// format that is neither versioned nor validated, which is why this averager stays an example. A rank whose arguments
/// are bad sends a length of −1 in the length exchange, so every rank raises, with the tensors untouched. Calls never
/// overlap; asynchronous ones run one after the other on the thread pool.
/// </remarks>
internal sealed class QsgdAverager(ICommunicator world, int bits, int bucketSize, ulong seed) : IGradientAverager
{
    private readonly QsgdQuantizer _quantizer = new(bits, bucketSize);
    private readonly int[] _counts = new int[world.Size];
    private readonly object _gate = new();
    private Task _tail = Task.CompletedTask;
    private bool _running;
    private bool _disposed;
    private byte[] _payload = [];
    private byte[] _received = [];
    private float[] _norms = [];
    private short[] _levels = [];
    private float[] _sum = [];
    private float[] _estimate = [];

    private int EntryBits => bits + 1;

    public long Step { get; private set; }

    public AllreduceStatistics LastCall { get; private set; } = new();

    public AllreduceStatistics Statistics { get; private set; } = new();

    /// <summary>
    /// The state is the step alone, which seeds the draws: "QSGDST1\0", then rank, size, bits, bucket size and seed
    /// (all checked on load), the step, and an XxHash3 checksum of the rest.
    /// </summary>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Exclusive(
            () =>
            {
                byte[] body = StateBody(Step);
                stream.Write(body);
                stream.Write(BitConverter.GetBytes(System.IO.Hashing.XxHash3.HashToUInt64(body)));
            },
            StateRefused);
    }

    /// <exception cref="InvalidDataException">Not a QSGD averager state, corrupted, or saved with another rank, size, bits, bucket size or seed.</exception>
    public void LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Exclusive(() =>
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();
            int length = StateBody(0).Length;
            if (bytes.Length != length + 8 || BitConverter.ToUInt64(bytes, length) != System.IO.Hashing.XxHash3.HashToUInt64(bytes.AsSpan(0, length)))
            {
                throw new InvalidDataException($"This is not an intact QSGD averager state ({bytes.Length} bytes, or its checksum does not match).");
            }

            long step = BitConverter.ToInt64(bytes, length - 8);
            if (step < 0 || !bytes.AsSpan(0, length).SequenceEqual(StateBody(step)))
            {
                throw new InvalidDataException($"The QSGD averager state was saved on another rank or number of ranks, or with other bits, bucket size or seed (this is rank {world.Rank} of {world.Size}, {bits} bits, buckets of {bucketSize}, seed {seed}).");
            }

            Step = step;
        },
        StateRefused);
    }

    private byte[] StateBody(long step)
    {
        var body = new MemoryStream();
        using (var writer = new BinaryWriter(body))
        {
            writer.Write("QSGDST1\0"u8);
            writer.Write(world.Rank);
            writer.Write(world.Size);
            writer.Write(bits);
            writer.Write(bucketSize);
            writer.Write(seed);
            writer.Write(step);
        }

        return body.ToArray();
    }

    private const string StateRefused = "A call on this QsgdAverager is in progress: its state cannot be saved or loaded now.";

    /// <summary>Runs <paramref name="action"/> as a synchronous call: refused with <paramref name="refusal"/> while another runs or is queued.</summary>
    private void Exclusive(Action action, string refusal)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running || !_tail.IsCompleted)
            {
                throw new InvalidOperationException(refusal);
            }

            _running = true;
        }

        try
        {
            action();
        }
        finally
        {
            lock (_gate)
            {
                _running = false;
            }
        }
    }

    public void Average(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes) =>
        Exclusive(() => AverageCore(tensors, shapes), "Another call on this QsgdAverager is in progress: calls must not overlap. This call was refused; nothing was exchanged.");

    public Task AverageAsync(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running)
            {
                throw new InvalidOperationException("A synchronous call on this QsgdAverager is in progress: calls must not overlap.");
            }

            Memory<float>[]? list = tensors?.ToArray();
            TensorShape[]? shapeList = shapes?.ToArray();
            _tail = _tail.ContinueWith(_ => AverageCore(list!, shapeList!), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            return _tail;
        }
    }

    public void Dispose()
    {
        Task pending;
        lock (_gate)
        {
            _disposed = true;
            pending = _tail;
        }

        pending.ContinueWith(_ => { }, TaskScheduler.Default).Wait();
    }

    private void AverageCore(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        long start = Stopwatch.GetTimestamp();
        Exception? localError = Check(tensors, shapes);
        int count = localError is null ? tensors.Count : 0;
        long elements = 0;
        int payloadLength = 0;
        for (int t = 0; t < count; t++)
        {
            elements += shapes[t].ElementCount;
            payloadLength += PayloadLength(shapes[t].ElementCount);
        }

        if (localError is null)
        {
            Grow(ref _payload, payloadLength);
            int offset = 0;
            for (int t = 0; t < count; t++)
            {
                int length = shapes[t].ElementCount;
                Span<float> norms = Grow(ref _norms, _quantizer.BucketCount(length));
                Span<short> levels = Grow(ref _levels, length);
                _quantizer.Quantize(tensors[t].Span, RandomStreams.Encoder(seed, world.Rank, Step, t), norms, levels);
                offset += Pack(norms, levels, _payload.AsSpan(offset));
            }
        }

        double encode = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();

        // A length of −1 says "my arguments are bad": every rank raises instead of waiting in the allgatherv.
        world.Allgather<int>([localError is null ? payloadLength : -1], _counts);
        if (localError is not null)
        {
            throw localError;
        }

        for (int rank = 0; rank < world.Size; rank++)
        {
            if (_counts[rank] != payloadLength)
            {
                throw new InvalidOperationException(_counts[rank] < 0
                    ? $"Rank {rank} failed before the exchange (see its error); no rank averaged anything."
                    : $"Rank {rank} sent {_counts[rank]} bytes of QSGD payload, this rank {payloadLength}: the ranks' shapes differ.");
            }
        }

        long total = _counts.Sum(c => (long)c);
        Grow(ref _received, checked((int)total));
        world.Allgatherv(_payload.AsSpan(0, payloadLength), _counts, _received);
        double exchange = Stopwatch.GetElapsedTime(start).TotalSeconds;

        start = Stopwatch.GetTimestamp();
        Span<float> sum = Grow(ref _sum, checked((int)elements));
        sum.Clear();
        int rankStart = 0;
        for (int rank = 0; rank < world.Size; rank++)
        {
            int read = rankStart, element = 0;
            for (int t = 0; t < count; t++)
            {
                int length = shapes[t].ElementCount;
                Span<float> norms = _norms.AsSpan(0, _quantizer.BucketCount(length));
                Span<short> levels = _levels.AsSpan(0, length);
                read += Unpack(_received.AsSpan(read), norms, levels);
                Span<float> estimate = Grow(ref _estimate, length);
                _quantizer.Dequantize(norms, levels, estimate);
                Span<float> target = sum.Slice(element, length);
                TensorPrimitives.Add(target, estimate, target);
                element += length;
            }

            rankStart += _counts[rank];
        }

        TensorPrimitives.Multiply(sum, 1f / world.Size, sum);
        var decisions = new TensorDecision[count];
        int next = 0;
        for (int t = 0; t < count; t++)
        {
            int length = shapes[t].ElementCount;
            sum.Slice(next, length).CopyTo(tensors[t].Span);
            next += length;
            decisions[t] = new TensorDecision(t, shapes[t], TensorRoute.Compressed, Decomposition.Coordinate, PayloadLength(length), length);
        }

        var call = new AllreduceStatistics
        {
            Calls = 1,
            Tensors = count,
            CompressedTensors = count,
            BytesSent = payloadLength,
            BytesReceived = total - payloadLength,
            DenseEquivalentBytes = (long)AllreduceStatistics.RingAllreduceBytes(elements, world.Size),
            AtomsSent = elements,
            EncodeSeconds = encode,
            ExchangeSeconds = exchange,
            DecodeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds,
            Decisions = decisions,
        };
        LastCall = call;
        Statistics += call;
        Step++;
    }

    /// <summary>What is wrong with this rank's arguments, or null.</summary>
    private static ArgumentException? Check(IReadOnlyList<Memory<float>>? tensors, IReadOnlyList<TensorShape>? shapes)
    {
        if (tensors is null || shapes is null)
        {
            return new ArgumentNullException(tensors is null ? nameof(tensors) : nameof(shapes));
        }

        if (tensors.Count != shapes.Count)
        {
            return new ArgumentException($"{tensors.Count} tensors but {shapes.Count} shapes.", nameof(shapes));
        }

        for (int t = 0; t < tensors.Count; t++)
        {
            ReadOnlySpan<float> data = tensors[t].Span;
            if (data.Length != shapes[t].ElementCount)
            {
                return new ArgumentException($"Tensor {t} has {data.Length} elements but its shape {shapes[t]} has {shapes[t].ElementCount}.", nameof(tensors));
            }

            for (int i = 0; i < data.Length; i++)
            {
                if (!float.IsFinite(data[i]))
                {
                    return new ArgumentException($"Tensor {t} {shapes[t]} holds {data[i]} at index {i}: NaN and infinity cannot be averaged.", nameof(tensors));
                }
            }
        }

        return null;
    }

    private int PayloadLength(int elements) => (4 * _quantizer.BucketCount(elements)) + (int)((((long)elements * EntryBits) + 7) / 8);

    /// <summary>Norms as floats, then each level as magnitude and sign bit (<see cref="EntryBits"/> bits, least significant first), packed without gaps.</summary>
    private int Pack(ReadOnlySpan<float> norms, ReadOnlySpan<short> levels, Span<byte> destination)
    {
        int position = 0;
        foreach (float norm in norms)
        {
            BitConverter.TryWriteBytes(destination[position..], norm);
            position += 4;
        }

        int levelBytes = (int)((((long)levels.Length * EntryBits) + 7) / 8);
        Span<byte> packed = destination.Slice(position, levelBytes);
        ulong window = 0;
        int windowBits = 0, written = 0;
        foreach (short level in levels)
        {
            ulong code = (uint)Math.Abs((int)level) | (level < 0 ? 1u << bits : 0u);
            window |= code << windowBits;
            windowBits += EntryBits;
            while (windowBits >= 8)
            {
                packed[written++] = (byte)window;
                window >>= 8;
                windowBits -= 8;
            }
        }

        if (windowBits > 0)
        {
            packed[written] = (byte)window;
        }

        return position + levelBytes;
    }

    private int Unpack(ReadOnlySpan<byte> source, Span<float> norms, Span<short> levels)
    {
        int position = 0;
        for (int i = 0; i < norms.Length; i++, position += 4)
        {
            norms[i] = BitConverter.ToSingle(source[position..]);
        }

        ReadOnlySpan<byte> packed = source[position..];
        ulong window = 0;
        int windowBits = 0, read = 0;
        uint mask = (1u << EntryBits) - 1, magnitudeMask = (1u << bits) - 1;
        for (int i = 0; i < levels.Length; i++)
        {
            while (windowBits < EntryBits)
            {
                window |= (ulong)packed[read++] << windowBits;
                windowBits += 8;
            }

            uint code = (uint)window & mask;
            window >>= EntryBits;
            windowBits -= EntryBits;
            int magnitude = (int)(code & magnitudeMask);
            levels[i] = (short)((code >> bits) != 0 ? -magnitude : magnitude);
        }

        return position + (int)((((long)levels.Length * EntryBits) + 7) / 8);
    }

    private static Span<T> Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }

        return buffer.AsSpan(0, length);
    }
}
