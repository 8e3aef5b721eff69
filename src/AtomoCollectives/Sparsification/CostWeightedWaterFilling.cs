using System.Buffers;

namespace AtomoCollectives;

/// <summary>
/// Algorithm 1 for two groups of atoms whose atoms cost different numbers of bytes on the wire: minimise the variance
/// <c>Σ λ_i²/p_i</c> subject to the expected bytes <c>Σ c_i·p_i = B</c>. The Lagrange condition gives
/// <c>p_i = min(1, |λ_i|/(τ·√c_i))</c>, one level τ for all atoms: per group a <see cref="WaterLevel"/> with scale
/// <c>1/(τ·√c_g)</c>. With one cost for all atoms this is the plain water level with <c>Σ p = B/c</c>. Unbiasedness
/// never depends on τ; only the variance and the payload size do.
/// </summary>
internal static class CostWeightedWaterFilling
{
    /// <summary>One group's coefficients, the bytes one of its atoms costs, and its magnitude statistics.</summary>
    internal readonly ref struct Group(ReadOnlySpan<float> coefficients, double cost, MagnitudeStatistics statistics)
    {
        public ReadOnlySpan<float> Coefficients { get; } = coefficients;

        public double Cost { get; } = cost;

        public MagnitudeStatistics Statistics { get; } = statistics;

        public double RootCost => Math.Sqrt(Cost);
    }

    /// <summary>The levels of both groups for an expected <paramref name="byteBudget"/> bytes.</summary>
    /// <exception cref="ArgumentException">The budget is not positive, or a cost is not positive.</exception>
    public static (WaterLevel First, WaterLevel Second) Solve(Group first, Group second, double byteBudget)
    {
        if (!(byteBudget > 0) || !(first.Cost > 0) || !(second.Cost > 0))
        {
            throw new ArgumentException($"The byte budget ({byteBudget}) and the atoms' costs ({first.Cost}, {second.Cost}) must be positive.", nameof(byteBudget));
        }

        MagnitudeStatistics a = first.Statistics, b = second.Statistics;
        if (byteBudget >= (first.Cost * a.NonZeroCount) + (second.Cost * b.NonZeroCount))
        {
            return (Lossless(a), Lossless(b));
        }

        // Without clipping, τ = Σ√c_i·|λ_i| / B; it stands when no atom's |λ|/√c exceeds it.
        double linear = (first.RootCost * a.Sum) + (second.RootCost * b.Sum);
        double level = linear / byteBudget;
        if (a.Max / first.RootCost > level || b.Max / second.RootCost > level)
        {
            level = FewClipped(first, byteBudget, second.RootCost * b.Sum) is double found && b.Max / second.RootCost <= found
                ? found
                : ClippedLevel(first, second, byteBudget, linear);
        }

        return (LevelOf(first, level), LevelOf(second, level));
    }

    /// <summary>
    /// The common case without allocation: only atoms of a small first group (a sketch's few rank-1 atoms) clip. Clip
    /// its largest one by one until the next lies at or below τ; null when the group is large or the budget runs out.
    /// The caller checks that the second group (whose linear part is <paramref name="secondLinear"/>) stays unclipped at
    /// the τ found, which is then the solution. The unclipped sums are suffix sums, never a total less the clipped.
    /// </summary>
    private static double? FewClipped(Group first, double byteBudget, double secondLinear)
    {
        ReadOnlySpan<float> coefficients = first.Coefficients;
        if (coefficients.Length > 64)
        {
            return null;
        }

        Span<float> sorted = stackalloc float[coefficients.Length];
        for (int i = 0; i < sorted.Length; i++)
        {
            sorted[i] = Math.Abs(coefficients[i]);
        }

        sorted.Sort((x, y) => y.CompareTo(x));
        Span<double> suffix = stackalloc double[sorted.Length + 1];
        suffix[sorted.Length] = 0;
        for (int i = sorted.Length - 1; i >= 0; i--)
        {
            suffix[i] = suffix[i + 1] + sorted[i];
        }

        for (int clipped = 0; clipped <= sorted.Length; clipped++)
        {
            double rest = byteBudget - (clipped * first.Cost);
            if (rest <= 0)
            {
                return null;
            }

            double level = (secondLinear + (first.RootCost * suffix[clipped])) / rest;
            if (clipped == sorted.Length || sorted[clipped] / first.RootCost <= level)
            {
                return level;
            }
        }

        return null;
    }

    private static WaterLevel Lossless(MagnitudeStatistics statistics) =>
        new(double.PositiveInfinity, lossless: true, statistics.NonZeroCount, statistics.NonZeroCount, statistics.Sum);

    /// <summary>The group's level for τ, with its exact expected count <c>Σ min(1, |λ|/(τ√c))</c>.</summary>
    private static WaterLevel LevelOf(Group group, double level)
    {
        double scale = 1 / (level * group.RootCost);
        if (!(group.Statistics.Max * scale > 1))
        {
            return new WaterLevel(scale, lossless: false, group.Statistics.NonZeroCount, scale * group.Statistics.Sum, group.Statistics.Sum);
        }

        double expected = 0;
        foreach (float coefficient in group.Coefficients)
        {
            expected += Math.Min(1, Math.Abs((double)coefficient) * scale);
        }

        return new WaterLevel(scale, lossless: false, group.Statistics.NonZeroCount, expected, group.Statistics.Sum);
    }

    /// <summary>
    /// τ when some atoms clip at p = 1. Let F(τ) = Σ c_i·min(1, μ_i/τ) with μ_i = |λ_i|/√c_i: F decreases, and
    /// F(U) ≤ B for U = Σ c_i μ_i / B. Atoms with μ ≥ U/8 are collected: if F(U/8) ≥ B, τ ≥ U/8, every other atom is
    /// unclipped at τ, and τ follows exactly from the candidates sorted by μ. Otherwise every candidate is clipped and
    /// U' = (Σ c μ − theirs)/(B − their cost) is a tighter bound, tried next. After four misses, or when candidates
    /// overflow their buffer, every non-zero atom is a candidate.
    /// </summary>
    private static double ClippedLevel(Group first, Group second, double byteBudget, double linear)
    {
        double minimumCost = Math.Min(first.Cost, second.Cost);
        int capacity = (int)Math.Min(
            first.Statistics.NonZeroCount + (long)second.Statistics.NonZeroCount,
            Math.Min(1 << 22, (16 * Math.Ceiling(byteBudget / minimumCost)) + 1024));
        double upper = linear / byteBudget;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            double floor = upper / 8;
            double? level = TryCandidates(first, second, byteBudget, floor, capacity, out double nextUpper);
            if (level is double found)
            {
                return found;
            }

            if (double.IsNaN(nextUpper))
            {
                break;
            }

            upper = nextUpper;
        }

        int all = (int)Math.Min(Array.MaxLength, first.Statistics.NonZeroCount + (long)second.Statistics.NonZeroCount);
        return TryCandidates(first, second, byteBudget, 0, all, out _)
            ?? throw new InvalidOperationException("Every non-zero atom is a candidate, yet no water level was found.");
    }

    /// <summary>
    /// Collects the atoms with μ ≥ <paramref name="floor"/> (all non-zero ones when it is 0) and solves over them if
    /// F(floor) ≥ B; otherwise returns null with the tighter upper bound (NaN when the candidates did not fit). The
    /// linear part of the atoms below the floor is summed directly, and so are the unclipped candidates' (suffix sums):
    /// a total less the clipped part would cancel to nothing beside one huge atom.
    /// </summary>
    private static double? TryCandidates(Group first, Group second, double byteBudget, double floor, int capacity, out double nextUpper)
    {
        nextUpper = double.NaN;
        float[] magnitudes = ArrayPool<float>.Shared.Rent(Math.Max(1, capacity));
        Candidate[] candidates = ArrayPool<Candidate>.Shared.Rent(Math.Max(1, capacity));
        double[] suffix = ArrayPool<double>.Shared.Rent(Math.Max(1, capacity) + 1);
        try
        {
            int firstCount = Collect(first, floor, magnitudes, capacity, candidates, 0, out double firstBelow);
            if (firstCount < 0)
            {
                return null;
            }

            int count = Collect(second, floor, magnitudes, capacity - firstCount, candidates, firstCount, out double secondBelow);
            if (count < 0)
            {
                return null;
            }

            double restLinear = (first.RootCost * firstBelow) + (second.RootCost * secondBelow);
            double candidateCost = 0, atFloor = 0;
            foreach (Candidate candidate in candidates.AsSpan(0, count))
            {
                candidateCost += candidate.Cost;
                atFloor += floor > 0 ? candidate.Cost * Math.Min(1, candidate.Mu / floor) : candidate.Cost;
            }

            if (floor > 0 && atFloor + (restLinear / floor) < byteBudget)
            {
                nextUpper = restLinear / (byteBudget - candidateCost);
                return null;
            }

            // Clip the largest μ first: τ_j = (Σ c μ over the unclipped) / (B − cost of the j clipped); the first j whose
            // next atom lies at or below τ_j is the solution.
            Span<Candidate> sorted = candidates.AsSpan(0, count);
            sorted.Sort(static (x, y) => y.Mu.CompareTo(x.Mu));
            suffix[count] = 0;
            for (int j = count - 1; j >= 0; j--)
            {
                suffix[j] = suffix[j + 1] + (sorted[j].Cost * sorted[j].Mu);
            }

            double clippedCost = 0;
            for (int j = 0; j < count; j++)
            {
                double level = (restLinear + suffix[j]) / (byteBudget - clippedCost);
                if (sorted[j].Mu <= level)
                {
                    return level;
                }

                clippedCost += sorted[j].Cost;
            }

            return restLinear / (byteBudget - clippedCost);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(magnitudes);
            ArrayPool<Candidate>.Shared.Return(candidates);
            ArrayPool<double>.Shared.Return(suffix);
        }
    }

    /// <summary>An atom that may clip: μ = |λ|/√c and its cost c.</summary>
    private readonly record struct Candidate(double Mu, double Cost);

    /// <summary>
    /// Appends the group's atoms with μ ≥ <paramref name="floor"/> to <paramref name="candidates"/> from
    /// <paramref name="start"/>; returns the new count, or −1 when more than <paramref name="capacity"/> would be needed.
    /// </summary>
    private static int Collect(Group group, double floor, float[] scratch, int capacity, Candidate[] candidates, int start, out double belowSum)
    {
        belowSum = 0;
        if (capacity < 0)
        {
            return -1;
        }

        if (group.Statistics.NonZeroCount == 0)
        {
            return start;
        }

        float threshold = floor > 0 ? (float)(floor * group.RootCost) : float.Epsilon;
        int count = AtomicSparsifier.CollectAtLeast(group.Coefficients, threshold, scratch.AsSpan(0, capacity), out belowSum);
        if (count < 0)
        {
            return -1;
        }

        for (int i = 0; i < count; i++)
        {
            candidates[start + i] = new Candidate(scratch[i] / group.RootCost, group.Cost);
        }

        return start + count;
    }
}
