using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary><c>Σ|λ|</c>, <c>max|λ|</c> and the non-zero count of a coefficient vector, from one vectorised read.</summary>
internal readonly record struct MagnitudeStatistics(double Sum, float Max, int NonZeroCount)
{
    /// <summary>Reads <paramref name="values"/> once.</summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite; the message names its index.</exception>
    public static MagnitudeStatistics Measure(ReadOnlySpan<float> values, string parameterName = "coefficients")
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        int length = values.Length;
        int i = 0;
        var sumLower = Vector256<double>.Zero;
        var sumUpper = Vector256<double>.Zero;
        var max = Vector256<float>.Zero;
        var zeros = Vector256<int>.Zero;
        var notFinite = Vector256<float>.Zero;
        var largest = Vector256.Create(float.MaxValue);
        for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> x = Vector256.Abs(Vector256.LoadUnsafe(ref start, (nuint)i));
            notFinite |= ~Vector256.LessThanOrEqual(x, largest);
            max = Vector256.Max(max, x);
            zeros -= Vector256.Equals(x, Vector256<float>.Zero).AsInt32();
            (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(x);
            sumLower += lower;
            sumUpper += upper;
        }

        if (notFinite != Vector256<float>.Zero)
        {
            ThrowNotFinite(values, parameterName);
        }

        double sum = Vector256.Sum(sumLower + sumUpper);
        float largestSeen = MaxOf(Vector128.Max(max.GetLower(), max.GetUpper()));
        int zeroCount = Vector256.Sum(zeros);
        for (; i < length; i++)
        {
            float x = Math.Abs(Unsafe.Add(ref start, i));
            if (!float.IsFinite(x))
            {
                ThrowNotFinite(values, parameterName);
            }

            sum += x;
            largestSeen = Math.Max(largestSeen, x);
            zeroCount += x == 0 ? 1 : 0;
        }

        return new MagnitudeStatistics(sum, largestSeen, length - zeroCount);
    }

    private static float MaxOf(Vector128<float> v) => Math.Max(Math.Max(v[0], v[1]), Math.Max(v[2], v[3]));

    private static void ThrowNotFinite(ReadOnlySpan<float> values, string parameterName)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"Coefficient {i} is {values[i]}: only finite values can be sparsified.", parameterName);
            }
        }
    }
}
