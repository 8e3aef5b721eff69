using System.Globalization;

namespace AtomoCollectives.Examples.Bench;

/// <summary>How the ranks share the network.</summary>
internal enum LinkSharing
{
    /// <summary>Every rank has its own full-duplex link into a non-blocking switch (a cluster).</summary>
    PerRank,

    /// <summary>All ranks' traffic crosses one link of the given rate (the emulation: one <c>tbf</c> on loopback).</summary>
    Shared,
}

/// <summary>α–β link parameters.</summary>
/// <param name="Alpha">Latency per message (s), software included.</param>
/// <param name="Beta">Seconds per byte on one link.</param>
/// <param name="Sharing">Per-rank links or one shared link.</param>
internal sealed record LinkParameters(double Alpha, double Beta, LinkSharing Sharing)
{
    /// <summary>
    /// Seconds per byte that one rank's send costs: β on its own link; N·β on a shared link, where the other N−1
    /// ranks send as much at the same time (every collective here is symmetric).
    /// </summary>
    public double EffectiveBeta(int ranks) => Sharing == LinkSharing.Shared ? ranks * Beta : Beta;
}

/// <summary>
/// What the model needs to know about one ATOMO configuration on one gradient set: per tensor, whether the policy
/// compresses it and its mean payload; one rank's encode time of the whole set; its decode time, which is
/// <c>DecodeFixedSeconds + N·DecodePerRankSeconds</c> for N payloads (a fixed part: clearing, the inverse transform or
/// the output write; a part per rank's payload).
/// </summary>
internal sealed record AtomoProfile(string Config, IReadOnlyList<TensorProfile> Tensors, double EncodeSeconds, double DecodeFixedSeconds, double DecodePerRankSeconds)
{
    /// <summary>The decode line through two timings: <paramref name="seconds1"/> at <paramref name="ranks1"/> payloads and <paramref name="seconds2"/> at <paramref name="ranks2"/> (both parts clamped at 0).</summary>
    public static (double Fixed, double PerRank) DecodeLine(int ranks1, double seconds1, int ranks2, double seconds2)
    {
        double perRank = Math.Max(0, (seconds2 - seconds1) / (ranks2 - ranks1));
        return (Math.Max(0, seconds1 - (ranks1 * perRank)), perRank);
    }
}

/// <summary>One tensor in an <see cref="AtomoProfile"/>.</summary>
/// <param name="Elements">Its element count.</param>
/// <param name="PayloadBytes">Mean payload when compressed.</param>
/// <param name="Compressible">Whether the policy compresses it (not small, not 1-D, and it went compressed when measured).</param>
internal sealed record TensorProfile(int Elements, double PayloadBytes, bool Compressible);

/// <summary>One predicted step, split like the measurements.</summary>
internal sealed record StepPrediction(double Encode, double Exchange, double Decode)
{
    public double Total => Encode + Exchange + Decode;
}

/// <summary>
/// The α–β cost model of one step.
/// Dense: one ring allreduce per tensor, <c>2(N−1)α + 2(N−1)/N·4n·β</c>, plus the measured divide.
/// ATOMO: encode (measured) + two small allgathers (header, lengths: <c>(N−1)α</c> each) + one allgatherv of the
/// payloads <c>(N−1)α + (N−1)·payload·β</c> + one ring allreduce of the tensors that go dense + decode of N
/// payloads (measured per rank's payload). A tensor goes dense when <c>(N−1)·payload ≥ 2(N−1)/N·4n</c>, the
/// library's own rule, so at large N ATOMO degrades to dense plus its encode cost.
/// On a shared link every byte term is multiplied by N (<see cref="LinkParameters.EffectiveBeta"/>); compute is
/// multiplied by <c>computeScale</c> (N/cores when ranks share cores).
/// </summary>
internal static partial class CostModel
{
    /// <summary>Ring allreduce of <paramref name="bytes"/> per rank.</summary>
    public static double RingAllreduce(int ranks, double bytes, LinkParameters link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (ranks <= 1)
        {
            return 0;
        }

        return (2.0 * (ranks - 1) * link.Alpha) + (AllreduceStatistics.RingAllreduceBytes(bytes / 4.0, ranks) * link.EffectiveBeta(ranks));
    }

    /// <summary>Allgather in which every rank contributes <paramref name="payloadBytes"/> (ring: N−1 rounds).</summary>
    public static double Allgather(int ranks, double payloadBytes, LinkParameters link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (ranks <= 1)
        {
            return 0;
        }

        return ((ranks - 1) * link.Alpha) + ((ranks - 1) * payloadBytes * link.EffectiveBeta(ranks));
    }

    /// <summary>Whether the library sends a tensor with this mean payload densely at <paramref name="ranks"/> ranks.</summary>
    public static bool GoesDense(int ranks, double payloadBytes, int elements) =>
        (ranks - 1) * payloadBytes >= AllreduceStatistics.RingAllreduceBytes(elements, ranks);

    /// <summary>
    /// Dense baseline plus <paramref name="divideSeconds"/>: one allreduce per tensor (as the bench measures it), or
    /// with <paramref name="fused"/> one allreduce of all of them (gradient bucketing, the best case for dense).
    /// </summary>
    public static StepPrediction Dense(int ranks, IReadOnlyList<int> tensorElements, LinkParameters link, double divideSeconds = 0, double computeScale = 1, bool fused = false)
    {
        ArgumentNullException.ThrowIfNull(tensorElements);
        double exchange = fused
            ? RingAllreduce(ranks, 4.0 * tensorElements.Sum(n => (long)n), link)
            : tensorElements.Sum(n => RingAllreduce(ranks, 4.0 * n, link));
        return new StepPrediction(0, exchange, divideSeconds * computeScale);
    }

    /// <summary>
    /// β by least squares (through the origin) over measured dense steps at several rank counts, given α: each
    /// step less its latency terms and divide, against its bytes term (ring bytes per rank, × N on a shared link).
    /// </summary>
    public static LinkParameters FitBetaFromDenseSteps(IReadOnlyList<(int Ranks, double StepSeconds, double DivideSeconds)> steps, IReadOnlyList<int> tensorElements, double alpha, LinkSharing sharing)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(tensorElements);
        double sxy = 0, sxx = 0;
        foreach ((int ranks, double step, double divide) in steps.Where(s => s.Ranks > 1))
        {
            double latency = tensorElements.Count * 2.0 * (ranks - 1) * alpha;
            double x = AllreduceStatistics.RingAllreduceBytes(tensorElements.Sum(n => (long)n), ranks) * (sharing == LinkSharing.Shared ? ranks : 1);
            sxy += x * Math.Max(step - latency - divide, 0);
            sxx += x * x;
        }

        if (sxx == 0)
        {
            throw new ArgumentException("Fitting β needs a dense step at 2 or more ranks.", nameof(steps));
        }

        return new LinkParameters(alpha, sxy / sxx, sharing);
    }

    /// <summary>
    /// β from one measured dense step (one ring allreduce per tensor) at <paramref name="ranks"/> ranks, given α: the
    /// step's time less its latency terms and the divide, over the ring's bytes per rank (over N on a shared link).
    /// </summary>
    public static LinkParameters FitBetaFromDense(int ranks, IReadOnlyList<int> tensorElements, double stepSeconds, double divideSeconds, double alpha, LinkSharing sharing)
    {
        ArgumentNullException.ThrowIfNull(tensorElements);
        double latency = tensorElements.Count * 2.0 * (ranks - 1) * alpha;
        double bytes = AllreduceStatistics.RingAllreduceBytes(tensorElements.Sum(n => (long)n), ranks);
        double perByte = Math.Max(stepSeconds - latency - divideSeconds, 0) / bytes;
        return new LinkParameters(alpha, sharing == LinkSharing.Shared ? perByte / ranks : perByte, sharing);
    }

    /// <summary>ATOMO: encode + header/length allgathers + payload allgatherv + dense remainder + decode of N payloads.</summary>
    public static StepPrediction Atomo(int ranks, AtomoProfile profile, LinkParameters link, double computeScale = 1)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(link);
        double payload = 0, denseBytes = 0;
        long compressedElements = 0;
        foreach (TensorProfile tensor in profile.Tensors)
        {
            if (tensor.Compressible && !GoesDense(ranks, tensor.PayloadBytes, tensor.Elements))
            {
                payload += tensor.PayloadBytes;
                compressedElements += tensor.Elements;
            }
            else
            {
                denseBytes += 4.0 * tensor.Elements;
            }
        }

        long compressible = profile.Tensors.Where(t => t.Compressible).Sum(t => (long)t.Elements);
        double exchange = ranks <= 1 ? 0 : (2.0 * (ranks - 1) * link.Alpha) + Allgather(ranks, payload, link) + (denseBytes > 0 ? RingAllreduce(ranks, denseBytes, link) : 0);
        double decodeShare = compressible == 0 ? 0 : (double)compressedElements / compressible;
        double decode = (profile.DecodeFixedSeconds + (ranks * profile.DecodePerRankSeconds)) * decodeShare * computeScale;
        return new StepPrediction(profile.EncodeSeconds * computeScale, exchange, decode);
    }

    /// <summary>
    /// α and β from dense allreduce timings at <paramref name="ranks"/> ranks: β from the least-squares slope of time
    /// against the ring's per-rank bytes (divided by N on a shared link), α from the two smallest messages.
    /// </summary>
    public static LinkParameters Fit(int ranks, IReadOnlyList<(double Bytes, double Seconds)> points, LinkSharing sharing)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (ranks < 2 || points.Count < 2)
        {
            throw new ArgumentException("Fitting α and β needs at least 2 ranks and 2 message sizes.", nameof(points));
        }

        double factor = AllreduceStatistics.RingAllreduceBytes(0.25, ranks);   // ring bytes per byte of message
        double[] x = [.. points.Select(p => factor * p.Bytes)];
        double[] y = [.. points.Select(p => p.Seconds)];
        double meanX = x.Average(), meanY = y.Average();
        double sxy = 0, sxx = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - meanX) * (y[i] - meanY);
            sxx += (x[i] - meanX) * (x[i] - meanX);
        }

        double slope = Math.Max(sxy / sxx, 0);

        // α from the two smallest messages (their byte terms taken off, and the smaller of the two kept: a
        // time-sliced machine inflates single timings, never shrinks them). Not from the large ones: tbf's burst lets
        // messages below it pass faster than the rate, which bends the line there.
        double alpha = Enumerable.Range(0, x.Length).OrderBy(i => x[i]).Take(2).Min(i => Math.Max(y[i] - (slope * x[i]), y[i] / 2)) / (2.0 * (ranks - 1));
        double beta = sharing == LinkSharing.Shared ? slope / ranks : slope;
        return new LinkParameters(alpha, beta, sharing);
    }

    /// <summary>Parses a tc-style rate (<c>1gbit</c>, <c>10gbit</c>, <c>500mbit</c>, <c>25Gbit</c>) to bits per second.</summary>
    /// <exception cref="FormatException">Not a rate.</exception>
    public static double ParseRate(string rate)
    {
        ArgumentNullException.ThrowIfNull(rate);
        string text = rate.Trim().ToLowerInvariant();
        (string suffix, double multiplier)[] units = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)];
        foreach ((string suffix, double multiplier) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0)
            {
                return value * multiplier;
            }
        }

        throw new FormatException($"'{rate}' is not a rate like 1gbit, 10gbit or 500mbit.");
    }
}
