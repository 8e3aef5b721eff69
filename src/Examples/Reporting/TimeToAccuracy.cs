using System.Globalization;
using System.Text;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Reporting;

/// <summary>
/// Time to accuracy, the paper's end-to-end measure: for each run, the first evaluation whose test accuracy reaches
/// the target, read at that evaluation's training wall seconds (evaluation time excluded); and the speedup of spectral
/// ATOMO over dense. <c>bench/netem-train.sh</c> reports it through <c>Examples report-train</c>.
/// </summary>
internal static class TimeToAccuracy
{
    /// <summary>How far below dense's final accuracy the default target is (one percentage point).</summary>
    public const double DefaultMargin = 0.01;

    /// <summary>One compressor's run: what it was asked to be, its summary and its per-step metrics.</summary>
    internal sealed record Run(Compressor Compressor, RunSummary Summary, IReadOnlyList<StepMetrics> Metrics);

    /// <summary>The first evaluation at or above the target.</summary>
    internal readonly record struct Reached(long Step, double TrainingWallSeconds, long BytesSentPerRank, double Accuracy);

    /// <summary>One row of the table.</summary>
    internal sealed record Row(Run Run, Reached? AtTarget, double? SpeedupOverDense)
    {
        public string Label => Run.Summary.Label;

        /// <summary>The last measured test accuracy (the summary's).</summary>
        public double FinalAccuracy => Run.Summary.FinalTestAccuracy;

        /// <summary>The best test accuracy any evaluation measured.</summary>
        public double BestAccuracy => Run.Metrics.Where(m => m.TestAccuracy is not null).Select(m => m.TestAccuracy!.Value).DefaultIfEmpty(double.NaN).Max();
    }

    /// <summary>The whole result: the target, one row per run (in the given order) and the speedup line's value.</summary>
    internal sealed record Result(double Target, IReadOnlyList<Row> Rows, double? Speedup, string? NoSpeedupReason);

    /// <summary>
    /// Checks what a run list (already parsed by <see cref="Compressor.ParseList"/>, which refuses repeats) must satisfy
    /// before any training: at least one run, and without an explicit target a dense run (the default target is read off it).
    /// </summary>
    /// <param name="targetPercent">The target in percent, or <see langword="null"/> for dense's final accuracy − 1 point.</param>
    /// <returns>The target as a fraction, or <see langword="null"/> when it is to be read off the dense run.</returns>
    /// <exception cref="ArgumentException">Any of the above is violated, or the target is not in (1, 100].</exception>
    public static double? CheckPlan(IReadOnlyList<Compressor> compressors, double? targetPercent)
    {
        if (compressors.Count == 0)
        {
            throw new ArgumentException("--runs names no compressor.");
        }

        if (targetPercent is double t && !(t > 1 && t <= 100))
        {
            // ≤ 1 is almost surely a fraction (0.85 for 85 %); a 10-class task's chance is 10 % anyway.
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--target-accuracy is in percent, above 1 and at most 100 (e.g. 85.5), not {t}."));
        }

        if (targetPercent is null && !compressors.Any(c => c.Kind == CompressorKind.Dense))
        {
            throw new ArgumentException("--runs has no dense run, so there is no default target (dense's final accuracy − 1 point): add dense to --runs or give --target-accuracy.");
        }

        return targetPercent / 100;
    }

    /// <summary>The first evaluation of <paramref name="metrics"/> with test accuracy ≥ <paramref name="target"/>, if any.</summary>
    public static Reached? FirstReaching(IReadOnlyList<StepMetrics> metrics, double target)
    {
        foreach (StepMetrics m in metrics)
        {
            if (m.TestAccuracy is double accuracy && accuracy >= target)
            {
                return new Reached(m.Step, m.TrainingWallSeconds, m.BytesSentPerRank, accuracy);
            }
        }

        return null;
    }

    /// <summary>
    /// Times to <paramref name="target"/> (or, when null, dense's final accuracy − 1 point), speedups over the first
    /// dense run, and the speedup of the first <c>atomo-spectral</c> run — or why there is none.
    /// </summary>
    /// <exception cref="ArgumentException">No target was given and dense has no final accuracy (it diverged before any evaluation).</exception>
    public static Result Compute(IReadOnlyList<Run> runs, double? target)
    {
        Run? dense = runs.FirstOrDefault(r => r.Compressor.Kind == CompressorKind.Dense);
        Run? spectral = runs.FirstOrDefault(r => r.Compressor.Kind == CompressorKind.AtomoSpectral);
        double chosen = target ?? DefaultTarget(dense ?? throw new ArgumentException("No target: give --target-accuracy or include a dense run."));
        Reached? denseAt = dense is null ? null : FirstReaching(dense.Metrics, chosen);
        Row[] rows = [.. runs.Select(run =>
        {
            Reached? at = FirstReaching(run.Metrics, chosen);
            double? speedup = at is { } a && denseAt is { } d && a.TrainingWallSeconds > 0 ? d.TrainingWallSeconds / a.TrainingWallSeconds : null;
            return new Row(run, at, speedup);
        })];
        Row? spectralRow = spectral is null ? null : rows[runs.ToList().IndexOf(spectral)];
        string percent = Percent(chosen);
        string? reason =
            spectralRow is null ? "no atomo-spectral run among --runs" :
            spectralRow.AtTarget is null ? $"{spectralRow.Label} never reached the target {percent} (best {Percent(spectralRow.BestAccuracy)})" :
            dense is null ? "no dense run among --runs to compare with" :
            denseAt is null ? $"dense never reached the target {percent} (best {Percent(rows[runs.ToList().IndexOf(dense)].BestAccuracy)})" :
            null;
        return new Result(chosen, rows, reason is null ? spectralRow!.SpeedupOverDense : null, reason);
    }

    /// <summary>The last line of <c>bench/netem-train.sh</c>: <c>speedup_to_accuracy=X</c> or <c>speedup_to_accuracy=none</c>.</summary>
    public static string SpeedupLine(Result result) =>
        result.Speedup is double x ? string.Create(CultureInfo.InvariantCulture, $"speedup_to_accuracy={x:F2}") : "speedup_to_accuracy=none";

    public static string Markdown(Result result)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"Target: {Percent(result.Target)} test accuracy. Time is training wall-clock seconds (evaluations excluded), bytes are sent per rank.");
        table.AppendLine();
        table.AppendLine("| run | time to target s | step | MB sent / rank to target | final accuracy | MB sent / rank | training wall s | speedup over dense |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Row row in result.Rows)
        {
            RunSummary s = row.Run.Summary;
            string final = Percent(row.FinalAccuracy) + (s.Diverged ? $" (diverged at step {s.Steps + 1})" : "");
            string wall = (s.WallSeconds - s.EvaluationSeconds).ToString("F1", CultureInfo.InvariantCulture);
            table.AppendLine(row.AtTarget is { } at
                ? string.Create(CultureInfo.InvariantCulture, $"| {row.Label} | {at.TrainingWallSeconds:F1} | {at.Step} | {at.BytesSentPerRank / 1e6:F2} | {final} | {s.BytesSentPerRank / 1e6:F2} | {wall} | {(row.SpeedupOverDense is double x ? $"{x:F2}×" : "–")} |")
                : string.Create(CultureInfo.InvariantCulture, $"| {row.Label} | not reached | – | – | {final} | {s.BytesSentPerRank / 1e6:F2} | {wall} | – |"));
        }

        return table.ToString();
    }

    public const string CsvHeader = "run,compressor,targetAccuracy,reachedTarget,secondsToTarget,stepToTarget,bytesSentPerRankToTarget,finalTestAccuracy,bytesSentPerRank,trainingWallSeconds,speedupOverDense";

    /// <summary>The table as CSV: empty fields where the target was not reached.</summary>
    public static string Csv(Result result)
    {
        var csv = new StringBuilder().AppendLine(CsvHeader);
        foreach (Row row in result.Rows)
        {
            RunSummary s = row.Run.Summary;
            Reached? at = row.AtTarget;
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{row.Label},{s.Compressor},{result.Target:G6},{(at is null ? "false" : "true")},{at?.TrainingWallSeconds:G6},{at?.Step},{at?.BytesSentPerRank},{s.FinalTestAccuracy:G6},{s.BytesSentPerRank},{s.WallSeconds - s.EvaluationSeconds:G6},{row.SpeedupOverDense:G6}"));
        }

        return csv.ToString();
    }

    private static double DefaultTarget(Run dense)
    {
        double final = dense.Summary.FinalTestAccuracy;
        if (!double.IsFinite(final))
        {
            throw new ArgumentException($"The dense run has no final test accuracy ({(dense.Summary.Diverged ? "it diverged" : "none was measured")}), so there is no default target: give --target-accuracy.");
        }

        return final - DefaultMargin;
    }

    private static string Percent(double fraction) => string.Create(CultureInfo.InvariantCulture, $"{100 * fraction:F2} %");
}
