using AtomoCollectives.Decompositions;

namespace AtomoCollectives;

/// <summary>
/// Draws a spectral tensor's atoms: its rank-1 atoms and its residual's entries as coordinate atoms, in one budget of
/// bytes. <c>Budget</c> rank-1 atoms' worth of bytes, <c>B = s·c₁</c>, is spread over both groups by the cost-weighted
/// water level (<see cref="CostWeightedWaterFilling"/>): a rank-1 atom costs <c>c₁ = (m + n)</c> values, a coordinate
/// atom <c>c₀</c> = its Rice-coded position and sign. So a residual that holds a few percent of ‖G‖² costs a few
/// hundred bytes of coordinates instead of a dense m×n atom. The groups are drawn with independent streams: within
/// each the atoms are orthonormal, so the variance is <c>Σ λ²(1/p − 1)</c> over both for either sampling mode.
/// </summary>
internal static class SpectralSparsifier
{
    /// <summary>The bytes of one rank-1 atom's vectors on the wire.</summary>
    public static double RankOneCost(int rows, int columns, ValuePrecision precision) =>
        (double)(rows + columns) * ValueCoding.BytesPerValue(precision);

    /// <summary>
    /// The bytes of one coordinate atom of an m×n residual: a Rice-coded gap of about <c>log2(mn/K) + 1.5</c> bits plus
    /// a sign bit (docs/wire-format.md), for K = half the budget's bytes (what the residual gets when its share is a
    /// byte an atom); at least a bit for the position and one for the sign.
    /// </summary>
    public static double CoordinateCost(int rows, int columns, double byteBudget)
    {
        double expected = Math.Max(1, byteBudget / 2);
        double bits = Math.Max(0, Math.Log2((double)rows * columns / expected)) + 2.5;
        return Math.Max(2, bits) / 8;
    }

    /// <summary>
    /// Samples <paramref name="atoms"/> for an expected <paramref name="budget"/> rank-1 atoms' worth of bytes into
    /// <paramref name="rankOne"/> (indices into the rank-1 atoms) and <paramref name="residual"/> (row-major indices
    /// into the m×n residual, one group). Returns the two levels.
    /// </summary>
    /// <exception cref="ArgumentException">A kept atom's value would overflow float.</exception>
    public static (WaterLevel RankOne, WaterLevel Residual) Sample(SpectralAtoms atoms, double budget, Sampling sampling, ValuePrecision precision, ulong seed, AtomSelection rankOne, AtomSelection residual)
    {
        (WaterLevel rankOneLevel, WaterLevel residualLevel) = Levels(atoms, budget, precision);
        Draw(atoms, rankOneLevel, residualLevel, sampling, seed, rankOne, residual);
        return (rankOneLevel, residualLevel);
    }

    /// <summary>The two groups' levels for an expected <paramref name="budget"/> rank-1 atoms' worth of bytes.</summary>
    public static (WaterLevel RankOne, WaterLevel Residual) Levels(SpectralAtoms atoms, double budget, ValuePrecision precision)
    {
        int m = atoms.Rows, n = atoms.Columns;
        double rankOneCost = RankOneCost(m, n, precision);
        double byteBudget = budget * rankOneCost;
        var first = new CostWeightedWaterFilling.Group(atoms.Coefficients, rankOneCost, MagnitudeStatistics.Measure(atoms.Coefficients));
        var second = new CostWeightedWaterFilling.Group(atoms.Residual, CoordinateCost(m, n, byteBudget), atoms.ResidualMagnitudes.AsStatistics());
        return CostWeightedWaterFilling.Solve(first, second, byteBudget);
    }

    /// <summary>Draws both groups at the given levels, each with its own stream from <paramref name="seed"/>.</summary>
    public static void Draw(SpectralAtoms atoms, WaterLevel rankOneLevel, WaterLevel residualLevel, Sampling sampling, ulong seed, AtomSelection rankOne, AtomSelection residual)
    {
        rankOne.Clear();
        var random = new RandomStream(seed);
        AtomicSparsifier.SampleGroup(atoms.Coefficients, rankOneLevel, sampling, ref random, 0, rankOne);
        residual.Clear();
        var residualRandom = new RandomStream(ResidualSeed(seed));
        AtomicSparsifier.SampleGroup(atoms.Residual, residualLevel, sampling, ref residualRandom, 0, residual);
    }

    /// <summary>The exact variance <c>E‖ĝ − G‖² = Σ λ²(1/p − 1)</c> of each group for these levels; the estimate's is their sum.</summary>
    public static (double RankOne, double Residual) Variances(SpectralAtoms atoms, WaterLevel rankOne, WaterLevel residual) =>
        (GroupVariance(atoms.Coefficients, rankOne), GroupVariance(atoms.Residual, residual));

    private static double GroupVariance(ReadOnlySpan<float> coefficients, WaterLevel level)
    {
        double variance = 0;
        foreach (float coefficient in coefficients)
        {
            double p = level.Probability(coefficient);
            if (p > 0)
            {
                variance += (double)coefficient * coefficient * ((1 / p) - 1);
            }
        }

        return variance;
    }

    /// <summary>The residual's draws take a stream independent of the rank-1 atoms'.</summary>
    private static ulong ResidualSeed(ulong seed) => RandomStreams.Residual(seed);
}
