namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// The α–β fit of <see cref="RoutingRule.Time"/> on synthetic timings: a call at N = 4 gives the lengths allgather
/// (3 rounds, ~2 KB), the payload allgatherv (3 rounds, tens of KB) and the dense allreduce (6 rounds, hundreds of KB).
/// </summary>
public class LinkFitTests
{
    private const double Alpha = 40e-6;    // 40 µs per message round
    private const double Beta = 3.2e-9;    // 2.5 Gbit/s

    /// <summary>The three collectives of call <paramref name="call"/>: (rounds, bytes per rank), sizes varying by call.</summary>
    private static (double Rounds, double Bytes)[] Collectives(int call) =>
        [(3, 2400), (3, 30_000 + (1_700.0 * (call % 7))), (6, 600_000 - (9_000.0 * (call % 5)))];

    private static LinkFit Fit(int calls, Func<int, double, double, double> seconds)
    {
        var fit = new LinkFit();
        for (int call = 0; call < calls; call++)
        {
            fit.Decay();
            foreach ((double rounds, double bytes) in Collectives(call))
            {
                fit.Add(rounds, bytes, seconds(call, rounds, bytes));
            }
        }

        return fit;
    }

    [Fact]
    public void Exact_timings_give_alpha_and_beta_back()
    {
        LinkEstimate estimate = Fit(20, (_, r, x) => (Alpha * r) + (Beta * x)).Estimate()!.Value;
        Assert.Equal(Alpha, estimate.LatencySeconds, Alpha * 1e-9);
        Assert.Equal(Beta, estimate.SecondsPerByte, Beta * 1e-9);
        Assert.True(estimate.SecondsPerByteError < Beta * 1e-6, $"standard error {estimate.SecondsPerByteError} of an exact fit");
    }

    /// <summary>
    /// Timings off by up to ε = 20 µs each (uniform, seeded). The estimate is linear in the timings, β̂ = Σ cᵢ tᵢ with
    /// cᵢ = wᵢ(Xᵢ·ΣwR² − Rᵢ·ΣwRX)/D (wᵢ the forgetting weight, D the normal equations' determinant), and likewise α̂,
    /// so each is off by at most ε·Σ|cᵢ|: the bound asserted, computed here from the points alone.
    /// </summary>
    [Fact]
    public void Bounded_noise_moves_the_estimate_at_most_by_its_worst_case_bound()
    {
        const int calls = 30;
        const double epsilon = 20e-6;
        var random = new Random(7);
        var noise = new double[calls * 3];
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = epsilon * ((2 * random.NextDouble()) - 1);
        }

        LinkEstimate estimate = Fit(calls, (call, r, x) => (Alpha * r) + (Beta * x) + noise[(call * 3) + (r == 6 ? 2 : x == 2400 ? 0 : 1)]).Estimate()!.Value;

        var points = new List<(double W, double R, double X)>();
        for (int call = 0; call < calls; call++)
        {
            double weight = Math.Pow(LinkFit.Forgetting, calls - 1 - call);
            points.AddRange(Collectives(call).Select(c => (weight, c.Rounds, c.Bytes)));
        }

        double rr = points.Sum(p => p.W * p.R * p.R), rx = points.Sum(p => p.W * p.R * p.X), xx = points.Sum(p => p.W * p.X * p.X);
        double determinant = (rr * xx) - (rx * rx);
        double betaBound = epsilon * points.Sum(p => Math.Abs(p.W * ((p.X * rr) - (p.R * rx)) / determinant));
        double alphaBound = epsilon * points.Sum(p => Math.Abs(p.W * ((p.R * xx) - (p.X * rx)) / determinant));
        Assert.InRange(estimate.SecondsPerByte, Beta - betaBound, Beta + betaBound);
        Assert.InRange(estimate.LatencySeconds, Alpha - alphaBound, Alpha + alphaBound);
        Assert.True(betaBound < 0.2 * Beta, $"the bound {betaBound} should be informative against β = {Beta}");
    }

    [Fact]
    public void Sizes_proportional_to_rounds_cannot_tell_alpha_from_beta()
    {
        var fit = new LinkFit();
        for (int call = 0; call < 10; call++)
        {
            fit.Decay();
            fit.Add(3, 3000, 0.001);
            fit.Add(6, 6000, 0.002);
        }

        Assert.Null(fit.Estimate());
    }

    /// <summary>
    /// Times that do not grow with the bytes (a latency-bound link plus ±20 µs noise): the fitted β is within two of its
    /// standard errors of 0, so no route is chosen on it (TimeRouting asks that a choice hold over β ± 2 errors).
    /// </summary>
    [Fact]
    public void A_slope_lost_in_noise_carries_an_error_as_large_as_itself()
    {
        var random = new Random(11);
        LinkEstimate estimate = Fit(30, (_, r, _) => (Alpha * r) + (20e-6 * ((2 * random.NextDouble()) - 1))).Estimate()!.Value;
        Assert.True(Math.Abs(estimate.SecondsPerByte) <= 2 * estimate.SecondsPerByteError, $"β {estimate.SecondsPerByte} ± {estimate.SecondsPerByteError}");
    }

    /// <summary>A fit whose intercept comes out negative is refitted through the origin: α = 0 and β = ΣwXt/ΣwX².</summary>
    [Fact]
    public void A_negative_latency_is_refitted_through_the_origin()
    {
        LinkFit fit = Fit(10, (_, r, x) => (Beta * x) - (1e-5 * r));
        LinkEstimate estimate = fit.Estimate()!.Value;
        double[] sums = fit.Sums;   // weight, squared weight, RR, RX, XX, Rt, Xt, tt
        Assert.Equal(0, estimate.LatencySeconds);
        Assert.Equal(sums[6] / sums[4], estimate.SecondsPerByte);
    }

    /// <summary>
    /// The link slows to half its rate: after 150 calls the old points weigh 0.95^150 ≈ 0.05 % of the new ones' total, so
    /// β is the new one within 1 %.
    /// </summary>
    [Fact]
    public void The_fit_follows_a_link_that_changes()
    {
        LinkEstimate estimate = Fit(200, (call, r, x) => (Alpha * r) + ((call < 50 ? Beta : 2 * Beta) * x)).Estimate()!.Value;
        Assert.Equal(2 * Beta, estimate.SecondsPerByte, 2 * Beta * 0.01);
    }

    [Fact]
    public void A_fit_restored_from_its_sums_estimates_the_same_bits()
    {
        LinkFit fit = Fit(12, (_, r, x) => (Alpha * r) + (Beta * x) + (1e-6 * x % 3));
        Assert.Equal(fit.Estimate(), LinkFit.FromSums(fit.Sums).Estimate());
    }
}
