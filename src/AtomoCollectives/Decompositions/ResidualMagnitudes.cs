namespace AtomoCollectives.Decompositions;

/// <summary>
/// What the sparsifier needs of a spectral residual R, gathered in the pass that forms it: <c>Σ|r|</c> (the budget the
/// residual's coordinate atoms take), <c>Σr²</c> (‖R‖²), <c>max|r|</c> (whether any of them is clipped at p = 1) and
/// how many entries are non-zero.
/// </summary>
internal readonly record struct ResidualMagnitudes(double AbsoluteSum, double SquareSum, float Max, int NonZeroCount)
{
    /// <summary>No residual at all.</summary>
    public static ResidualMagnitudes None => default;

    /// <summary>Whether every entry was finite (a NaN or infinity makes the sums non-finite).</summary>
    public bool IsFinite => double.IsFinite(AbsoluteSum) && double.IsFinite(SquareSum) && float.IsFinite(Max);

    /// <summary>The same figures as <see cref="MagnitudeStatistics"/>, for the water-level solver.</summary>
    public MagnitudeStatistics AsStatistics() => new(AbsoluteSum, Max, NonZeroCount);
}
