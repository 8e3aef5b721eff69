using System.Globalization;
using System.Text;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Reporting;

/// <summary>The outputs of <c>compare</c>: three plots (test accuracy vs step, vs training seconds and vs bytes sent) and a table.</summary>
internal static class ComparisonReport
{
    /// <summary>One compressor's run: its summary and its per-step metrics.</summary>
    internal sealed record Run(RunSummary Summary, IReadOnlyList<StepMetrics> Metrics);

    /// <summary>
    /// Writes accuracy-vs-step.png, accuracy-vs-seconds.png (training wall-clock seconds, evaluations excluded: the
    /// paper's figure) and accuracy-vs-bytes.png; with a <paramref name="target"/> (a fraction), a dashed line marks it.
    /// </summary>
    public static void WritePlots(IReadOnlyList<Run> runs, string directory, double? target = null)
    {
        var byStep = new ScottPlot.Plot();
        var bySeconds = new ScottPlot.Plot();
        var byBytes = new ScottPlot.Plot();
        foreach (Run run in runs)
        {
            StepMetrics[] evaluated = [.. run.Metrics.Where(m => m.TestAccuracy is not null)];
            double[] accuracy = [.. evaluated.Select(m => 100 * m.TestAccuracy!.Value)];
            ScottPlot.Plottables.Scatter stepLine = byStep.Add.Scatter(evaluated.Select(m => (double)m.Step).ToArray(), accuracy);
            stepLine.LegendText = run.Summary.Label;
            ScottPlot.Plottables.Scatter secondsLine = bySeconds.Add.Scatter(evaluated.Select(m => m.TrainingWallSeconds).ToArray(), accuracy);
            secondsLine.LegendText = run.Summary.Label;
            ScottPlot.Plottables.Scatter bytesLine = byBytes.Add.Scatter(evaluated.Select(m => Math.Log10(Math.Max(1, m.BytesSentPerRank))).ToArray(), accuracy);
            bytesLine.LegendText = run.Summary.Label;
        }

        if (target is double t)
        {
            foreach (ScottPlot.Plot plot in new[] { byStep, bySeconds, byBytes })
            {
                ScottPlot.Plottables.HorizontalLine line = plot.Add.HorizontalLine(100 * t);
                line.LinePattern = ScottPlot.LinePattern.Dashed;
                line.LegendText = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"target {100 * t:F2} %");
            }
        }

        string title = runs.Count > 0 ? $"{runs[0].Summary.Model}, {runs[0].Summary.Ranks} ranks" : "";
        byStep.Title($"Test accuracy vs step — {title}");
        byStep.XLabel("step");
        byStep.YLabel("Fashion-MNIST test accuracy (%)");
        byStep.ShowLegend(ScottPlot.Alignment.LowerRight);
        byStep.SavePng(Path.Combine(directory, "accuracy-vs-step.png"), 1000, 600);

        bySeconds.Title($"Test accuracy vs training time — {title}");
        bySeconds.XLabel("training wall-clock seconds (evaluations excluded)");
        bySeconds.YLabel("Fashion-MNIST test accuracy (%)");
        bySeconds.ShowLegend(ScottPlot.Alignment.LowerRight);
        bySeconds.SavePng(Path.Combine(directory, "accuracy-vs-seconds.png"), 1000, 600);

        byBytes.Title($"Test accuracy vs bytes sent per rank — {title}");
        byBytes.XLabel("bytes sent per rank (log10)");
        byBytes.YLabel("Fashion-MNIST test accuracy (%)");
        byBytes.ShowLegend(ScottPlot.Alignment.LowerRight);
        byBytes.SavePng(Path.Combine(directory, "accuracy-vs-bytes.png"), 1000, 600);
    }

    /// <summary>A Markdown table: accuracy, bytes, reduction vs dense and time split per compressor.</summary>
    public static string Table(IReadOnlyList<RunSummary> runs)
    {
        var table = new StringBuilder();
        table.AppendLine("| compressor | test accuracy | bytes sent / rank | fewer bytes than dense | bytes received / rank | wall s | compute s | encode s | exchange s | decode s |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (RunSummary r in runs)
        {
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Label} | {100 * r.FinalTestAccuracy:F2} %{(r.Diverged ? $" (diverged at step {r.Steps + 1})" : "")} | {Megabytes(r.BytesSentPerRank)} | {r.CompressionRatio:F1}× | {Megabytes(r.BytesReceivedPerRank)} | {r.WallSeconds:F1} | {r.ComputeSeconds:F1} | {r.EncodeSeconds:F1} | {r.ExchangeSeconds:F1} | {r.DecodeSeconds:F1} |"));
        }

        return table.ToString();
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F2} MB");
}
