using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    /// Finds θ = 1/c with <c>F(θ) = Σ min(1, |λ_i|/θ) = s</c>. F decreases in θ, and θ ≤ U starting from U = Σ|λ|/s.
    /// A filter pass collects the atoms at or above U/8 and sums the others: if F(U/8) ≥ s then θ ≥ U/8, every atom below
    /// it is unclipped, and only the candidates need bisecting (each has p ≥ 1/8, so there are at most 8s). Otherwise
    /// every candidate is clipped, and U' = (sum of the others)/(s − their count) is a tighter bound (F(U') ≤ s), tried
    /// next. After four misses, or when the candidates overflow their buffer, all non-zero atoms are bisected.
    /// Expected O(n), no full sort. Sums of the unclipped atoms are always summed directly, never as a total less the
    /// clipped ones: one atom of 10¹⁵ beside atoms of 10⁻⁶ would leave nothing of them in double (the estimate would
    /// then drop every atom).
    /// </summary>
    private static double ClippedWaterLevel(ReadOnlySpan<float> coefficients, double budget, MagnitudeStatistics statistics)
    {
        int capacity = (int)Math.Min(statistics.NonZeroCount, (16 * Math.Ceiling(budget)) + 1024);
        float[] rented = ArrayPool<float>.Shared.Rent(capacity);
        try
        {
            double upper = statistics.Sum / budget;
            for (int attempt = 0; attempt < 4; attempt++)
            {
                float floor = (float)(upper / 8);
                int count = CollectAtLeast(coefficients, floor, rented.AsSpan(0, capacity), out double belowSum);
                if (count < 0 || floor == 0)
                {
                    break;
                }

                double atFloor = count + (belowSum / floor);
                if (atFloor >= budget)
                {
                    return BisectWaterLevel(rented.AsSpan(0, count), budget, belowSum);
                }

                upper = belowSum / (budget - count);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }

        float[] all = ArrayPool<float>.Shared.Rent(statistics.NonZeroCount);
        try
        {
            int count = CollectAtLeast(coefficients, float.Epsilon, all.AsSpan(0, statistics.NonZeroCount), out double belowSum);
            return BisectWaterLevel(all.AsSpan(0, count), budget, belowSum);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(all);
        }
    }

    /// <summary>Copies every |λ| ≥ <paramref name="floor"/> into <paramref name="destination"/>; −1 if they do not fit.</summary>
    internal static int CollectAtLeast(ReadOnlySpan<float> coefficients, float floor, Span<float> destination) =>
        CollectAtLeast(coefficients, floor, destination, out _);

    /// <summary>As above, and <paramref name="belowSum"/> = Σ|λ| over the atoms below the floor, summed directly in double.</summary>
    internal static int CollectAtLeast(ReadOnlySpan<float> coefficients, float floor, Span<float> destination, out double belowSum)
    {
        ref float source = ref MemoryMarshal.GetReference(coefficients);
        var floorVector = Vector256.Create(floor);
        Vector256<double> below0 = Vector256<double>.Zero, below1 = below0;
        int count = 0, i = 0;
        belowSum = 0;
        for (; i <= coefficients.Length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> magnitudes = Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)i));
            Vector256<float> atLeast = Vector256.GreaterThanOrEqual(magnitudes, floorVector);
            (Vector256<double> low, Vector256<double> high) = Vector256.Widen(Vector256.AndNot(magnitudes, atLeast));
            below0 += low;
            below1 += high;
            uint found = atLeast.ExtractMostSignificantBits();
            while (found != 0)
            {
                if (count == destination.Length)
                {
                    return -1;
                }

                destination[count++] = magnitudes.GetElement(BitOperations.TrailingZeroCount(found));
                found &= found - 1;
            }
        }

        belowSum = Vector256.Sum(below0 + below1);
        for (; i < coefficients.Length; i++)
        {
            float magnitude = Math.Abs(coefficients[i]);
            if (magnitude >= floor)
            {
                if (count == destination.Length)
                {
                    return -1;
                }

                destination[count++] = magnitude;
            }
            else
            {
                belowSum += magnitude;
            }
        }

        return count;
    }

    /// <summary>
    /// Quickselect-style bisection for θ over <paramref name="candidates"/>, which hold every atom that might be
    /// clipped; <paramref name="restSum"/> is the sum of the atoms known to be unclipped. Each round partitions the open
    /// segment around a pivot v, evaluates F(v), and keeps the side that still contains θ. The unclipped sum at every
    /// step is a direct sum (the rest, atoms found below θ, and the segment's part below the pivot), never a difference.
    /// </summary>
    private static double BisectWaterLevel(Span<float> candidates, double budget, double restSum)
    {
        int low = 0, high = candidates.Length;
        long clipped = 0;
        double unclippedSum = restSum;
        ulong pivotState = 0x9E3779B97F4A7C15UL;
        while (low < high)
        {
            pivotState = SeedSequence.Mix(pivotState);
            float pivot = candidates[low + (int)(pivotState % (ulong)(high - low))];
            (int greaterEnd, int equalEnd, double equalSum, double lessSum) = PartitionDescending(candidates[low..high], pivot);
            greaterEnd += low;
            equalEnd += low;
            double atPivot = clipped + (equalEnd - low) + ((unclippedSum + lessSum) / pivot);
            if (atPivot >= budget)
            {
                // θ ≥ pivot: atoms at or below the pivot stay unclipped; look among the larger ones.
                unclippedSum += equalSum + lessSum;
                high = greaterEnd;
            }
            else
            {
                // θ < pivot: every atom at or above the pivot is clipped to p = 1.
                clipped += equalEnd - low;
                low = equalEnd;
            }
        }

        return unclippedSum / (budget - clipped);
    }

    /// <summary>Three-way partition into [&gt; pivot | = pivot | &lt; pivot], with the sums of the last two parts.</summary>
    private static (int GreaterEnd, int EqualEnd, double EqualSum, double LessSum) PartitionDescending(Span<float> values, float pivot)
    {
        int greater = 0, next = 0, less = values.Length;
        double equalSum = 0, lessSum = 0;
        while (next < less)
        {
            float value = values[next];
            if (value > pivot)
            {
                (values[greater], values[next]) = (values[next], values[greater]);
                greater++;
                next++;
            }
            else if (value < pivot)
            {
                lessSum += value;
                less--;
                (values[next], values[less]) = (values[less], values[next]);
            }
            else
            {
                equalSum += value;
                next++;
            }
        }

        return (greater, less, equalSum, lessSum);
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
        if (!level.IsLossless && level.Scale > 0 && float.IsInfinity(level.KeptMagnitude))
        {
            throw new ArgumentException($"The kept atoms would carry Σ|λ|/s = {1 / level.Scale:G4}, beyond float's range: scale the tensor down or raise the budget.", nameof(coefficients));
        }

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
    /// Atoms are scanned in chunks; inside a chunk the vector loop makes no calls (so the generator state and
    /// constants stay in registers) and only records candidates, which are settled after the chunk.
    /// </summary>
    private const int ChunkLength = 4096;

    /// <summary>
    /// Independent Bernoulli draws. Atom i is kept iff <c>U_i &lt; p_i</c> for a uniform <c>U_i</c> whose top 16 bits come
    /// from the vector generator (each 32-bit word serves two atoms). A float comparison of those bits against
    /// <c>c·|λ|·2¹⁶</c>, with a margin wider than its rounding, settles all but about three atoms in 10⁵; those are
    /// decided exactly in double with 53 more random bits, so <c>P(keep) = p_i</c> to double precision.
    /// </summary>
    [SkipLocalsInit] // the scratch is written before it is read; zeroing it cost a pass per bucket
    private static void SampleIndependent(ReadOnlySpan<float> coefficients, WaterLevel level, ref RandomStream random, int indexOffset, AtomSelection selection)
    {
        float keptMagnitude = level.KeptMagnitude;
        float scaled = (float)(level.Scale * (1 << 16));
        ref float source = ref MemoryMarshal.GetReference(coefficients);
        int length = coefficients.Length;
        int i = 0;
        if (float.IsNormal(scaled))
        {
            // Sized to the group: small buckets would otherwise pay for zeroing a whole chunk's scratch each call.
            int scratch = Math.Min(ChunkLength, length);
            Span<int> found = stackalloc int[scratch];
            Span<uint> foundBits = stackalloc uint[scratch];
            int vectorEnd = length - (length % (2 * Vector256<float>.Count));
            while (i < vectorEnd)
            {
                int chunkEnd = Math.Min(vectorEnd, i + ChunkLength);
                int count = ScanIndependent(ref source, i, chunkEnd, scaled, ref random, found, foundBits);
                for (int j = 0; j < count; j++)
                {
                    int index = found[j] & int.MaxValue;
                    float coefficient = Unsafe.Add(ref source, index);
                    double p = level.Probability(coefficient);
                    if (found[j] < 0 || KeepExactly(p, foundBits[j], ref random))
                    {
                        Keep(selection, indexOffset + index, coefficient, p, keptMagnitude);
                    }
                }

                i = chunkEnd;
            }
        }

        // The tail, and every atom when c·2¹⁶ is outside float's normal range: one vector draw per eight atoms.
        while (i < length)
        {
            Vector256<uint> bits = random.NextVector();
            for (int lane = 0; lane < Vector256<uint>.Count && i < length; lane++, i++)
            {
                float coefficient = Unsafe.Add(ref source, i);
                double p = level.Probability(coefficient);
                if (KeepExactly(p, bits.GetElement(lane) & 0xFFFF, ref random))
                {
                    Keep(selection, indexOffset + i, coefficient, p, keptMagnitude);
                }
            }
        }
    }

    /// <summary>
    /// The call-free inner loop of <see cref="SampleIndependent"/> over <c>[start, end)</c>, sixteen atoms per draw:
    /// records every atom that is surely kept (index with the sign bit set) or undecided (index, and its top bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see ThinKernels
    private static int ScanIndependent(ref float source, int start, int end, float scaled, ref RandomStream random, Span<int> found, Span<uint> foundBits)
    {
        var scaleVector = Vector256.Create(scaled);
        var below = Vector256.Create(1f - (1f / (1 << 20)));
        var above = Vector256.Create(1f + (1f / (1 << 20)));
        var two = Vector256.Create(2f);
        var one = Vector256<float>.One;
        var low16 = Vector256.Create(0xFFFFu);
        random.Save(out Vector256<uint> s0, out Vector256<uint> s1, out Vector256<uint> s2, out Vector256<uint> s3);
        int count = 0;
        for (int i = start; i < end; i += 2 * Vector256<float>.Count)
        {
            Vector256<uint> bits = RandomStream.Next(ref s0, ref s1, ref s2, ref s3);
            for (int half = 0; half < 2; half++)
            {
                Vector256<uint> top = half == 0 ? bits & low16 : bits >> 16;
                Vector256<float> topSingle = Vector256.ConvertToSingle(top.AsInt32());
                int block = i + (half * Vector256<float>.Count);
                Vector256<float> threshold = Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)block)) * scaleVector;
                uint candidates = Vector256.LessThan(topSingle, Vector256.MaxNative(threshold * above, one)).ExtractMostSignificantBits();
                if (candidates != 0)
                {
                    uint sure = Vector256.LessThanOrEqual(topSingle + two, threshold * below).ExtractMostSignificantBits();
                    do
                    {
                        int lane = BitOperations.TrailingZeroCount(candidates);
                        candidates &= candidates - 1;
                        found[count] = (block + lane) | (int)((sure >> lane) << 31);
                        foundBits[count] = top.GetElement(lane);
                        count++;
                    }
                    while (candidates != 0);
                }
            }
        }

        random.Restore(s0, s1, s2, s3);
        return count;
    }

    /// <summary>
    /// Keeps with probability exactly <paramref name="p"/> (to double precision) given the top 16 bits
    /// <paramref name="top"/> of a uniform <c>U = (top + V)/2¹⁶</c>: keep iff <c>V &lt; p·2¹⁶ − top</c>, drawing V
    /// from the scalar stream only when the top bits leave the answer open.
    /// </summary>
    internal static bool KeepExactly(double p, uint top, ref RandomStream random)
    {
        double room = (p * 65536.0) - top;
        return room >= 1 || (room > 0 && random.NextDouble() < room);
    }

    /// <summary>
    /// Systematic sampling: with <c>w_i = Σ_{j≤i} p_j − u</c>, atom i is kept iff an integer lies in
    /// <c>(w_{i−1}, w_i]</c>. Prefix sums run four double lanes at a time (AVX2 where available) in call-free chunks;
    /// the running offset is reduced to its fractional part after every chunk, so its rounding error stays near
    /// 1e-13 however long the tensor.
    /// </summary>
    [SkipLocalsInit] // the scratch is written before it is read; zeroing it cost a pass per bucket
    private static void SampleSystematic(ReadOnlySpan<float> coefficients, WaterLevel level, double uniform, int indexOffset, AtomSelection selection)
    {
        float keptMagnitude = level.KeptMagnitude;
        ref float source = ref MemoryMarshal.GetReference(coefficients);
        int length = coefficients.Length;
        double carry = uniform == 0 ? 0 : 1 - uniform;
        int i = 0;
        if (Avx2.IsSupported)
        {
            Span<int> found = stackalloc int[Math.Min(ChunkLength, length)];
            int vectorEnd = length - (length % Vector256<float>.Count);
            while (i < vectorEnd)
            {
                int chunkEnd = Math.Min(vectorEnd, i + ChunkLength);
                int count = ScanSystematic(ref source, i, chunkEnd, level.Scale, ref carry, found);
                foreach (int index in found[..count])
                {
                    float coefficient = Unsafe.Add(ref source, index);
                    Keep(selection, indexOffset + index, coefficient, level.Probability(coefficient), keptMagnitude);
                }

                i = chunkEnd;
            }
        }

        for (; i < length; i++)
        {
            float coefficient = Unsafe.Add(ref source, i);
            double p = level.Probability(coefficient);
            double next = carry + p;
            if (Math.Floor(next) > Math.Floor(carry))
            {
                Keep(selection, indexOffset + i, coefficient, p, keptMagnitude);
            }

            carry = next - Math.Floor(next);
        }
    }

    /// <summary>
    /// The call-free AVX2 inner loop of <see cref="SampleSystematic"/>; <paramref name="carry"/> enters and leaves in [0, 1).
    /// The prefix sums carry a dependency from each vector to the next, so blocks of 16 atoms are first summed with
    /// independent accumulators: a block whose sum crosses no integer keeps no atom and is skipped (its sum added to
    /// the running total); only blocks that keep an atom are scanned atom by atom. With a few kept atoms among many
    /// (residual entries) nearly every block is skipped at the speed of one read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see ThinKernels
    private static int ScanSystematic(ref float source, int start, int end, double scale, ref double carry, Span<int> found)
    {
        const int Block = 2 * 8;
        var scaleVector = Vector256.Create(scale);
        var one = Vector256<double>.One;
        var running = Vector256.Create(carry);
        var runningFloor = Vector256<double>.Zero;
        int count = 0;
        for (int blockStart = start; blockStart < end; blockStart += Block)
        {
            int blockEnd = Math.Min(end, blockStart + Block);
            if (blockEnd - blockStart == Block)
            {
                Vector256<double> s0 = Vector256<double>.Zero, s1 = s0, s2 = s0, s3 = s0;
                for (int i = blockStart; i < blockEnd; i += 2 * Vector256<float>.Count)
                {
                    Vector256<float> a = Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)i));
                    Vector256<float> b = Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)(i + Vector256<float>.Count)));
                    s0 += Avx.Min(Avx.ConvertToVector256Double(a.GetLower()) * scaleVector, one);
                    s1 += Avx.Min(Avx.ConvertToVector256Double(a.GetUpper()) * scaleVector, one);
                    s2 += Avx.Min(Avx.ConvertToVector256Double(b.GetLower()) * scaleVector, one);
                    s3 += Avx.Min(Avx.ConvertToVector256Double(b.GetUpper()) * scaleVector, one);
                }

                double total = running.GetElement(0) + Vector256.Sum((s0 + s1) + (s2 + s3));
                if (Math.Floor(total) == runningFloor.GetElement(0))
                {
                    running = Vector256.Create(total);
                    continue;
                }
            }

            for (int i = blockStart; i < blockEnd; i += Vector256<float>.Count)
            {
                Vector256<float> magnitudes = Vector256.Abs(Vector256.LoadUnsafe(ref source, (nuint)i));
                for (int half = 0; half < 2; half++)
                {
                    Vector256<double> p = Avx.Min(Avx.ConvertToVector256Double(half == 0 ? magnitudes.GetLower() : magnitudes.GetUpper()) * scaleVector, one);
                    Vector256<double> prefix = p + Avx.Blend(Vector256<double>.Zero, Avx2.Permute4x64(p, 0b10_01_00_00), 0b1110);
                    prefix += Avx.Permute2x128(prefix, prefix, 0x08);
                    Vector256<double> floor = Avx.RoundToNegativeInfinity(running + prefix);
                    Vector256<double> previous = Avx.Blend(runningFloor, Avx2.Permute4x64(floor, 0b10_01_00_00), 0b1110);
                    uint kept = Avx.CompareGreaterThan(floor, previous).ExtractMostSignificantBits();
                    running += Avx2.Permute4x64(prefix, 0xFF);
                    runningFloor = Avx2.Permute4x64(floor, 0xFF);
                    while (kept != 0)
                    {
                        found[count++] = i + BitOperations.TrailingZeroCount(kept) + (half * Vector256<double>.Count);
                        kept &= kept - 1;
                    }
                }
            }
        }

        carry = running.GetElement(0) - runningFloor.GetElement(0);
        return count;
    }
}
