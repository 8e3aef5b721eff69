using System.Globalization;
using System.Text;
using ScottPlot;

namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// <c>bench model</c>: fits <see cref="CostModel"/> to the emulated runs of one label (α, β from the smallest N's
/// calibration; encode, decode and payloads from its bench rows), reports the model's error at every measured N,
/// and projects dense vs ATOMO to N = 2 … 1024 at 1/10/25/100 Gbit/s.
/// </summary>
internal static partial class CostModelReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The projected link rates, bits per second.</summary>
    public static IReadOnlyList<double> ProjectedRates { get; } = [1e9, 10e9, 25e9, 100e9];

    /// <summary>The projected rank counts, 2 … 1024.</summary>
    public static IReadOnlyList<int> ProjectedRanks { get; } = [.. Enumerable.Range(1, 10).Select(k => 1 << k)];

    /// <summary>
    /// Fits, checks and projects the model from the bench's files of <paramref name="label"/> in <paramref name="inputs"/>:
    /// one directory per run of one bench command, several checked against their medians (<see cref="RunMedians"/>).
    /// </summary>
    public static int Run(IReadOnlyList<string> inputs, string label, double rateBitsPerSecond, int cores, string setName, string output, double clusterAlpha, long? captureStep = null, double nodeBytesPerSecond = 0, int nodeGroupSize = 0)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        GradientSet set = GradientSets.Resolve(setName, captureStep);
        var runs = new List<BenchRunFiles>();
        foreach (string input in inputs)
        {
            var run = new BenchRunFiles(
                input,
                [.. Files(input, $"bench-{label}-n*.csv").SelectMany(f => Csv.Read(f).Select(ConfigResult.Parse)).Where(r => r.Set == set.Name)],
                [.. Files(input, $"tensors-{label}-n*.csv").SelectMany(f => Csv.Read(f).Select(TensorResult.Parse)).Where(t => t.Set == set.Name)],
                [.. Files(input, $"calibration-{label}-n*.csv").SelectMany(f => Csv.Read(f).Select(CalibrationPoint.Parse))]);
            if (run.Results.Count == 0 || run.Calibration.Count == 0)
            {
                Console.Error.WriteLine($"bench model: no bench-{label}-n*.csv with '{set.Name}' rows and calibration-{label}-n*.csv in {input}; run bench/netem.sh first.");
                return 2;
            }

            runs.Add(run);
        }

        BenchRunFiles median = RunMedians.Of(runs);
        var results = median.Results.ToList();
        var tensors = median.Tensors.ToList();
        var calibration = median.Calibration.ToList();
        static bool Modelled(ConfigResult result) => result.Config != BenchConfigurations.DensePieces;   // a bench-side baseline the model has no terms for
        results.RemoveAll(r => !Modelled(r));
        if (calibration.Any(p => p.Level == CalibrationLevel.Rail))
        {
            NodeRuns Nodes(BenchRunFiles run) => new(label, set, [.. run.Results.Where(Modelled)], run.Tensors, run.Calibration) { Source = run.Source };
            return RunNodes(Nodes(median), [.. runs.Select(Nodes)], rateBitsPerSecond, cores, output, clusterAlpha, nodeBytesPerSecond, nodeGroupSize);
        }

        // One node: dense-node is dense over one node (flat), which the one-link model does not time apart.
        results.RemoveAll(r => r.Config == BenchConfigurations.DenseNode);
        calibration.RemoveAll(p => p.Level != CalibrationLevel.World);

        int fitRanks = calibration.Select(p => p.Ranks).Where(n => results.Any(r => r.Ranks == n)).Min();
        var baseline = results.Where(r => r.Ranks == fitRanks).ToList();
        ConfigResult dense = baseline.Single(r => r.Config == BenchConfigurations.Dense);
        int[] elements = [.. set.Tensors.Select(t => t.Shape.ElementCount)];

        // α: the smallest per-message latency any N's calibration implies; β: least squares over the dense steps of
        // every measured N. Both are minimum-noise estimators on a time-sliced machine: a busy moment inflates one
        // timing, never shrinks it, and one loaded run must not set the whole model.
        double alpha = calibration.GroupBy(p => p.Ranks)
            .Min(g => CostModel.Fit(g.Key, [.. g.Select(p => ((double)p.Bytes, p.Seconds))], LinkSharing.Shared).Alpha);
        LinkParameters emulated = CostModel.FitBetaFromDenseSteps(
            [.. results.Where(r => r.Config == BenchConfigurations.Dense).Select(r => (r.Ranks, r.StepSeconds, r.DecodeSeconds))], elements, alpha, LinkSharing.Shared);
        double nominalBeta = 8.0 / rateBitsPerSecond;
        double efficiency = nominalBeta / emulated.Beta;
        var profiles = baseline.Where(r => r.Config != BenchConfigurations.Dense)
            .Select(r => Profile(r, results.Where(m => m.Config == r.Config).ToList(), tensors.Where(t => t.Ranks == fitRanks && t.Config == r.Config).ToList())).ToList();
        var report = new StringBuilder();
        report.Append(Invariant, $"# Cost model: {set.Description}, label {label}\n\n");
        report.Append(MediansNote([.. runs.Select(r => r.Source)]));
        report.Append(Invariant, $"Emulated link (one tbf shared by all ranks, so every byte term is x N): alpha = {emulated.Alpha * 1e6:F1} us (the smallest latency the calibrations at N = {string.Join(", ", calibration.Select(p => p.Ranks).Distinct().Order())} imply), ");
        report.Append(Invariant, $"beta = {emulated.Beta * 1e9:F3} ns/B, i.e. {8 / emulated.Beta / 1e9:F3} Gbit/s goodput ({efficiency * 100:F0} % of the nominal {rateBitsPerSecond / 1e9:G3} Gbit/s; least squares over the dense steps).\n");
        report.Append(Invariant, $"Compute measured on one rank with no other rank running (replica communicator; the least-loaded of the runs): encode, and decode = fixed + N x per-payload from N = {CollectiveBench.IsolatedDecodeRanks[0]} and {CollectiveBench.IsolatedDecodeRanks[1]}; ");
        report.Append(Invariant, $"in the emulation scaled by max(1, N/{cores}) ({cores} cores shared by N ranks). Payloads per tensor from the N = {fitRanks} run.\n\n");
        report.Append("| config | encode ms | decode ms, fixed | decode ms per payload | payload MB per rank | compressed tensors |\n|---|---:|---:|---:|---:|---:|\n");
        foreach (AtomoProfile profile in profiles)
        {
            double payload = profile.Tensors.Where(t => t.Compressible && !CostModel.GoesDense(fitRanks, t.PayloadBytes, t.Elements)).Sum(t => t.PayloadBytes);
            report.Append(Invariant, $"| {profile.Config} | {profile.EncodeSeconds * 1e3:F1} | {profile.DecodeFixedSeconds * 1e3:F1} | {profile.DecodePerRankSeconds * 1e3:F2} | {payload / 1e6:F3} | {profile.Tensors.Count(t => t.Compressible)}/{profile.Tensors.Count} |\n");
        }

        report.Append('\n');
        // Error against every measured N.
        report.Append("## Model vs measured (emulated link)\n\n| N | config | measured ms | model ms | error |\n|---:|---|---:|---:|---:|\n");
        var errorRows = new List<string> { "label,set,ranks,config,measured_s,model_s,relative_error" };
        foreach (ConfigResult measured in results.OrderBy(r => r.Ranks).ThenBy(r => Order(r.Config)))
        {
            double computeScale = Math.Max(1.0, measured.Ranks / (double)cores);
            StepPrediction predicted = measured.Config == BenchConfigurations.Dense
                ? CostModel.Dense(measured.Ranks, elements, emulated, dense.DecodeSeconds)
                : CostModel.Atomo(measured.Ranks, profiles.Single(p => p.Config == measured.Config), emulated, computeScale);
            double error = (predicted.Total - measured.StepSeconds) / measured.StepSeconds;
            report.Append(Invariant, $"| {measured.Ranks} | {measured.Config} | {measured.StepSeconds * 1e3:F1} | {predicted.Total * 1e3:F1} | {SignedPercent(error)} |\n");
            errorRows.Add(Csv.Join(label, set.Name, Csv.Number(measured.Ranks), measured.Config, Csv.Number(measured.StepSeconds), Csv.Number(predicted.Total), Csv.Number(error)));
        }

        // Projection to clusters: per-rank links at 1/10/25/100 Gbit/s, an assumed cluster alpha, the measured goodput efficiency, one core per rank.
        report.Append(Invariant, $"\n## Projection: per-rank links (non-blocking switch), alpha = {clusterAlpha * 1e6:F1} us (assumed; the emulation fitted {emulated.Alpha * 1e6:F1} us on loopback), {efficiency * 100:F0} % of the nominal rate, one core per rank; dense = one fused ring allreduce of all gradients (bucketed, its best case)\n\n");
        var projectionRows = new List<string> { "rate_gbit,ranks,config,encode_s,exchange_s,decode_s,step_s,speedup_vs_dense" };
        var series = new Dictionary<(double Rate, string Config), double[]>();
        foreach (double rate in ProjectedRates)
        {
            var link = new LinkParameters(clusterAlpha, 8.0 / rate / efficiency, LinkSharing.PerRank);
            double[] denseTimes = [.. ProjectedRanks.Select(n => CostModel.Dense(n, elements, link, dense.DecodeSeconds, fused: true).Total)];
            series[(rate, BenchConfigurations.Dense)] = denseTimes;
            for (int i = 0; i < ProjectedRanks.Count; i++)
            {
                projectionRows.Add(Csv.Join(Csv.Number(rate / 1e9), Csv.Number(ProjectedRanks[i]), BenchConfigurations.Dense, "0", Csv.Number(denseTimes[i] - dense.DecodeSeconds), Csv.Number(dense.DecodeSeconds), Csv.Number(denseTimes[i]), "1"));
            }

            foreach (AtomoProfile profile in profiles)
            {
                var times = new double[ProjectedRanks.Count];
                for (int i = 0; i < ProjectedRanks.Count; i++)
                {
                    StepPrediction p = CostModel.Atomo(ProjectedRanks[i], profile, link);
                    times[i] = p.Total;
                    projectionRows.Add(Csv.Join(Csv.Number(rate / 1e9), Csv.Number(ProjectedRanks[i]), profile.Config, Csv.Number(p.Encode), Csv.Number(p.Exchange), Csv.Number(p.Decode), Csv.Number(p.Total), Csv.Number(denseTimes[i] / p.Total)));
                }

                series[(rate, profile.Config)] = times;
            }
        }

        report.Append("Speedup of each ATOMO configuration over dense ring allreduce (>1: ATOMO wins), and where it wins:\n\n");
        report.Append("| config | Gbit/s | N=2 | N=8 | N=32 | N=128 | N=1024 | ATOMO faster for |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
        foreach (AtomoProfile profile in profiles)
        {
            foreach (double rate in ProjectedRates)
            {
                double[] speedups = [.. Enumerable.Range(0, ProjectedRanks.Count).Select(i => series[(rate, BenchConfigurations.Dense)][i] / series[(rate, profile.Config)][i])];
                string At(int n) => speedups[ProjectedRanks.ToList().IndexOf(n)].ToString("F2", Invariant);
                report.Append(Invariant, $"| {profile.Config} | {rate / 1e9:G3} | {At(2)} | {At(8)} | {At(32)} | {At(128)} | {At(1024)} | {WinRange(speedups)} |\n");
            }
        }

        Write(output, label, set, report, errorRows, projectionRows, png => PlotProjection(series, png, $"Cost model, {set.Description}: time per step", ProjectedRanks, "ranks N (log scale)", [BenchConfigurations.Dense, BenchConfigurations.SpectralThree, "qsgd"]));
        return 0;
    }

    /// <summary>Writes the report, its two CSVs and its plot (drawn by <paramref name="plot"/> to the path it is given), and prints the report.</summary>
    private static void Write(string output, string label, GradientSet set, StringBuilder report, List<string> errorRows, List<string> projectionRows, Action<string> plot)
    {
        Directory.CreateDirectory(output);
        string stem = $"{label}-{set.Name.Replace(':', '-')}"; // capture:mlp-step400 -> capture-mlp-step400 (no colon in file names)
        File.WriteAllLines(Path.Combine(output, $"model-error-{stem}.csv"), errorRows);
        File.WriteAllLines(Path.Combine(output, $"model-projection-{stem}.csv"), projectionRows);
        File.WriteAllText(Path.Combine(output, $"model-{stem}.md"), report.ToString());
        string png = Path.Combine(output, $"model-{stem}.png");
        plot(png);
        Console.Write(report.ToString());
        Console.WriteLine($"\nwrote {Path.Combine(output, $"model-{stem}.md")}, model-error-{stem}.csv, model-projection-{stem}.csv, {png}");
    }

    /// <summary>
    /// The model's view of one ATOMO configuration: payloads from <paramref name="tensors"/> (one run), compute from
    /// the isolated timings of <paramref name="runs"/> (the same quantities measured in each run; the smallest of each).
    /// </summary>
    internal static AtomoProfile Profile(ConfigResult measured, IReadOnlyList<ConfigResult> runs, IReadOnlyList<TensorResult> tensors)
    {
        var perTensor = tensors.OrderBy(t => t.Index).Select(t => t.Route switch
        {
            nameof(TensorRoute.Compressed) => new TensorProfile(t.Elements, t.PayloadBytes, true),
            nameof(TensorRoute.DenseCheaper) => new TensorProfile(t.Elements, 4.0 * t.Elements, true),
            _ => new TensorProfile(t.Elements, 0, false),
        }).ToList();
        double Smallest(Func<ConfigResult, double> field) => runs.Select(field).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min();
        (double fixedPart, double perRank) = AtomoProfile.DecodeLine(
            CollectiveBench.IsolatedDecodeRanks[0], Smallest(r => r.IsolatedDecodeSecondsAt2), CollectiveBench.IsolatedDecodeRanks[1], Smallest(r => r.IsolatedDecodeSecondsAt8));
        return new AtomoProfile(measured.Config, perTensor, Smallest(r => r.IsolatedEncodeSeconds), fixedPart, perRank);
    }

    /// <summary>"N ≤ 64", "all N", "no N", or a list of ranges, from speedups over <see cref="ProjectedRanks"/>.</summary>
    internal static string WinRange(IReadOnlyList<double> speedups) => WinRange(speedups, ProjectedRanks, "N");

    /// <summary>Where the speedups over <paramref name="axis"/> (named <paramref name="symbol"/>) exceed 1: "N ≤ 64", "all N (2-1024)", "no N", "N ≥ 8" or a list.</summary>
    internal static string WinRange(IReadOnlyList<double> speedups, IReadOnlyList<int> axis, string symbol)
    {
        ArgumentNullException.ThrowIfNull(speedups);
        ArgumentNullException.ThrowIfNull(axis);
        var wins = Enumerable.Range(0, speedups.Count).Where(i => speedups[i] > 1).Select(i => axis[i]).ToList();
        if (wins.Count == 0)
        {
            return $"no {symbol}";
        }

        if (wins.Count == speedups.Count)
        {
            return $"all {symbol} ({axis[0]}-{axis[^1]})";
        }

        int first = axis.ToList().IndexOf(wins[0]);
        bool contiguous = wins.SequenceEqual(axis.Skip(first).Take(wins.Count));
        if (contiguous && first == 0)
        {
            return $"{symbol} <= {wins[^1]}";
        }

        if (contiguous && first + wins.Count == axis.Count)
        {
            return $"{symbol} >= {wins[0]}";
        }

        return $"{symbol} in {{{string.Join(", ", wins)}}}";
    }

    /// <summary>Time per step of the <paramref name="shown"/> configurations (solid, dashed, dotted) at each projected rate (a colour each), over <paramref name="axis"/> (log scales).</summary>
    private static void PlotProjection(Dictionary<(double Rate, string Config), double[]> series, string path, string title, IReadOnlyList<int> axis, string axisLabel, string[] shown)
    {
        var plot = new Plot();
        double[] xs = [.. axis.Select(n => Math.Log2(n))];
        Color[] palette = [Colors.Black, Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen];
        LinePattern[] patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted];
        for (int r = 0; r < ProjectedRates.Count; r++)
        {
            for (int c = 0; c < shown.Length; c++)
            {
                if (!series.TryGetValue((ProjectedRates[r], shown[c]), out double[]? times))
                {
                    continue;
                }

                var line = plot.Add.ScatterLine(xs, [.. times.Select(Math.Log10)]);
                line.Color = palette[r];
                line.LinePattern = patterns[c];
                line.LineWidth = 2;
                line.MarkerSize = 4;
                line.LegendText = $"{shown[c]}, {ProjectedRates[r] / 1e9:G3} Gbit/s";
            }
        }

        var xTicks = new ScottPlot.TickGenerators.NumericManual();
        foreach (int n in axis)
        {
            xTicks.AddMajor(Math.Log2(n), n.ToString(Invariant));
        }

        plot.Axes.Bottom.TickGenerator = xTicks;
        var yTicks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => FormatSeconds(Math.Pow(10, y)),
        };
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.Bottom.Label.Text = axisLabel;
        plot.Axes.Left.Label.Text = "time per step (log scale)";
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.15);
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1100, 750);
    }

    private static string FormatSeconds(double seconds) =>
        seconds >= 1 ? $"{seconds.ToString("G3", Invariant)} s" : seconds >= 1e-3 ? $"{(seconds * 1e3).ToString("G3", Invariant)} ms" : $"{(seconds * 1e6).ToString("G3", Invariant)} us";

    /// <summary>The report's note that its times are medians over <paramref name="sources"/> (several runs of one command); empty for one run.</summary>
    private static string MediansNote(IReadOnlyList<string> sources) => sources.Count < 2 ? ""
        : string.Create(Invariant, $"Every time below, measured and fitted, is the median of {sources.Count} runs of one command ({string.Join(", ", sources)}): one run's steps and calibration can drift by more than the model's error goal on a shared machine.\n\n");

    /// <summary>"+3%", "-12%", "0%": rounded first, so a small negative error does not print as "-0" or "-+0".</summary>
    internal static string SignedPercent(double fraction)
    {
        double percent = Math.Round(fraction * 100, MidpointRounding.AwayFromZero);
        return percent == 0 ? "0%" : percent.ToString("+0;-0", Invariant) + "%";
    }

    private static int Order(string config) => BenchConfigurations.All(0).Select(c => c.Name).ToList().IndexOf(config);

    private static IEnumerable<string> Files(string directory, string pattern) =>
        Directory.Exists(directory) ? Directory.GetFiles(directory, pattern).Order(StringComparer.Ordinal) : [];
}
