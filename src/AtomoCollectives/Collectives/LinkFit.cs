namespace AtomoCollectives;

/// <summary>
/// The α–β model of the network, fitted online from the collectives a call makes anyway. A collective of R message
/// rounds that moves X bytes per rank takes <c>t = α·R + β·X</c>: a ring allreduce of n floats R = 2(N−1), X =
/// <see cref="AllreduceStatistics.RingAllreduceBytes"/>; an allgather in which each rank receives X bytes R = N−1 (the
/// model of the Examples' cost model). One α and one β for every collective: each call gives three points of very
/// different sizes (the lengths allgather, the payload allgatherv, the dense allreduce), so the fit is determined every
/// call, where a line per collective would see the same size call after call once the routes settle.
/// </summary>
/// <remarks>
/// Weighted least squares, the weights forgetting by <see cref="Forgetting"/> per call so that the fit follows a link
/// whose load changes, with β's standard error, so that a decision can ask whether it holds over β's plausible range.
/// Only +, −, ×, ÷ and √ on doubles, in a fixed order: ranks that add the same points hold the same bits (no libm
/// function whose result may differ by CPU; √ is correctly rounded everywhere).
/// </remarks>
internal sealed class LinkFit
{
    /// <summary>Weight of the previous calls' points against the newest call's (about 20 calls of memory).</summary>
    public const double Forgetting = 0.95;

    private double _weight, _squaredWeight, _rr, _rx, _xx, _rt, _xt, _tt;

    /// <summary>The fit's sums, in a fixed order (saved state, the agreement digest).</summary>
    public double[] Sums => [_weight, _squaredWeight, _rr, _rx, _xx, _rt, _xt, _tt];

    /// <summary>A fit from <see cref="Sums"/>.</summary>
    public static LinkFit FromSums(ReadOnlySpan<double> sums)
    {
        if (sums.Length != 8)
        {
            throw new ArgumentException($"A link fit has 8 sums, not {sums.Length}.", nameof(sums));
        }

        return new LinkFit
        {
            _weight = sums[0], _squaredWeight = sums[1], _rr = sums[2], _rx = sums[3], _xx = sums[4], _rt = sums[5], _xt = sums[6], _tt = sums[7],
        };
    }

    /// <summary>Ages every point so far by one call.</summary>
    public void Decay()
    {
        const double f = Forgetting;
        _weight *= f;
        _squaredWeight *= f * f;
        _rr *= f;
        _rx *= f;
        _xx *= f;
        _rt *= f;
        _xt *= f;
        _tt *= f;
    }

    /// <summary>One collective of <paramref name="rounds"/> message rounds that moved <paramref name="bytes"/> per rank in <paramref name="seconds"/>.</summary>
    public void Add(double rounds, double bytes, double seconds)
    {
        _weight += 1;
        _squaredWeight += 1;
        _rr += rounds * rounds;
        _rx += rounds * bytes;
        _xx += bytes * bytes;
        _rt += rounds * seconds;
        _xt += bytes * seconds;
        _tt += seconds * seconds;
    }

    /// <summary>
    /// α (≥ 0: a negative fit is refitted through the origin), β and β's standard error; null while the points cannot
    /// separate α from β at all (sizes proportional to rounds, no more points than parameters). β may come out ≤ 0 when
    /// timing noise swamps the bytes' share; its standard error then says so.
    /// </summary>
    public LinkEstimate? Estimate()
    {
        double determinant = (_rr * _xx) - (_rx * _rx);
        if (_xx <= 0 || _rr <= 0 || !(determinant > 1e-9 * _rr * _xx))
        {
            return null;
        }

        double alpha = ((_rt * _xx) - (_xt * _rx)) / determinant;
        double beta = ((_xt * _rr) - (_rt * _rx)) / determinant;
        double betaVariance;
        if (alpha < 0)
        {
            alpha = 0;
            beta = _xt / _xx;
            betaVariance = ResidualVariance(0, beta, parameters: 1) / _xx;
        }
        else
        {
            betaVariance = ResidualVariance(alpha, beta, parameters: 2) * _rr / determinant;
        }

        return double.IsFinite(betaVariance) ? new LinkEstimate(alpha, beta, Math.Sqrt(betaVariance)) : null;
    }

    /// <summary>The weighted residual variance per unit weight, with the effective number of points <c>W²/Σw²</c> less the fitted parameters as degrees of freedom.</summary>
    private double ResidualVariance(double alpha, double beta, int parameters)
    {
        double effectivePoints = _weight * _weight / _squaredWeight;
        if (effectivePoints <= parameters)
        {
            return double.PositiveInfinity;
        }

        double squaredResiduals = _tt - (2 * ((alpha * _rt) + (beta * _xt))) + (alpha * alpha * _rr) + (2 * alpha * beta * _rx) + (beta * beta * _xx);
        return Math.Max(squaredResiduals, 0) / (_weight * (1 - (parameters / effectivePoints)));
    }
}
