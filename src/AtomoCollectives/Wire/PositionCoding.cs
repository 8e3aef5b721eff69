using System.Numerics;

namespace AtomoCollectives;

/// <summary>
/// Codes a strictly ascending set of positions in <c>[0, universe)</c> as whichever is smaller: Rice-coded gaps
/// (about <c>log2(universe/k) + 1.5</c> bits a position) or a bitmap (<c>universe</c> bits).
/// </summary>
internal static class PositionCoding
{
    private const byte RiceMode = 0;
    private const byte BitmapMode = 1;

    public static void Write(BitWriter writer, ReadOnlySpan<int> positions, int universe)
    {
        if (positions.IsEmpty)
        {
            return;
        }

        (int parameter, long riceBits) = BestRiceParameter(positions, universe);
        if (riceBits + 8 < universe)
        {
            writer.WriteByte(RiceMode);
            writer.WriteByte((byte)parameter);
            int previous = -1;
            foreach (int position in positions)
            {
                uint gap = (uint)(position - previous - 1);
                uint quotient = gap >> parameter;
                for (; quotient >= 32; quotient -= 32)
                {
                    writer.WriteBits(0, 32);
                }

                // The rest of the unary run, its closing one bit and the low bits of the gap, in one write.
                ulong low = gap & ((1UL << parameter) - 1);
                writer.WriteBits((1UL << (int)quotient) | (low << ((int)quotient + 1)), (int)quotient + 1 + parameter);
                previous = position;
            }
        }
        else
        {
            writer.WriteByte(BitmapMode);
            ulong word = 0;
            int wordStart = 0;
            foreach (int position in positions)
            {
                while (position >= wordStart + 64)
                {
                    writer.WriteBits(word, Math.Min(64, universe - wordStart));
                    word = 0;
                    wordStart += 64;
                }

                word |= 1UL << (position - wordStart);
            }

            for (; wordStart < universe; wordStart += 64)
            {
                writer.WriteBits(word, Math.Min(64, universe - wordStart));
                word = 0;
            }
        }

        writer.AlignToByte();
    }

    public static void Read(ref BitReader reader, scoped Span<int> destination, int universe, string field)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        byte mode = reader.ReadByte(field + ".mode");
        if (mode == RiceMode)
        {
            int parameter = reader.ReadByte(field + ".riceParameter");
            if (parameter > 31)
            {
                throw new AtomoFormatException(field + ".riceParameter", $"{parameter} is above 31");
            }

            int previous = -1;
            int quotientLimit = (int)((uint)universe >> parameter);
            for (int j = 0; j < destination.Length; j++)
            {
                long quotient = reader.ReadUnary(quotientLimit, field);
                long gap = (quotient << parameter) | (long)reader.ReadBits(parameter, field);
                long position = previous + 1 + gap;
                if (position >= universe)
                {
                    throw new AtomoFormatException(field, $"position {position} of atom {j} is outside [0, {universe})");
                }

                destination[j] = previous = (int)position;
            }
        }
        else if (mode == BitmapMode)
        {
            int found = 0;
            for (int wordStart = 0; wordStart < universe; wordStart += 64)
            {
                ulong word = reader.ReadBits(Math.Min(64, universe - wordStart), field);
                while (word != 0)
                {
                    if (found == destination.Length)
                    {
                        throw new AtomoFormatException(field, $"the bitmap marks more than the {destination.Length} atoms declared");
                    }

                    destination[found++] = wordStart + BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                }
            }

            if (found != destination.Length)
            {
                throw new AtomoFormatException(field, $"the bitmap marks {found} atoms but {destination.Length} were declared");
            }
        }
        else
        {
            throw new AtomoFormatException(field + ".mode", $"unknown position coding {mode}");
        }

        reader.AlignToByte();
    }

    /// <summary>The Rice parameter with the fewest bits, trying the three around log2 of the mean gap.</summary>
    private static (int Parameter, long Bits) BestRiceParameter(ReadOnlySpan<int> positions, int universe)
    {
        long meanGap = Math.Max(1, (universe - positions.Length) / positions.Length);
        int guess = BitOperations.Log2((ulong)meanGap);
        int best = 0;
        long bestBits = long.MaxValue;
        for (int parameter = Math.Max(0, guess - 1); parameter <= Math.Min(31, guess + 1); parameter++)
        {
            long bits = (long)positions.Length * (parameter + 1);
            int previous = -1;
            foreach (int position in positions)
            {
                bits += (uint)(position - previous - 1) >> parameter;
                previous = position;
            }

            if (bits < bestBits)
            {
                (best, bestBits) = (parameter, bits);
            }
        }

        return (best, bestBits);
    }
}
