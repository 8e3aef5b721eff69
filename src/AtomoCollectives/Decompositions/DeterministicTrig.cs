namespace AtomoCollectives.Decompositions;

/// <summary>
/// cos and sin for the decode kernels' constant tables, the same bits on every CPU: Taylor series to the 23rd power in
/// double with a fixed operation order. glibc's sin/cos (what <see cref="Math.Cos(double)"/> calls) pick a variant per
/// CPU (an FMA one where the CPU has FMA), so tables built with them could differ between ranks.
/// </summary>
internal static class DeterministicTrig
{
    /// <summary>cos t and sin t for t in [0, π/2] (truncation error below 1e-19 there).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="t"/> is outside [0, π/2].</exception>
    public static (double Cos, double Sin) CosSin(double t)
    {
        if (!(t >= 0 && t <= (Math.PI / 2) + 1e-12))
        {
            throw new ArgumentOutOfRangeException(nameof(t), t, "The series is only used (and accurate) on [0, π/2].");
        }

        double t2 = t * t, cos = 1, sin = 1;
        for (int m = 11; m >= 1; m--)
        {
            cos = 1 - (t2 / ((2.0 * m) * ((2.0 * m) - 1)) * cos);
            sin = 1 - (t2 / ((2.0 * m) * ((2.0 * m) + 1)) * sin);
        }

        return (cos, sin * t);
    }
}
