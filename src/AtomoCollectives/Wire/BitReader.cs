using System.Buffers.Binary;
using System.Numerics;

namespace AtomoCollectives;

/// <summary>
/// Reads what <see cref="BitWriter"/> wrote. Every read is bounds-checked and a shortfall raises
/// <see cref="AtomoFormatException"/> naming the field being read, never an index or overflow exception.
/// </summary>
internal ref struct BitReader
{
    private readonly ReadOnlySpan<byte> _bytes;
    private int _position;
    private int _bitOffset;

    public BitReader(ReadOnlySpan<byte> bytes)
    {
        _bytes = bytes;
        _position = 0;
        _bitOffset = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _bytes.Length - _position;

    public ulong ReadBits(int count, string field)
    {
        // Fast path: one unaligned 64-bit load covers the field whenever 8 bytes remain.
        if (count <= 56 && _position <= _bytes.Length - 8)
        {
            ulong word = BinaryPrimitives.ReadUInt64LittleEndian(_bytes[_position..]) >> _bitOffset;
            Advance(count);
            return count == 0 ? 0 : word & (ulong.MaxValue >> (64 - count));
        }

        ulong value = 0;
        for (int read = 0; read < count;)
        {
            if (_position >= _bytes.Length)
            {
                throw new AtomoFormatException(field, "the payload ends inside this field");
            }

            int take = Math.Min(count - read, 8 - _bitOffset);
            ulong bits = (ulong)(_bytes[_position] >> _bitOffset) & ((1UL << take) - 1);
            value |= bits << read;
            read += take;
            _bitOffset += take;
            if (_bitOffset == 8)
            {
                _bitOffset = 0;
                _position++;
            }
        }

        return value;
    }

    public bool ReadBit(string field) => ReadBits(1, field) != 0;

    /// <summary>Counts zero bits up to a one bit (the unary part of a Rice code), refusing more than <paramref name="limit"/>.</summary>
    public int ReadUnary(int limit, string field)
    {
        int zeros = 0;
        while (true)
        {
            if (_position <= _bytes.Length - 8)
            {
                // Up to 56 bits at a time: the first set bit ends the run.
                ulong word = (BinaryPrimitives.ReadUInt64LittleEndian(_bytes[_position..]) >> _bitOffset) & (ulong.MaxValue >> 8);
                if (word != 0)
                {
                    int run = BitOperations.TrailingZeroCount(word);
                    zeros += run;
                    if (zeros > limit)
                    {
                        break;
                    }

                    Advance(run + 1);
                    return zeros;
                }

                zeros += 56;
                Advance(56);
            }
            else if (ReadBit(field))
            {
                return zeros;
            }
            else
            {
                zeros++;
            }

            if (zeros > limit)
            {
                break;
            }
        }

        throw new AtomoFormatException(field, $"a run of more than {limit} zero bits cannot encode a valid gap");
    }

    private void Advance(int bits)
    {
        int total = _bitOffset + bits;
        _position += total >> 3;
        _bitOffset = total & 7;
    }

    public void AlignToByte()
    {
        if (_bitOffset != 0)
        {
            _bitOffset = 0;
            _position++;
        }
    }

    public byte ReadByte(string field)
    {
        AlignToByte();
        if (_position >= _bytes.Length)
        {
            throw new AtomoFormatException(field, "the payload ends before this field");
        }

        return _bytes[_position++];
    }

    /// <summary>A LEB128 varint, refused if it does not fit <paramref name="maximum"/>.</summary>
    public ulong ReadVarint(string field, ulong maximum = ulong.MaxValue)
    {
        AlignToByte();
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift > 63)
            {
                throw new AtomoFormatException(field, "varint longer than 10 bytes");
            }

            byte next = ReadByte(field);
            ulong chunk = (ulong)(next & 0x7F);
            if (shift == 63 && chunk > 1)
            {
                throw new AtomoFormatException(field, "varint overflows 64 bits");
            }

            value |= chunk << shift;
            if ((next & 0x80) == 0)
            {
                break;
            }
        }

        if (value > maximum)
        {
            throw new AtomoFormatException(field, $"{value} exceeds the largest allowed value {maximum}");
        }

        return value;
    }

    public int ReadCount(string field, int maximum) => (int)ReadVarint(field, (ulong)Math.Max(0, maximum));

    public float ReadSingle(string field) => BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4, field));

    public ReadOnlySpan<byte> ReadBytes(int count, string field)
    {
        AlignToByte();
        if (count < 0 || count > _bytes.Length - _position)
        {
            throw new AtomoFormatException(field, $"needs {count} bytes but only {_bytes.Length - _position} remain");
        }

        ReadOnlySpan<byte> span = _bytes.Slice(_position, count);
        _position += count;
        return span;
    }
}
