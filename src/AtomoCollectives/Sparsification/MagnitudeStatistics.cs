using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary><c>Σ|λ|</c>, <c>max|λ|</c> and the non-zero count of a coefficient vector, from one vectorised read.</summary>
internal readonly record struct MagnitudeStatistics(double Sum, float Max, int NonZeroCount)
{
    /// <summary>
    /// Reads <paramref name="values"/> once. The sum is accumulated in double: a float sum loses small
    /// magnitudes beside large outliers, and Σp = s must hold to double precision. NaN and infinity propagate
    /// through a sum of magnitudes (which cannot overflow in double), so one check at the end finds them.
    /// </summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite; the message names its index.</exception>
    public static MagnitudeStatistics Measure(ReadOnlySpan<float> values, string parameterName = "coefficients")
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        int length = values.Length;
        int i = 0;
        Vector256<double> sum0 = Vector256<double>.Zero, sum1 = sum0, sum2 = sum0, sum3 = sum0;
        Vector256<float> max0 = Vector256<float>.Zero, max1 = max0;
        Vector256<int> zeros = Vector256<int>.Zero;
        for (; i <= length - 16; i += 16)
        {
            Vector256<float> a = Vector256.Abs(Vector256.LoadUnsafe(ref start, (nuint)i));
            Vector256<float> b = Vector256.Abs(Vector256.LoadUnsafe(ref start, (nuint)(i + 8)));
            (Vector256<double> a0, Vector256<double> a1) = Vector256.Widen(a);
            (Vector256<double> b0, Vector256<double> b1) = Vector256.Widen(b);
            sum0 += a0;
            sum1 += a1;
            sum2 += b0;
            sum3 += b1;
            max0 = Vector256.MaxNative(max0, a);
            max1 = Vector256.MaxNative(max1, b);
            zeros += Vector256.Equals(a, Vector256<float>.Zero).AsInt32() + Vector256.Equals(b, Vector256<float>.Zero).AsInt32();
        }

        double sum = Vector256.Sum((sum0 + sum1) + (sum2 + sum3));
        Vector256<float> max = Vector256.MaxNative(max0, max1);
        Vector128<float> half = Vector128.MaxNative(max.GetLower(), max.GetUpper());
        float largest = Math.Max(Math.Max(half[0], half[1]), Math.Max(half[2], half[3]));
        int zeroCount = -Vector256.Sum(zeros);
        for (; i < length; i++)
        {
            float x = Math.Abs(Unsafe.Add(ref start, i));
            sum += x;
            largest = Math.Max(largest, x);
            zeroCount += x == 0 ? 1 : 0;
        }

        if (!double.IsFinite(sum))
        {
            ThrowNotFinite(values, parameterName);
        }

        return new MagnitudeStatistics(sum, largest, length - zeroCount);
    }

    private static void ThrowNotFinite(ReadOnlySpan<float> values, string parameterName)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"Coefficient {i} is {values[i]}: only finite values can be sparsified.", parameterName);
            }
        }

        throw new InvalidOperationException("The sum of magnitudes was not finite, yet every value is.");
    }
}
