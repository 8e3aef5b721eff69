namespace AtomoCollectives;

/// <summary>Appends bits least-significant first into a growable byte buffer; bytes are little-endian.</summary>
internal sealed class BitWriter
{
    private byte[] _buffer;
    private int _length;
    private ulong _pending;
    private int _pendingBits;

    public BitWriter(int capacity = 256) => _buffer = new byte[Math.Max(16, capacity)];

    /// <summary>Bytes written so far (after <see cref="AlignToByte"/>).</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public int Length => _length;

    public void Reset()
    {
        _length = 0;
        _pending = 0;
        _pendingBits = 0;
    }

    public void WriteBits(ulong value, int count)
    {
        while (count > 0)
        {
            int take = Math.Min(count, 64 - _pendingBits);
            ulong part = take == 64 ? value : value & ((1UL << take) - 1);
            _pending |= part << _pendingBits;
            _pendingBits += take;
            value = take == 64 ? 0 : value >> take;
            count -= take;
            while (_pendingBits >= 8)
            {
                AppendByte((byte)_pending);
                _pending >>= 8;
                _pendingBits -= 8;
            }
        }
    }

    public void WriteBit(bool bit) => WriteBits(bit ? 1UL : 0UL, 1);

    /// <summary>Pads with zero bits to a byte boundary.</summary>
    public void AlignToByte()
    {
        if (_pendingBits > 0)
        {
            AppendByte((byte)_pending);
            _pending = 0;
            _pendingBits = 0;
        }
    }

    public void WriteByte(byte value)
    {
        AlignToByte();
        AppendByte(value);
    }

    public void WriteVarint(ulong value)
    {
        AlignToByte();
        while (value >= 0x80)
        {
            AppendByte((byte)(value | 0x80));
            value >>= 7;
        }

        AppendByte((byte)value);
    }

    public void WriteSingle(float value)
    {
        AlignToByte();
        Span<byte> bytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        WriteBytes(bytes);
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        AlignToByte();
        EnsureCapacity(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Reserves <paramref name="count"/> bytes at the end and returns them for direct writing.</summary>
    public Span<byte> Reserve(int count)
    {
        AlignToByte();
        EnsureCapacity(count);
        Span<byte> span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    private void AppendByte(byte value)
    {
        if (_length == _buffer.Length)
        {
            EnsureCapacity(1);
        }

        _buffer[_length++] = value;
    }

    private void EnsureCapacity(int additional)
    {
        if (_length + additional > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_length + additional, _buffer.Length * 2));
        }
    }
}
