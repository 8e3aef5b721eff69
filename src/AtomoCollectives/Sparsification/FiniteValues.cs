using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary>Where the first NaN or infinity of a span is: one vectorised read (|x| ≤ MaxValue is false for both).</summary>
internal static class FiniteValues
{
    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or −1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        var largest = Vector256.Create(float.MaxValue);
        int i = 0;
        for (; i <= values.Length - 8; i += 8)
        {
            var x = Vector256.Abs(Vector256.Create(values.Slice(i, 8)));
            if (!Vector256.LessThanOrEqualAll(x, largest))
            {
                break;
            }
        }

        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
