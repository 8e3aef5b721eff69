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

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/> up to the first NaN or infinity and returns its
    /// index, or copies all of it and returns −1: the check and the copy in one pass over the values.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static int CopyUntilNonFinite(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values, fewer than the {source.Length} to copy.", nameof(destination));
        }

        var largest = Vector256.Create(float.MaxValue);
        int i = 0;
        for (; i <= source.Length - 8; i += 8)
        {
            var x = Vector256.Create(source.Slice(i, 8));
            if (!Vector256.LessThanOrEqualAll(Vector256.Abs(x), largest))
            {
                break;
            }

            x.CopyTo(destination.Slice(i, 8));
        }

        for (; i < source.Length; i++)
        {
            if (!float.IsFinite(source[i]))
            {
                return i;
            }

            destination[i] = source[i];
        }

        return -1;
    }
}
