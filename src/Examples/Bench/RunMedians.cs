namespace AtomoCollectives.Examples.Bench;

/// <summary>What one bench run wrote for one label: its configurations' rows, their tensors and its calibration.</summary>
internal sealed record BenchRunFiles(string Source, IReadOnlyList<ConfigResult> Results, IReadOnlyList<TensorResult> Tensors, IReadOnlyList<CalibrationPoint> Calibration);

/// <summary>
/// Several runs of one bench command as one (<c>bench model --input A --input B …</c>): every timing the median over
/// the runs. On a shared, time-sliced machine one run's steps and calibration can drift by more than the model's error
/// goal (<c>dense</c> took 119.7 ms in one run and 152.1 ms in another, same command), so the model is checked against
/// what the runs agree on rather than against one of them.
/// </summary>
internal static class RunMedians
{
    /// <summary>
    /// The median run: per configuration and N, each timing and byte count the median over <paramref name="runs"/>; per
    /// tensor, the route most runs took and its median payload; per calibration point, the median time.
    /// </summary>
    /// <exception cref="ArgumentException">The runs did not measure the same configurations, N and calibration points (not runs of one command).</exception>
    public static BenchRunFiles Of(IReadOnlyList<BenchRunFiles> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            throw new ArgumentException("No run to take medians of.", nameof(runs));
        }

        if (runs.Count == 1)
        {
            return runs[0];
        }

        RequireSameKeys(runs, run => run.Results.Select(r => $"{r.Set} {r.Config} N = {r.Ranks}"), "configuration");
        RequireSameKeys(runs, run => run.Calibration.Select(p => $"{p.Level} N = {p.Ranks} ({p.GroupRanks} ranks) {p.Bytes} B"), "calibration point");
        string source = $"medians of {runs.Count} runs ({string.Join(", ", runs.Select(r => r.Source))})";

        List<ConfigResult> results = [.. runs[0].Results.Select(first => MedianResult(
            [.. runs.Select(run => run.Results.Single(r => r.Set == first.Set && r.Config == first.Config && r.Ranks == first.Ranks))]))];
        List<CalibrationPoint> calibration = [.. runs[0].Calibration.Select(first => first with
        {
            Seconds = Median(runs.Select(run => run.Calibration.Single(p => p.Level == first.Level && p.Ranks == first.Ranks && p.GroupRanks == first.GroupRanks && p.Bytes == first.Bytes).Seconds)),
        })];
        List<TensorResult> tensors = [.. runs.SelectMany(run => run.Tensors)
            .GroupBy(t => (t.Set, t.Config, t.Ranks, t.Index))
            .OrderBy(g => g.Key)
            .Select(MedianTensor)];
        return new BenchRunFiles(source, results, tensors, calibration);
    }

    /// <summary>The median of the finite <paramref name="values"/> (the mean of the middle two of an even count); NaN when none is finite.</summary>
    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Where(double.IsFinite).Order()];
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static ConfigResult MedianResult(IReadOnlyList<ConfigResult> rows)
    {
        double Of(Func<ConfigResult, double> field) => Median(rows.Select(field));
        int OfInt(Func<ConfigResult, int> field) => (int)Math.Round(Median(rows.Select(r => (double)field(r))), MidpointRounding.AwayFromZero);
        return rows[0] with
        {
            StepSeconds = Of(r => r.StepSeconds),
            MinStepSeconds = Of(r => r.MinStepSeconds),
            EncodeSeconds = Of(r => r.EncodeSeconds),
            ExchangeSeconds = Of(r => r.ExchangeSeconds),
            DecodeSeconds = Of(r => r.DecodeSeconds),
            BytesPerRank = Of(r => r.BytesPerRank),
            PayloadBytesPerRank = Of(r => r.PayloadBytesPerRank),
            ReadOnceSeconds = Of(r => r.ReadOnceSeconds),
            IsolatedEncodeSeconds = Of(r => r.IsolatedEncodeSeconds),
            IsolatedReadOnceSeconds = Of(r => r.IsolatedReadOnceSeconds),
            IsolatedDecodeSecondsAt2 = Of(r => r.IsolatedDecodeSecondsAt2),
            IsolatedDecodeSecondsAt8 = Of(r => r.IsolatedDecodeSecondsAt8),
            BetweenNodeBytesPerRank = Of(r => r.BetweenNodeBytesPerRank),
            CompressedTensors = OfInt(r => r.CompressedTensors),
            DenseFasterTensors = OfInt(r => r.DenseFasterTensors),
            StepTotals = [],
        };
    }

    /// <summary>The route most runs took (ties: the first run's), with the median payload of the runs that took it.</summary>
    private static TensorResult MedianTensor(IEnumerable<TensorResult> runs)
    {
        TensorResult[] rows = [.. runs];
        string route = rows.GroupBy(t => t.Route).OrderByDescending(g => g.Count()).ThenBy(g => Array.FindIndex(rows, t => t.Route == g.Key)).First().Key;
        TensorResult[] taken = [.. rows.Where(t => t.Route == route)];
        return taken[0] with
        {
            PayloadBytes = Median(taken.Select(t => t.PayloadBytes)),
            PredictedDenseSeconds = Median(taken.Select(t => t.PredictedDenseSeconds)),
            PredictedCompressedSeconds = Median(taken.Select(t => t.PredictedCompressedSeconds)),
        };
    }

    private static void RequireSameKeys(IReadOnlyList<BenchRunFiles> runs, Func<BenchRunFiles, IEnumerable<string>> keys, string what)
    {
        string[] first = [.. keys(runs[0]).Order(StringComparer.Ordinal)];
        foreach (BenchRunFiles run in runs.Skip(1))
        {
            string[] other = [.. keys(run).Order(StringComparer.Ordinal)];
            if (first.Length != other.Length || first.Distinct().Count() != first.Length || !first.SequenceEqual(other))
            {
                string missing = string.Join(", ", first.Except(other).Concat(other.Except(first)).Take(3));
                throw new ArgumentException($"The runs in {runs[0].Source} and {run.Source} are not runs of one bench command: their {what}s differ ({(missing.Length > 0 ? missing : "a repeated " + what)}). Give bench model runs of the same command.", nameof(runs));
            }
        }
    }
}
