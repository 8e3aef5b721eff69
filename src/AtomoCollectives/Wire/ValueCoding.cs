using System.Buffers.Binary;

namespace AtomoCollectives;

/// <summary>Spectral vectors on the wire in float32, float16 or bfloat16 (round to nearest even).</summary>
internal static class ValueCoding
{
    public static int BytesPerValue(ValuePrecision precision) => precision == ValuePrecision.Float32 ? 4 : 2;

    public static void Write(BitWriter writer, ReadOnlySpan<float> values, ValuePrecision precision)
    {
        Span<byte> bytes = writer.Reserve(values.Length * BytesPerValue(precision));
        for (int i = 0; i < values.Length; i++)
        {
            switch (precision)
            {
                case ValuePrecision.Float32:
                    BinaryPrimitives.WriteSingleLittleEndian(bytes[(4 * i)..], values[i]);
                    break;
                case ValuePrecision.Float16:
                    BinaryPrimitives.WriteHalfLittleEndian(bytes[(2 * i)..], (Half)values[i]);
                    break;
                default:
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes[(2 * i)..], ToBFloat16(values[i]));
                    break;
            }
        }
    }

    /// <summary>Reads <paramref name="destination"/>.Length values; every one must be finite.</summary>
    public static void Read(ref BitReader reader, scoped Span<float> destination, ValuePrecision precision, string field)
    {
        ReadOnlySpan<byte> bytes = reader.ReadBytes(destination.Length * BytesPerValue(precision), field);
        for (int i = 0; i < destination.Length; i++)
        {
            float value = precision switch
            {
                ValuePrecision.Float32 => BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]),
                ValuePrecision.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]),
                _ => FromBFloat16(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..])),
            };
            if (!float.IsFinite(value))
            {
                throw new AtomoFormatException(field, $"value {i} is {value}");
            }

            destination[i] = value;
        }
    }

    /// <summary>The top 16 bits of a float, rounded to nearest even (NaN stays NaN).</summary>
    internal static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    internal static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);
}
