using System.Diagnostics;
using System.Numerics.Tensors;
using AtomoCollectives.Examples.Models;

namespace AtomoCollectives.Examples.Training;

/// <summary>
/// Multi-bit QSGD (Alistarh et al. 2017), the paper's baseline, with the library's <see cref="QsgdQuantizer"/>:
/// per 512-entry bucket one float norm, per entry a sign and a <c>bits</c>-bit level packed at fixed width.
/// Every rank's payload goes to every rank in one allgatherv; each rank then dequantizes all payloads in rank
/// order, so all ranks add the same numbers in the same order and end with the same bits.
/// </summary>
/// <remarks>The library's wire format carries 1-bit QSGD (<see cref="AtomoOptions.Qsgd"/>); more bits are packed here.</remarks>
internal sealed class QsgdAverager(ICommunicator world, int bits, int bucketSize, ulong seed) : GradientAverager
{
    private readonly QsgdQuantizer _quantizer = new(bits, bucketSize);
    private readonly int[] _counts = new int[world.Size];
    private byte[] _payload = [];
    private byte[] _received = [];
    private float[] _norms = [];
    private short[] _levels = [];
    private float[] _sum = [];
    private float[] _estimate = [];
    private long _step;

    private int EntryBits => bits + 1;

    public override void Average(ParameterStore parameters)
    {
        long start = Stopwatch.GetTimestamp();
        IReadOnlyList<Parameter> tensors = parameters.Parameters;
        int payloadLength = 0;
        foreach (Parameter p in tensors)
        {
            payloadLength += PayloadLength(p.Shape.ElementCount);
        }

        Grow(ref _payload, payloadLength);
        Grow(ref _levels, parameters.Length);
        int offset = 0;
        for (int t = 0; t < tensors.Count; t++)
        {
            int length = tensors[t].Shape.ElementCount;
            Span<float> norms = Grow(ref _norms, _quantizer.BucketCount(length));
            Span<short> levels = _levels.AsSpan(0, length);
            _quantizer.Quantize(tensors[t].Gradient.Span, SeedSequence.Derive(seed, world.Rank, _step, t), norms, levels);
            offset += Pack(norms, levels, _payload.AsSpan(offset));
        }

        double encode = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        world.Allgather<int>([payloadLength], _counts);
        long total = _counts.Sum(c => (long)c);
        Grow(ref _received, checked((int)total));
        world.Allgatherv(_payload.AsSpan(0, payloadLength), _counts, _received);
        double exchange = Stopwatch.GetElapsedTime(start).TotalSeconds;

        start = Stopwatch.GetTimestamp();
        Span<float> sum = Grow(ref _sum, parameters.Length);
        sum.Clear();
        int rankStart = 0;
        for (int rank = 0; rank < world.Size; rank++)
        {
            if (_counts[rank] != payloadLength)
            {
                throw new InvalidOperationException($"Rank {rank} sent {_counts[rank]} bytes of QSGD payload, this rank {payloadLength}: the ranks' models differ.");
            }

            int read = rankStart, element = 0;
            foreach (Parameter p in tensors)
            {
                int length = p.Shape.ElementCount;
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

        TensorPrimitives.Multiply(sum, 1f / world.Size, parameters.Gradients);
        double decode = Stopwatch.GetElapsedTime(start).TotalSeconds;
        _step++;
        Totals += new ExchangeTotals(payloadLength, total - payloadLength, ExchangeTotals.RingAllreduceBytes(parameters.Length, world.Size), encode, exchange, decode);
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
