using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary>
/// N(0, 1) sketch entries from a seed, cheaply. A process-wide table of 2¹⁶ standard normals (Box–Muller from a fixed
/// seed, so identical in every process) is read from a seed-chosen offset and every entry gets an independent
/// seed-driven random sign. Each entry is N(0, 1) (a normal times an independent sign is normal), entries of one
/// sketch are independent while the sketch is shorter than the table, and a sketch costs one vector draw per
/// eight entries instead of a logarithm and a sine each. Longer sketches wrap around the table with fresh signs.
/// Only the quality of the range finder depends on this; the decomposition's exactness and ATOMO's unbiasedness do not.
/// </summary>
internal static class Gaussian
{
    private const int TableBits = 16;
    private const int TableSize = 1 << TableBits;
    private static readonly float[] Table = BuildTable();

    /// <summary>Fills <paramref name="destination"/> with N(0, 1) floats determined by <paramref name="seed"/>.</summary>
    public static void Fill(Span<float> destination, ulong seed)
    {
        var random = new RandomStream(RandomStreams.Sketch(seed));
        int offset = (int)(random.NextUInt64() & (TableSize - 1)) & ~7;
        ref float table = ref MemoryMarshal.GetArrayDataReference(Table);
        ref float target = ref MemoryMarshal.GetReference(destination);
        var signMask = Vector256.Create(0x80000000u);
        int i = 0;
        for (; i <= destination.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<uint> values = Vector256.LoadUnsafe(ref table, (nuint)offset).AsUInt32();
            (values ^ (random.NextVector() & signMask)).AsSingle().StoreUnsafe(ref target, (nuint)i);
            offset = (offset + Vector256<float>.Count) & (TableSize - 1);
        }

        if (i < destination.Length)
        {
            Vector256<uint> values = Vector256.LoadUnsafe(ref table, (nuint)offset).AsUInt32() ^ (random.NextVector() & signMask);
            for (int lane = 0; i < destination.Length; i++, lane++)
            {
                destination[i] = BitConverter.UInt32BitsToSingle(values.GetElement(lane));
            }
        }
    }

    private static float[] BuildTable()
    {
        var table = new float[TableSize];
        ulong state = 0x9E3779B97F4A7C15UL;
        for (int i = 0; i < TableSize; i += 2)
        {
            state += 0x9E3779B97F4A7C15UL;
            double u1 = ((SeedSequence.Mix(state) >> 11) + 1) * (1.0 / (1UL << 53));
            state += 0x9E3779B97F4A7C15UL;
            double u2 = (SeedSequence.Mix(state) >> 11) * (1.0 / (1UL << 53));
            double radius = Math.Sqrt(-2 * Math.Log(u1));
            (double sin, double cos) = Math.SinCos(2 * Math.PI * u2);
            table[i] = (float)(radius * cos);
            table[i + 1] = (float)(radius * sin);
        }

        return table;
    }
}
