using System.Globalization;
using System.Text;
using ScottPlot;

namespace AtomoCollectives.Examples.Bench;

/// <summary>Writes a <see cref="BenchRun"/>: a text table, CSV files and a PNG plot.</summary>
internal static class BenchReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The listing of a set's layer shapes, grouped (identical shapes once, with a count).</summary>
    public static string DescribeShapes(GradientSet set)
    {
        var text = new StringBuilder();
        text.Append(Invariant, $"{set.Description}: {set.Tensors.Count} tensors, {set.ParameterCount:N0} parameters ({set.ParameterCount * 4.0 / 1e6:F1} MB of float32)\n");
        text.Append("  shapes (count x shape, in order of first use; matrices as out x in or out x in x k x k):\n  ");
        text.AppendJoin(", ", set.GroupedShapes().Select(g => g.Count == 1 ? g.Shape.ToString() : $"{g.Count} x {g.Shape}"));
        text.Append('\n');
        return text.ToString();
    }

    /// <summary>Dense step time over <paramref name="result"/>'s, within the same set and rank count.</summary>
    public static double Speedup(IReadOnlyList<ConfigResult> results, ConfigResult result)
    {
        ConfigResult? dense = results.FirstOrDefault(r => r.Set == result.Set && r.Ranks == result.Ranks && r.Label == result.Label && r.Config == BenchConfigurations.Dense);
        return dense is null || result.StepSeconds <= 0 ? double.NaN : dense.StepSeconds / result.StepSeconds;
    }

    /// <summary>The table for one set, as monospace text.</summary>
    public static string Table(IReadOnlyList<ConfigResult> results, string set)
    {
        var rows = results.Where(r => r.Set == set).ToList();
        string[] header = ["config", "routing", "step ms", "encode ms", "exchange ms", "decode ms", "MB/rank", "out of node", "ratio", "speedup", "paired (CI)", "enc/read", "enc/read 1", "compressed", "dense by time"];
        var cells = new List<string[]> { header };
        foreach (ConfigResult r in rows)
        {
            cells.Add([
                r.Config,
                r.Routing.Length == 0 ? "-" : r.Routing,
                Ms(r.StepSeconds), Ms(r.EncodeSeconds), Ms(r.ExchangeSeconds), Ms(r.DecodeSeconds),
                (r.BytesPerRank / 1e6).ToString("F3", Invariant),
                (r.BetweenNodeBytesPerRank / 1e6).ToString("F3", Invariant),
                r.Config == BenchConfigurations.Dense ? "1" : r.Ratio.ToString("F1", Invariant),
                Speedup(results, r).ToString("F2", Invariant),
                PairedSpeedup.Of(results, r) is { } paired ? string.Create(Invariant, $"{paired.Median:F2} ({paired.Low:F2}-{paired.High:F2})") : "-",
                IsDense(r) ? "-" : r.EncodeOverRead.ToString("F1", Invariant),
                IsDense(r) ? "-" : r.IsolatedEncodeOverRead.ToString("F1", Invariant),
                IsDense(r) ? "-" : $"{r.CompressedTensors}/{r.Tensors}",
                r.Routing == "time" ? $"{r.DenseFasterTensors}/{r.Tensors}" : "-",
            ]);
        }

        int[] widths = [.. Enumerable.Range(0, header.Length).Select(c => cells.Max(row => row[c].Length))];
        var text = new StringBuilder();
        foreach (string[] row in cells)
        {
            text.Append(row[0].PadRight(widths[0]));
            for (int c = 1; c < row.Length; c++)
            {
                text.Append("  ").Append(row[c].PadLeft(widths[c]));
            }

            text.Append('\n');
            if (row == header)
            {
                text.Append(new string('-', widths.Sum() + (2 * (widths.Length - 1)))).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>Whether a result is of a dense configuration (nothing encoded): the baseline or the node-aware one.</summary>
    private static bool IsDense(ConfigResult result) => BenchConfigurations.IsDenseName(result.Config);

    /// <summary>The same table as GitHub markdown (for docs).</summary>
    public static string MarkdownTable(IReadOnlyList<ConfigResult> results, string set)
    {
        var text = new StringBuilder();
        text.Append("| config | routing | step ms | encode ms | exchange ms | decode ms | MB/rank | ratio to dense | speedup vs dense | paired vs better dense (CI) | encode/read (all ranks) | encode/read (one rank) | compressed | dense by time |\n");
        text.Append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (ConfigResult r in results.Where(r => r.Set == set))
        {
            bool dense = IsDense(r);
            text.Append(Invariant, $"| {r.Config} | {(dense ? "–" : r.Routing)} | {Ms(r.StepSeconds)} | {Ms(r.EncodeSeconds)} | {Ms(r.ExchangeSeconds)} | {Ms(r.DecodeSeconds)} | {r.BytesPerRank / 1e6:F3} | {(r.Config == BenchConfigurations.Dense ? "1" : r.Ratio.ToString("F1", Invariant))} | {Speedup(results, r):F2} | {Paired(PairedSpeedup.Of(results, r))} | {(dense ? "–" : r.EncodeOverRead.ToString("F1", Invariant))} | {(dense ? "–" : r.IsolatedEncodeOverRead.ToString("F1", Invariant))} | {(dense ? "–" : $"{r.CompressedTensors}/{r.Tensors}")} | {(r.Routing == "time" ? $"{r.DenseFasterTensors}/{r.Tensors}" : "–")} |\n");
        }

        return text.ToString();
    }

    /// <summary>Writes <c>bench-*.csv</c>, <c>tensors-*.csv</c>, <c>calibration-*.csv</c>, <c>bench-*.md</c> and <c>bench-*.png</c>; returns the paths.</summary>
    public static IReadOnlyList<string> Write(BenchRun run, string directory, string label, int ranks)
    {
        Directory.CreateDirectory(directory);
        string stem = $"{label}-n{ranks}";
        var paths = new List<string>();
        string configs = Path.Combine(directory, $"bench-{stem}.csv");
        File.WriteAllLines(configs, [ConfigResult.CsvHeader, .. run.Configs.Select(r => r.ToCsv(Speedup(run.Configs, r), PairedSpeedup.Of(run.Configs, r)))]);
        paths.Add(configs);
        string steps = Path.Combine(directory, $"steps-{stem}.csv");
        File.WriteAllLines(steps, ["label,set,config,ranks,round,step_s", .. run.Configs.SelectMany(r => r.StepTotals.Select((seconds, round) =>
            Csv.Join(r.Label, r.Set, r.Config, Csv.Number(r.Ranks), Csv.Number(round), Csv.Number(seconds))))]);
        paths.Add(steps);
        string tensors = Path.Combine(directory, $"tensors-{stem}.csv");
        File.WriteAllLines(tensors, [TensorResult.CsvHeader, .. run.Tensors.Select(t => t.ToCsv())]);
        paths.Add(tensors);
        if (run.Calibration.Count > 0)
        {
            string calibration = Path.Combine(directory, $"calibration-{stem}.csv");
            File.WriteAllLines(calibration, [CalibrationPoint.CsvHeader, .. run.Calibration.Select(p => p.ToCsv())]);
            paths.Add(calibration);
        }

        string markdown = Path.Combine(directory, $"bench-{stem}.md");
        File.WriteAllText(markdown, string.Concat(run.Configs.Select(r => r.Set).Distinct().Select(set => $"**{set}** ({GradientSets.DataKindOf(set)}), {label}, N = {ranks}\n\n{MarkdownTable(run.Configs, set)}\n")));
        paths.Add(markdown);
        string png = Path.Combine(directory, $"bench-{stem}.png");
        Plot(run.Configs, png, $"Time per step, {label}, N = {ranks}");
        paths.Add(png);
        return paths;
    }

    /// <summary>Stacked bars (encode, exchange, decode) per configuration, one group per set, as % of the set's dense step.</summary>
    public static void Plot(IReadOnlyList<ConfigResult> results, string path, string title)
    {
        var plot = new Plot();
        var sets = results.Select(r => r.Set).Distinct().ToList();
        var configs = results.Select(r => r.Config).Distinct().ToList();
        Color[] colors = [Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen];
        string[] parts = ["encode", "exchange", "decode"];
        var ticks = new List<Tick>();
        double position = 0;
        foreach (string set in sets)
        {
            ConfigResult? denseRow = results.FirstOrDefault(r => r.Set == set && r.Config == BenchConfigurations.Dense);
            double reference = denseRow?.StepSeconds ?? results.Where(r => r.Set == set).Max(r => r.StepSeconds);
            foreach (string config in configs)
            {
                ConfigResult? r = results.FirstOrDefault(x => x.Set == set && x.Config == config);
                if (r is null)
                {
                    continue;
                }

                // Each set scaled to its dense step (= 100) so that both fit one axis.
                double scale = 100.0 / reference;
                double[] values = [r.EncodeSeconds * scale, r.ExchangeSeconds * scale, r.DecodeSeconds * scale];
                double bottom = 0;
                for (int p = 0; p < 3; p++)
                {
                    plot.Add.Bar(new Bar { Position = position, ValueBase = bottom, Value = bottom + values[p], FillColor = colors[p] });
                    bottom += values[p];
                }

                ticks.Add(new Tick(position, $"{set}: {config}"));
                position++;
            }

            position += 0.5;
        }

        for (int p = 0; p < 3; p++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = parts[p], FillColor = colors[p] });
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 170;
        plot.Add.HorizontalLine(100, 1, Colors.Black, LinePattern.Dashed);
        plot.Axes.Left.Label.Text = "time per step, % of dense MPI_Allreduce on the same set";
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1200, 700);
    }

    /// <summary>"0.97 (0.85–1.10, 96 %) vs dense": the paired speedup, its interval and coverage, and the baseline; "–" without one.</summary>
    private static string Paired(PairedSpeedup? paired) =>
        paired is null ? "–" : string.Create(Invariant, $"{paired.Median:F2} ({paired.Low:F2}–{paired.High:F2}, {paired.Coverage * 100:F0} %) vs {paired.Baseline}");

    private static string Ms(double seconds) => (seconds * 1e3).ToString(seconds < 0.01 ? "F2" : "F1", Invariant);
}
