using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AtomoCollectives;

/// <summary>
/// Algorithm 1 of ATOMO: the variance-minimising inclusion probabilities for a budget of atoms, and the
/// seeded draw that keeps atom <c>i</c> with probability <c>p_i</c> and gives it the value <c>λ_i / p_i</c>,
/// so that the estimate is exactly unbiased.
/// </summary>
public static class AtomicSparsifier
{
    /// <summary>
    /// Writes <c>p_i = min(1, c·|λ_i|)</c> with <c>c</c> chosen so that <c>Σ p_i = min(budget, nnz)</c>;
    /// zero coefficients get 0, and a budget covering every non-zero atom gives them all 1.
    /// Runs in expected O(n): the water level is found by selection, not by sorting.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="budget"/> is not positive or is NaN; a coefficient is NaN or infinite (the message names
    /// its index); or <paramref name="probabilities"/> is not as long as <paramref name="coefficients"/>.
    /// </exception>
    public static void Probabilities(ReadOnlySpan<float> coefficients, double budget, Span<double> probabilities)
    {
        if (probabilities.Length != coefficients.Length)
        {
            throw new ArgumentException($"The destination holds {probabilities.Length} probabilities but there are {coefficients.Length} coefficients.", nameof(probabilities));
        }

        WaterLevel level = Solve(coefficients, budget);
        WriteProbabilities(coefficients, level, probabilities);
    }

    /// <summary>Solves Algorithm 1 for <paramref name="coefficients"/> and <paramref name="budget"/> without writing the probabilities.</summary>
    /// <exception cref="ArgumentException">As for <see cref="Probabilities"/>.</exception>
    public static WaterLevel Solve(ReadOnlySpan<float> coefficients, double budget)
    {
        ValidateBudget(budget);
        return Solve(coefficients, budget, MagnitudeStatistics.Measure(coefficients));
    }

    /// <summary>
    /// Draws one sparsification of <paramref name="coefficients"/> with budget <paramref name="budget"/> into
    /// <paramref name="selection"/> (cleared first): kept atoms carry <c>λ_i / p_i</c>.
    /// </summary>
    /// <exception cref="ArgumentException">As for <see cref="Probabilities"/>.</exception>
    public static WaterLevel Sample(ReadOnlySpan<float> coefficients, double budget, Sampling sampling, ulong seed, AtomSelection selection)
    {
        ArgumentNullException.ThrowIfNull(selection);
        WaterLevel level = Solve(coefficients, budget);
        selection.Clear();
        var random = new RandomStream(seed);
        SampleGroup(coefficients, level, sampling, ref random, 0, selection);
        return level;
    }

    /// <summary>
    /// The exact variance of the estimate, <c>E‖ĝ − g‖² = Σ λ_i² (1/p_i − 1)</c>, for either sampling mode.
    /// </summary>
    /// <exception cref="ArgumentException">As for <see cref="Probabilities"/>.</exception>
    public static double Variance(ReadOnlySpan<float> coefficients, double budget)
    {
        WaterLevel level = Solve(coefficients, budget);
        double variance = 0;
        foreach (float coefficient in coefficients)
        {
            double p = level.Probability(coefficient);
            if (p > 0)
            {
                variance += (double)coefficient * coefficient * (1 / p - 1);
            }
        }

        return variance;
    }

    internal static void ValidateBudget(double budget)
    {
        if (!(budget > 0))
        {
            throw new ArgumentException($"The budget must be a positive number of atoms, not {budget}.", nameof(budget));
        }
    }

    internal static WaterLevel Solve(ReadOnlySpan<float> coefficients, double budget, MagnitudeStatistics statistics)
    {
        int nonZero = statistics.NonZeroCount;
        if (nonZero == 0 || budget >= nonZero)
        {
            return new WaterLevel(double.PositiveInfinity, lossless: true, nonZero, nonZero, statistics.Sum);
        }

        // Without clipping, c = s/Σ|λ| already keeps every p ≤ 1.
        if (budget * statistics.Max <= statistics.Sum)
        {
            return new WaterLevel(budget / statistics.Sum, lossless: false, nonZero, budget, statistics.Sum);
        }

        double level = ClippedWaterLevel(coefficients, budget, statistics);
        return new WaterLevel(1 / level, lossless: false, nonZero, budget, statistics.Sum);
    }

    /// <summary>
    /// Finds θ = 1/c with <c>F(θ) = Σ min(1, |λ_i|/θ) = s</c>. F decreases in θ, so a quickselect-style
    /// bisection over the magnitudes brackets θ: each round partitions the open segment around a pivot v,
    /// evaluates F(v), and keeps the side that still contains θ. Expected O(n), no full sort.
    /// </summary>
    private static double ClippedWaterLevel(ReadOnlySpan<float> coefficients, double budget, MagnitudeStatistics statistics)
    {
        float[] rented = ArrayPool<float>.Shared.Rent(statistics.NonZeroCount);
        try
        {
            Span<float> magnitudes = rented.AsSpan(0, statistics.NonZeroCount);
            int m = 0;
            foreach (float coefficient in coefficients)
            {
                if (coefficient != 0)
                {
                    magnitudes[m++] = Math.Abs(coefficient);
                }
            }

            int low = 0, high = m;
            long clipped = 0;
            double clippedSum = 0;
            ulong pivotState = 0x9E3779B97F4A7C15UL;
            while (low < high)
            {
                pivotState = SeedSequence.Mix(pivotState);
                float pivot = magnitudes[low + (int)(pivotState % (ulong)(high - low))];
                (int greaterEnd, int equalEnd, double greaterSum, double equalSum) = PartitionDescending(magnitudes[low..high], pivot);
                greaterEnd += low;
                equalEnd += low;
                double atPivot = clipped + (equalEnd - low) + (statistics.Sum - clippedSum - greaterSum - equalSum) / pivot;
                if (atPivot >= budget)
                {
                    // θ ≥ pivot: atoms at or below the pivot stay unclipped; look among the larger ones.
                    high = greaterEnd;
                }
                else
                {
                    // θ < pivot: every atom at or above the pivot is clipped to p = 1.
                    clipped += equalEnd - low;
                    clippedSum += greaterSum + equalSum;
                    low = equalEnd;
                }
            }

            return (statistics.Sum - clippedSum) / (budget - clipped);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Three-way partition into [&gt; pivot | = pivot | &lt; pivot], with the sums of the first two parts.</summary>
    private static (int GreaterEnd, int EqualEnd, double GreaterSum, double EqualSum) PartitionDescending(Span<float> values, float pivot)
    {
        int greater = 0, next = 0, less = values.Length;
        double greaterSum = 0, equalSum = 0;
        while (next < less)
        {
            float value = values[next];
            if (value > pivot)
            {
                greaterSum += value;
                (values[greater], values[next]) = (values[next], values[greater]);
                greater++;
                next++;
            }
            else if (value < pivot)
            {
                less--;
                (values[next], values[less]) = (values[less], values[next]);
            }
            else
            {
                equalSum += value;
                next++;
            }
        }

        return (greater, less, greaterSum, equalSum);
    }

    private static void WriteProbabilities(ReadOnlySpan<float> coefficients, WaterLevel level, Span<double> probabilities)
    {
        ref float source = ref MemoryMarshal.GetReference(coefficients);
        ref double destination = ref MemoryMarshal.GetReference(probabilities);
        int i = 0;
        if (level.IsLossless)
        {
            for (; i < coefficients.Length; i++)
            {
                probabilities[i] = coefficients[i] == 0 ? 0 : 1;
            }

            return;
        }

        var scale = Vector256.Create(level.Scale);
        var one = Vector256<double>.One;
        for (; i <= coefficients.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)i)));
            Vector256.Min(lower * scale, one).StoreUnsafe(ref destination, (nuint)i);
            Vector256.Min(upper * scale, one).StoreUnsafe(ref destination, (nuint)(i + Vector256<double>.Count));
        }

        for (; i < coefficients.Length; i++)
        {
            probabilities[i] = level.Probability(coefficients[i]);
        }
    }

    /// <summary>
    /// Draws one group of atoms into <paramref name="selection"/>, indices shifted by <paramref name="indexOffset"/>,
    /// and closes the group with its kept magnitude.
    /// </summary>
    internal static void SampleGroup(ReadOnlySpan<float> coefficients, WaterLevel level, Sampling sampling, ref RandomStream random, int indexOffset, AtomSelection selection)
    {
        selection.EnsureAdditionalCapacity((int)Math.Min(coefficients.Length, Math.Ceiling(level.ExpectedAtoms * 1.25) + 16));
        if (level.IsLossless)
        {
            for (int i = 0; i < coefficients.Length; i++)
            {
                if (coefficients[i] != 0)
                {
                    selection.Add(indexOffset + i, coefficients[i], exact: true);
                }
            }
        }
        else if (sampling == Sampling.Systematic)
        {
            SampleSystematic(coefficients, level, random.NextDouble(), indexOffset, selection);
        }
        else
        {
            SampleIndependent(coefficients, level, ref random, indexOffset, selection);
        }

        selection.EndGroup(indexOffset + coefficients.Length, level.KeptMagnitude);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Keep(AtomSelection selection, int index, float coefficient, double probability, float keptMagnitude)
    {
        if (probability >= 1)
        {
            selection.Add(index, coefficient, exact: true);
        }
        else
        {
            selection.Add(index, coefficient < 0 ? -keptMagnitude : keptMagnitude, exact: false);
        }
    }

    /// <summary>
    /// Independent Bernoulli draws. Atom i is kept iff <c>U_i &lt; p_i</c> for a 64-bit uniform <c>U_i</c> whose top
    /// 32 bits <c>r</c> come from the vector generator. A float comparison of the top 24 bits of r against
    /// <c>c·|λ|·2²⁴</c>, with a margin wider than its rounding, settles all but about one atom in a million; those
    /// are decided exactly in double (with more random bits on a tie), so <c>P(keep) = p_i</c> to double precision.
    /// </summary>
    private static void SampleIndependent(ReadOnlySpan<float> coefficients, WaterLevel level, ref RandomStream random, int indexOffset, AtomSelection selection)
    {
        double scale = level.Scale;
        float keptMagnitude = level.KeptMagnitude;
        float scaled = (float)(scale * (1 << 24));
        ref float source = ref MemoryMarshal.GetReference(coefficients);
        int length = coefficients.Length;
        int i = 0;
        if (float.IsNormal(scaled))
        {
            var scaleVector = Vector256.Create(scaled);
            var below = Vector256.Create(1f - (1f / (1 << 20)));
            var above = Vector256.Create(1f + (1f / (1 << 20)));
            var two = Vector256.Create(2f);
            var one = Vector256<float>.One;
            for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<uint> bits = random.NextVector();
                Vector256<float> top = Vector256.ConvertToSingle((bits >> 8).AsInt32());
                Vector256<float> threshold = Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)i)) * scaleVector;
                Vector256<float> sure = Vector256.LessThanOrEqual(top + two, threshold * below);
                Vector256<float> undecided = Vector256.AndNot(Vector256.LessThan(top, Vector256.Max(threshold * above, one)), sure);
                uint candidates = (sure | undecided).ExtractMostSignificantBits();
                if (candidates == 0)
                {
                    continue;
                }

                uint sureBits = sure.ExtractMostSignificantBits();
                do
                {
                    int lane = BitOperations.TrailingZeroCount(candidates);
                    candidates &= candidates - 1;
                    float coefficient = Unsafe.Add(ref source, i + lane);
                    double p = level.Probability(coefficient);
                    if ((sureBits & (1u << lane)) != 0 || KeepExactly(p, bits.GetElement(lane), ref random))
                    {
                        Keep(selection, indexOffset + i + lane, coefficient, p, keptMagnitude);
                    }
                }
                while (candidates != 0);
            }
        }

        // The tail, and every atom when c·2²⁴ is outside float's normal range: one vector draw per eight atoms.
        while (i < length)
        {
            Vector256<uint> bits = random.NextVector();
            for (int lane = 0; lane < Vector256<uint>.Count && i < length; lane++, i++)
            {
                float coefficient = Unsafe.Add(ref source, i);
                double p = level.Probability(coefficient);
                if (KeepExactly(p, bits.GetElement(lane), ref random))
                {
                    Keep(selection, indexOffset + i, coefficient, p, keptMagnitude);
                }
            }
        }
    }

    /// <summary>Keeps with probability p given the top 32 bits r of a 64-bit uniform; a tie draws the low 32 bits.</summary>
    private static bool KeepExactly(double p, uint top, ref RandomStream random)
    {
        double threshold = p * 4294967296.0;
        double whole = Math.Floor(threshold);
        if (top < whole)
        {
            return true;
        }

        if (top > whole)
        {
            return false;
        }

        double fraction = threshold - whole;
        return fraction > 0 && (uint)random.NextUInt64() < fraction * 4294967296.0;
    }

    /// <summary>
    /// Systematic sampling: with <c>w_i = Σ_{j≤i} p_j − u</c>, atom i is kept iff an integer lies in
    /// <c>(w_{i−1}, w_i]</c>. Prefix sums run four lanes at a time; the running offset is reduced to its fractional
    /// part every 64 vectors so that its rounding error stays near 1e-14 however long the tensor.
    /// </summary>
    private static void SampleSystematic(ReadOnlySpan<float> coefficients, WaterLevel level, double uniform, int indexOffset, AtomSelection selection)
    {
        double scale = level.Scale;
        float keptMagnitude = level.KeptMagnitude;
        ref float source = ref MemoryMarshal.GetReference(coefficients);
        int length = coefficients.Length;
        double carry = uniform == 0 ? 0 : 1 - uniform;
        int i = 0;

        var scaleVector = Vector256.Create(scale);
        var one = Vector256<double>.One;
        var shiftOne = Vector256.Create(4L, 0, 1, 2);
        var shiftTwo = Vector256.Create(4L, 4, 0, 1);
        var lastLane = Vector256.Create(3L);
        var firstLane = Vector256.Create(-1L, 0, 0, 0).AsDouble();
        var running = Vector256.Create(carry);
        int sinceReduce = 0;
        for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)i)));
            for (int half = 0; half < 2; half++)
            {
                Vector256<double> p = Vector256.Min((half == 0 ? lower : upper) * scaleVector, one);
                Vector256<double> prefix = p + Vector256.Shuffle(p, shiftOne);
                prefix += Vector256.Shuffle(prefix, shiftTwo);
                Vector256<double> position = running + prefix;
                Vector256<double> floor = Vector256.Floor(position);
                Vector256<double> previous = Vector256.ConditionalSelect(firstLane, Vector256.Floor(running), Vector256.Shuffle(floor, shiftOne));
                uint kept = Vector256.GreaterThan(floor, previous).ExtractMostSignificantBits();
                running += Vector256.Shuffle(prefix, lastLane);
                while (kept != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(kept) + (half * Vector256<double>.Count);
                    kept &= kept - 1;
                    float coefficient = Unsafe.Add(ref source, i + lane);
                    Keep(selection, indexOffset + i + lane, coefficient, Math.Min(1.0, scale * Math.Abs((double)coefficient)), keptMagnitude);
                }
            }

            if (++sinceReduce == 64)
            {
                running -= Vector256.Floor(running);
                sinceReduce = 0;
            }
        }

        carry = running.GetElement(0);
        for (; i < length; i++)
        {
            float coefficient = Unsafe.Add(ref source, i);
            double p = Math.Min(1.0, scale * Math.Abs((double)coefficient));
            double next = carry + p;
            if (Math.Floor(next) > Math.Floor(carry))
            {
                Keep(selection, indexOffset + i, coefficient, p, keptMagnitude);
            }

            carry = next;
        }
    }
}
