using System.Text;

namespace AtomoCollectives.Examples.Bench;

/// <summary>What the bench measured on an emulated cluster of nodes (one label, one set).</summary>
internal sealed record NodeRuns(string Label, GradientSet Set, IReadOnlyList<ConfigResult> Results, IReadOnlyList<TensorResult> Tensors, IReadOnlyList<CalibrationPoint> Calibration)
{
    /// <summary>Where the files came from: a directory, or the medians of several (<see cref="RunMedians"/>).</summary>
    public string Source { get; init; } = "";
}

/// <summary>
/// <c>bench model</c> on runs with node and rail calibrations (<c>bench/netem.sh --nodes K</c>): the node model of
/// <see cref="CostModel"/> fitted per measured N (intra-node α, β from the node calibration; the node link's α, β from the
/// rail calibration), its error against every configuration measured, and a projection to M = 1 … 128 nodes of
/// <see cref="ProjectedRanksPerNode"/> ranks at 1/10/25/100 Gbit/s per node, node-aware ATOMO with the library's
/// groups of nodes (automatic, or a fixed size: <c>--node-groups</c>).
/// </summary>
internal static partial class CostModelReport
{
    /// <summary>Ranks per node in the projection.</summary>
    public const int ProjectedRanksPerNode = 8;

    /// <summary>The projected node counts, 1 … 128.</summary>
    public static IReadOnlyList<int> ProjectedNodes { get; } = [.. Enumerable.Range(0, 8).Select(k => 1 << k)];

    /// <summary>The model's error against the emulated runs that the issue asks for.</summary>
    private const double ErrorGoal = 0.15;

    /// <summary>The speedup the issue asks of spectral ATOMO s = 3 at 10 Gbit/s per node, up to 128 nodes.</summary>
    private const double GoalSpeedup = 1.5;

    /// <summary>The node links one run's calibration implies: its node and rail sizes, and the fitted α, β of each level.</summary>
    internal static (int Nodes, int RanksPerNode, NodeLinks Links) FitNodeLinks(IReadOnlyList<CalibrationPoint> calibration, int ranks)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        CalibrationPoint[] Level(CalibrationLevel level) => [.. calibration.Where(p => p.Ranks == ranks && p.Level == level)];
        static (double, double)[] Points(CalibrationPoint[] level) => [.. level.Select(p => ((double)p.Bytes, p.Seconds))];
        CalibrationPoint[] world = Level(CalibrationLevel.World), node = Level(CalibrationLevel.Node), rail = Level(CalibrationLevel.Rail);
        if (world.Length < 2 || node.Length < 2 || rail.Length < 2)
        {
            throw new ArgumentException($"The calibration at N = {ranks} lacks the world, node or rail level (2 sizes each); rerun the bench with --calibrate on ranks grouped into nodes.", nameof(calibration));
        }

        int ranksPerNode = node[0].GroupRanks, nodes = rail[0].GroupRanks;
        LinkParameters intra = CostModel.Fit(ranksPerNode, Points(node), LinkSharing.PerRank);
        LinkParameters inter = CostModel.FitNodeLink(nodes, ranksPerNode, Points(rail));
        LinkParameters ring = CostModel.Fit(ranks, Points(world), LinkSharing.PerRank);
        return (nodes, ranksPerNode, new NodeLinks(intra, inter, ring));
    }

    /// <summary>
    /// The model's step for one measured configuration on the emulated cluster, and the way it predicts: the dense
    /// baselines; ATOMO by the time rule (the fastest way, as the library chooses it), by bytes (node-aware), or flat.
    /// <paramref name="nodeGroupSize"/> is the run's <see cref="AtomoOptions.NodeGroupSize"/> (bench/netem.sh --node-groups).
    /// <paramref name="passes"/> are the passes over every tensor (<see cref="Passes"/>).
    /// </summary>
    internal static (string Way, StepPrediction Step) PredictMeasured(ConfigResult measured, int nodes, int ranksPerNode, NodeLinks links, IReadOnlyList<int> elements, IReadOnlyList<AtomoProfile> profiles, double computeScale, WholeSetPasses passes, int nodeGroupSize = 0)
    {
        AtomoProfile Profile() => profiles.Single(p => p.Config == measured.Config);
        return measured switch
        {
            { Config: BenchConfigurations.Dense } => ("", CostModel.DenseFlat(nodes, ranksPerNode, elements, links, measured.DecodeSeconds)),
            { Config: BenchConfigurations.DenseNode } => ("", CostModel.DenseNode(nodes, ranksPerNode, elements, links, measured.DecodeSeconds)),
            { Config: BenchConfigurations.SpectralThreeFlat } => (nameof(Exchange.Flat), CostModel.Atomo(nodes * ranksPerNode, Profile(), links.RingEdge(nodes), computeScale)),
            { Routing: "time" } => CostModel.AtomoChosen(nodes, ranksPerNode, Profile(), elements, links, passes, computeScale, nodeGroupSize) is var (way, step) ? (way.ToString(), step) : default,
            _ => (nameof(Exchange.NodeAware), CostModel.AtomoNodeAware(nodes, ranksPerNode, Profile(), links, computeScale, nodeGroupSize, passes)),
        };
    }

    /// <summary>
    /// The passes over every tensor of <paramref name="measured"/>'s calls (<see cref="WholeSetPasses"/>): its check, as
    /// <see cref="CheckSeconds"/> scaled like compute; the node-aware commit as the run's node-aware dense baseline at its
    /// N measured it (its decode phase), none where the run has no such row.
    /// </summary>
    internal static WholeSetPasses Passes(ConfigResult measured, IReadOnlyList<ConfigResult> results, double computeScale)
    {
        return new WholeSetPasses(CheckSeconds(measured) * computeScale, MeasuredDecode(results, measured.Ranks, BenchConfigurations.DenseNode));
    }

    /// <summary>The decode phase <paramref name="config"/>'s row measured at <paramref name="ranks"/> (a dense baseline's divide or commit; the least of several rows), 0 where there is none.</summary>
    private static double MeasuredDecode(IEnumerable<ConfigResult> results, int ranks, string config) =>
        results.Where(r => r.Ranks == ranks && r.Config == config).Select(r => r.DecodeSeconds).DefaultIfEmpty(0).Min();

    /// <summary>
    /// The all-dense call's check of the tensors, one read of them per rank: the set's read-once on one otherwise idle
    /// rank (time-sliced like compute when ranks outnumber cores: 8 C readers of ResNet-18's 46.8 MB on this 2-core
    /// machine took 4× one reader's 4 ms each), else its read-once with every rank at once.
    /// </summary>
    private static double CheckSeconds(ConfigResult measured) =>
        double.IsFinite(measured.IsolatedReadOnceSeconds) ? measured.IsolatedReadOnceSeconds : measured.ReadOnceSeconds;

    /// <summary>
    /// The node model's report on <paramref name="runs"/> (one run, or the medians of several) and, where
    /// <paramref name="each"/> holds several runs, each against its own fit: how far one run alone can be from its model.
    /// </summary>
    private static int RunNodes(NodeRuns runs, IReadOnlyList<NodeRuns> each, double rateBitsPerSecond, int cores, string output, double clusterAlpha, double nodeBytesPerSecond, int nodeGroupSize)
    {
        GradientSet set = runs.Set;
        if (Fit(runs) is not { } model)
        {
            Console.Error.WriteLine($"bench model: no run of label {runs.Label} has both '{set.Name}' rows and node and rail calibrations.");
            return 2;
        }

        (Dictionary<int, (int Nodes, int RanksPerNode, NodeLinks Links)> fits, int fitRanks, int projectFrom, List<AtomoProfile> profiles) = model;
        int[] elements = [.. set.Tensors.Select(t => t.Shape.ElementCount)];
        var report = new StringBuilder();
        report.Append(Invariant, $"# Cost model with nodes: {set.Description}, label {runs.Label}\n\n");
        report.Append(MediansNote([.. each.Select(r => r.Source)]));

        report.Append("Links fitted per measured N from the bench's calibration (dense sums of 1 KiB … 8 MiB, each level as the collectives use it): intra = the node sum of the node-aware collectives (reduce-scatter, then each rank's slice shared; up to 32 MiB, the size of the sums the steps make), every node at once; inter = MPI_Allreduce over the rails in the library's pieces (as every sum on a rail is made), every rail at once, so a node's rails share its link (beta per node link = the rail slope / k); world = MPI_Allreduce over all ranks, fitted in a ring's form (what the dense baseline calls, on the cluster measured; a flat ring's edge is as slow as its slowest kind).\n\n");
        report.Append("| N | nodes M x ranks k | intra alpha us | intra beta ns/B (per rank) | inter alpha us | inter beta ns/B (per node link) | inter goodput Gbit/s (of nominal) | world alpha us | world beta ns/B |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach ((int n, (int nodes, int k, NodeLinks links)) in fits)
        {
            report.Append(Invariant, $"| {n} | {nodes} x {k} | {links.Intra.Alpha * 1e6:F1} | {links.Intra.Beta * 1e9:F3} | {links.Inter.Alpha * 1e6:F1} | {links.Inter.Beta * 1e9:F3} | {8 / links.Inter.Beta / 1e9:F2} ({8 / links.Inter.Beta / rateBitsPerSecond * 100:F0} %) | {links.World!.Alpha * 1e6:F1} | {links.World!.Beta * 1e9:F3} |\n");
        }

        report.Append(Invariant, $"\nCompute measured on one rank alone (replica communicator, flat: every compressible tensor), scaled in the emulation by max(1, N/{cores}); node-aware, each rank encodes and decodes its share of the tensors (the library's plan), and every rank checks every tensor before (the set's read-once, scaled alike) and commits the node's result into every tensor after (as dense-node's commit measured it). Payloads per tensor: node 0's, from the N = {fitRanks} run.\n\n");
        AppendProfiles(report, profiles, fitRanks);

        var errorRows = new List<string> { "label,set,ranks,nodes,config,model_way,measured_s,model_s,relative_error" };
        report.Append("\n## Model vs measured (emulated cluster)\n\nATOMO routed by time is predicted as the fastest of its four ways (node-aware, flat, and all dense: each rank's check of its gradients, one read of them, then the header and MPI_Allreduce, its pieces divided in cache, or the node-aware dense sum and its commit, as dense-node's row measured it), the way the library chooses by measuring them; routed by bytes, node-aware.\n\n| N | config | model's way | measured ms | model ms | error |\n|---:|---|---|---:|---:|---:|\n");
        List<ModelError> errors = Errors(runs, model, elements, cores, nodeGroupSize);
        foreach (ModelError e in errors)
        {
            report.Append(Invariant, $"| {e.Measured.Ranks} | {e.Measured.Config} | {(e.Way.Length == 0 ? "–" : e.Way)} | {e.Measured.StepSeconds * 1e3:F1} | {e.Predicted.Total * 1e3:F1} | {SignedPercent(e.Error)} |\n");
            errorRows.Add(Csv.Join(runs.Label, set.Name, Csv.Number(e.Measured.Ranks), Csv.Number(fits[e.Measured.Ranks].Nodes), e.Measured.Config, e.Way, Csv.Number(e.Measured.StepSeconds), Csv.Number(e.Predicted.Total), Csv.Number(e.Error)));
        }

        report.Append(Invariant, $"\nModel within the goal: {WithinGoal(errors)}.\n");
        AppendPhases(report, errors);
        if (each.Count > 1)
        {
            IEnumerable<string> alone = each.Select(run => Fit(run) is { } own ? $"{run.Source}: {WithinGoal(Errors(run, own, elements, cores, nodeGroupSize))}" : $"{run.Source}: no node fit");
            report.Append(Invariant, $"\nEach run alone, against its own fit: {string.Join("; ", alone)}.\n");
        }

        (double efficiency, NodeLinks projected, double divide, WholeSetPasses passes) = ProjectionInputs(runs, fits[projectFrom], projectFrom, rateBitsPerSecond, cores, clusterAlpha, nodeBytesPerSecond);
        report.Append(Invariant, $"\n## Projection: M nodes x {ProjectedRanksPerNode} ranks, one link per node (non-blocking switch) at 1/10/25/100 Gbit/s\n\n");
        report.Append(Invariant, $"Between nodes: alpha = {clusterAlpha * 1e6:F1} us (assumed; --cluster-alpha-us), {efficiency * 100:F0} % of the nominal rate (the N = {projectFrom} rail fit). ");
        report.Append(Invariant, $"Within a node (the node sum, and a flat ring's edges there): the N = {projectFrom} node fit with one core per rank (divided by max(1, {projectFrom}/{cores})): alpha = {projected.Intra.Alpha * 1e6:F1} us, beta = {projected.Intra.Beta * 1e9:F3} ns/B ({1 / projected.Intra.Beta / 1e9:F2} GB/s per rank{(nodeBytesPerSecond > 0 ? ", given by --node-gbytes" : "")}). ");
        report.Append(Invariant, $"Compute as one rank alone, and every rank's passes over the whole set too: the check {passes.Check * 1e3:F1} ms (read once), the dense divide {divide * 1e3:F1} ms and the node-aware commit {passes.CommitNode * 1e3:F1} ms (the dense baselines' at N = {projectFrom}, divided likewise). ");
        report.Append("dense = one fused MPI_Allreduce over all ranks in node order (bucketed, its best case), in the steps Open MPI 4.1 takes (Rabenseifner's for large sums: the large halves stay in the node, the link carries about 2(M-1)/M of the gradients each way); dense-node = the node-aware dense allreduce; speedup over the better of the two. ");
        report.Append(Invariant, $"Node-aware ATOMO groups the nodes {GroupingText(nodeGroupSize)}: nodes per group G = {string.Join(", ", ProjectedNodes.Select(m => $"{NodeGroups.SizeFor(m, nodeGroupSize)} at M = {m}"))}.\n\n");
        var (rows, series) = Project(elements, profiles, projected, efficiency, divide, passes, nodeGroupSize);
        AppendProjection(report, profiles, series);
        AppendGoal(report, profiles, projected, efficiency, passes, series, nodeGroupSize);
        Write(output, runs.Label, set, report, errorRows, rows, png => PlotProjection(series, png, $"Cost model with nodes, {set.Description}: time per step, {ProjectedRanksPerNode} ranks per node", ProjectedNodes, "nodes M (log scale)", [BenchConfigurations.Dense, BenchConfigurations.DenseNode, BenchConfigurations.SpectralThree]));
        return 0;
    }

    /// <summary>The node model fitted to one set of runs: the links per measured N, the N whose rows give compute and payloads, the N the projection starts from, and the profiles.</summary>
    private sealed record NodeModel(Dictionary<int, (int Nodes, int RanksPerNode, NodeLinks Links)> Fits, int FitRanks, int ProjectFrom, List<AtomoProfile> Profiles);

    /// <summary>One measured configuration, the way the model predicts for it, the prediction and its relative error.</summary>
    private sealed record ModelError(ConfigResult Measured, string Way, StepPrediction Predicted, double Error);

    /// <summary>The node model of <paramref name="runs"/>; null where no N has both rows and node and rail calibrations.</summary>
    private static NodeModel? Fit(NodeRuns runs)
    {
        int[] measuredRanks = [.. runs.Results.Select(r => r.Ranks).Distinct().Where(n => runs.Calibration.Any(p => p.Ranks == n && p.Level == CalibrationLevel.Rail)).Order()];
        if (measuredRanks.Length == 0)
        {
            return null;
        }

        var fits = measuredRanks.ToDictionary(n => n, n => FitNodeLinks(runs.Calibration, n));
        int fitRanks = measuredRanks[0];
        // Compute from every row that measured it: a configuration and its twin routed by bytes time the same compute
        // (the bench times it routed by bytes), so both rows' timings count, the smallest of each.
        var profiles = runs.Results.Where(r => r.Ranks == fitRanks && !BenchConfigurations.IsDenseName(r.Config))
            .Select(r => Profile(r, [.. runs.Results.Where(m => BenchConfigurations.WithoutBytesSuffix(m.Config) == BenchConfigurations.WithoutBytesSuffix(r.Config))], PayloadTensors(runs, fitRanks, r.Config))).ToList();
        return new NodeModel(fits, fitRanks, measuredRanks[^1], profiles);
    }

    /// <summary>Every measured configuration of <paramref name="runs"/> at an N <paramref name="model"/> fitted, against its prediction, in report order.</summary>
    private static List<ModelError> Errors(NodeRuns runs, NodeModel model, int[] elements, int cores, int nodeGroupSize)
    {
        var errors = new List<ModelError>();
        foreach (ConfigResult measured in runs.Results.Where(r => model.Fits.ContainsKey(r.Ranks)).OrderBy(r => r.Ranks).ThenBy(r => Order(BenchConfigurations.WithoutBytesSuffix(r.Config))).ThenBy(r => r.Config, StringComparer.Ordinal))
        {
            (int nodes, int k, NodeLinks links) = model.Fits[measured.Ranks];
            double computeScale = Math.Max(1.0, measured.Ranks / (double)cores);
            (string way, StepPrediction predicted) = PredictMeasured(measured, nodes, k, links, elements, model.Profiles, computeScale, Passes(measured, runs.Results, computeScale), nodeGroupSize);
            errors.Add(new ModelError(measured, way, predicted, (predicted.Total - measured.StepSeconds) / measured.StepSeconds));
        }

        return errors;
    }

    /// <summary>
    /// Where each prediction lands, phase by phase as the library times them (the medians of each phase over the timed
    /// steps, so they need not add up to the step's median): which part of a step the model misses.
    /// </summary>
    private static void AppendPhases(StringBuilder report, IReadOnlyList<ModelError> errors)
    {
        static string Pair(double measured, double model) => string.Create(Invariant, $"{measured * 1e3:F1} / {model * 1e3:F1}");
        report.Append("\nBy phase, measured / model (ms; node-aware, the library times the node sum and the share of the result within the node as exchange, its check of the tensors as encode and its commit to them as decode):\n\n| N | config | encode | exchange | decode |\n|---:|---|---:|---:|---:|\n");
        foreach (ModelError e in errors)
        {
            report.Append(Invariant, $"| {e.Measured.Ranks} | {e.Measured.Config} | {Pair(e.Measured.EncodeSeconds, e.Predicted.Encode)} | {Pair(e.Measured.ExchangeSeconds, e.Predicted.Exchange)} | {Pair(e.Measured.DecodeSeconds, e.Predicted.Decode)} |\n");
        }
    }

    /// <summary>"a of b configurations within 15 % (errors … )".</summary>
    private static string WithinGoal(IReadOnlyList<ModelError> errors) => errors.Count == 0 ? "no configuration measured"
        : string.Create(Invariant, $"{errors.Count(e => Math.Abs(e.Error) <= ErrorGoal)} of {errors.Count} configurations within {ErrorGoal * 100:F0} % (errors {SignedPercent(errors.Min(e => e.Error))} … {SignedPercent(errors.Max(e => e.Error))})");

    /// <summary>
    /// The per-tensor payloads of <paramref name="config"/>: its own, or, when it sent nothing compressed in its timed
    /// steps (the time rule chose the dense way), its twin's routed by bytes (<c>--routing both</c>), which always
    /// compresses node-aware.
    /// </summary>
    private static List<TensorResult> PayloadTensors(NodeRuns runs, int ranks, string config)
    {
        List<TensorResult> Of(string name) => [.. runs.Tensors.Where(t => t.Ranks == ranks && t.Config == name)];
        List<TensorResult> own = Of(config);
        if (own.Any(t => t.Route == nameof(TensorRoute.Compressed)))
        {
            return own;
        }

        List<TensorResult> twin = Of(config + BenchConfigurations.BytesSuffix);
        return twin.Count > 0 ? twin : own;
    }

    private static void AppendProfiles(StringBuilder report, IReadOnlyList<AtomoProfile> profiles, int ranks)
    {
        report.Append("| config | encode ms | decode ms, fixed | decode ms per payload | payload MB (node 0, N = " + ranks.ToString(Invariant) + ") | compressible tensors |\n|---|---:|---:|---:|---:|---:|\n");
        foreach (AtomoProfile profile in profiles)
        {
            double payload = profile.Tensors.Where(t => t.Compressible).Sum(t => t.PayloadBytes);
            report.Append(Invariant, $"| {profile.Config} | {profile.EncodeSeconds * 1e3:F1} | {profile.DecodeFixedSeconds * 1e3:F1} | {profile.DecodePerRankSeconds * 1e3:F2} | {payload / 1e6:F3} | {profile.Tensors.Count(t => t.Compressible)}/{profile.Tensors.Count} |\n");
        }

        string[] unprofiled = [.. profiles.Where(p => !p.Tensors.Any(t => t.Compressible)).Select(p => p.Config)];
        if (unprofiled.Length > 0)
        {
            report.Append(Invariant, $"\nNo payload measured for {string.Join(", ", unprofiled)}: the run's calls went all dense and it has no routed-by-bytes twin, so the model projects them dense. To project the compressor, run with --routing both.\n");
        }
    }

    /// <summary>
    /// The projection's links, the dense baseline's divide and the passes over every tensor (the check: the set's
    /// read-once on one rank alone; the divide and the node-aware commit as compute with one core per rank): the rail
    /// fit's fraction of the nominal rate; within a node,
    /// <paramref name="nodeBytesPerSecond"/> per rank when given, else the intra-node fit with one core per rank (the
    /// emulation time-slices N ranks over the cores: its traffic within a node is compute); a flat ring's edges within a
    /// node as fast as the node sum's.
    /// </summary>
    private static (double Efficiency, NodeLinks Links, double Divide, WholeSetPasses Passes) ProjectionInputs(NodeRuns runs, (int Nodes, int RanksPerNode, NodeLinks Links) fit, int ranks, double rateBitsPerSecond, int cores, double clusterAlpha, double nodeBytesPerSecond)
    {
        double efficiency = 8.0 / rateBitsPerSecond / fit.Links.Inter.Beta;
        double scale = Math.Max(1.0, ranks / (double)cores);
        var intra = new LinkParameters(fit.Links.Intra.Alpha / scale, nodeBytesPerSecond > 0 ? 1 / nodeBytesPerSecond : fit.Links.Intra.Beta / scale, LinkSharing.PerRank);
        var inter = new LinkParameters(clusterAlpha, double.NaN, LinkSharing.PerRank);
        double Divide(string config) => MeasuredDecode(runs.Results, ranks, config) / scale;
        double check = runs.Results.Where(r => r.Ranks == ranks).Select(CheckSeconds).DefaultIfEmpty(0).Min();
        return (efficiency, new NodeLinks(intra, inter), Divide(BenchConfigurations.Dense), new WholeSetPasses(check, Divide(BenchConfigurations.DenseNode)));
    }

    /// <summary>How the projection groups nodes: the library's automatic rule (option 0) or a fixed size.</summary>
    private static string GroupingText(int nodeGroupSize) => nodeGroupSize == 0
        ? $"as the library does by default (AtomoOptions.NodeGroupSize = 0: round(sqrt M) nodes per group from {NodeGroups.AutomaticFromNodes} nodes on)"
        : $"in groups of {nodeGroupSize} (--node-groups; none where that leaves one group)";

    /// <summary>
    /// Every configuration's step at every projected rate and node count (node-aware ATOMO with groups per
    /// <paramref name="nodeGroupSize"/>); rows for the CSV (the nodes per group last) and the series by (rate, config).
    /// </summary>
    private static (List<string> Rows, Dictionary<(double Rate, string Config), double[]> Series) Project(
        int[] elements, IReadOnlyList<AtomoProfile> profiles, NodeLinks links, double efficiency, double divide, WholeSetPasses passes, int nodeGroupSize)
    {
        var rows = new List<string> { "rate_gbit,nodes,ranks_per_node,config,encode_s,exchange_s,decode_s,step_s,speedup_vs_better_dense,node_group_size" };
        var series = new Dictionary<(double Rate, string Config), double[]>();
        const int k = ProjectedRanksPerNode;
        foreach (double rate in ProjectedRates)
        {
            NodeLinks at = links with { Inter = links.Inter with { Beta = 8.0 / rate / efficiency } };
            var predictions = new Dictionary<string, StepPrediction[]>
            {
                [BenchConfigurations.Dense] = [.. ProjectedNodes.Select(m => CostModel.DenseFlat(m, k, elements, at, divide, fused: true))],
                [BenchConfigurations.DenseNode] = [.. ProjectedNodes.Select(m => m == 1 ? CostModel.DenseFlat(m, k, elements, at, divide, fused: true) : CostModel.DenseNode(m, k, elements, at, passes.CommitNode))],
            };
            foreach (AtomoProfile profile in profiles)
            {
                predictions[profile.Config] = [.. ProjectedNodes.Select(m => profile.Config == BenchConfigurations.SpectralThreeFlat
                    ? CostModel.Atomo(m * k, profile, at.RingEdge(m))
                    : CostModel.AtomoNodeAware(m, k, profile, at, nodeGroupSize: nodeGroupSize, passes: passes))];
            }

            double[] betterDense = [.. Enumerable.Range(0, ProjectedNodes.Count).Select(i => Math.Min(predictions[BenchConfigurations.Dense][i].Total, predictions[BenchConfigurations.DenseNode][i].Total))];
            foreach ((string config, StepPrediction[] steps) in predictions)
            {
                series[(rate, config)] = [.. steps.Select(p => p.Total)];
                bool grouped = !BenchConfigurations.IsDenseName(config) && config != BenchConfigurations.SpectralThreeFlat;
                for (int i = 0; i < steps.Length; i++)
                {
                    int groupSize = grouped ? NodeGroups.SizeFor(ProjectedNodes[i], nodeGroupSize) : 1;
                    rows.Add(Csv.Join(Csv.Number(rate / 1e9), Csv.Number(ProjectedNodes[i]), Csv.Number(k), config, Csv.Number(steps[i].Encode), Csv.Number(steps[i].Exchange), Csv.Number(steps[i].Decode), Csv.Number(steps[i].Total), Csv.Number(betterDense[i] / steps[i].Total), Csv.Number(groupSize)));
                }
            }

            series[(rate, BetterDense)] = betterDense;
        }

        return (rows, series);
    }

    /// <summary>The series key of the better dense baseline's time at each node count.</summary>
    private const string BetterDense = "better-dense";

    private static void AppendProjection(StringBuilder report, IReadOnlyList<AtomoProfile> profiles, Dictionary<(double Rate, string Config), double[]> series)
    {
        IReadOnlyList<int> shown = ProjectedNodes;
        string Columns(Func<int, string> cell) => string.Join(" | ", Enumerable.Range(0, shown.Count).Select(cell));
        report.Append("Time per step of the dense baselines (ms):\n\n| dense | Gbit/s | " + string.Join(" | ", shown.Select(m => $"M={m}")) + " |\n|---|---:|" + string.Concat(shown.Select(_ => "---:|")) + "\n");
        foreach (string dense in (string[])[BenchConfigurations.Dense, BenchConfigurations.DenseNode])
        {
            foreach (double rate in ProjectedRates)
            {
                report.Append(Invariant, $"| {dense} | {rate / 1e9:G3} | {Columns(i => (series[(rate, dense)][i] * 1e3).ToString("F1", Invariant))} |\n");
            }
        }

        report.Append("\nSpeedup of each ATOMO configuration over the better dense baseline (>1: ATOMO faster), and where it is faster:\n\n| config | Gbit/s | " + string.Join(" | ", shown.Select(m => $"M={m}")) + " | ATOMO faster for |\n|---|---:|" + string.Concat(shown.Select(_ => "---:|")) + "---|\n");
        foreach (AtomoProfile profile in profiles)
        {
            foreach (double rate in ProjectedRates)
            {
                double[] speedups = [.. series[(rate, BetterDense)].Zip(series[(rate, profile.Config)], (dense, atomo) => dense / atomo)];
                report.Append(Invariant, $"| {profile.Config} | {rate / 1e9:G3} | {Columns(i => speedups[i].ToString("F2", Invariant))} | {WinRange(speedups, ProjectedNodes, "M")} |\n");
            }
        }
    }

    /// <summary>
    /// Issue 18's goal for the model: spectral s = 3 at 10 Gbit/s per node, 8 ranks per node, ≥ 1.5× the better dense
    /// up to 128 nodes: its step in its terms at every node count, then met or missed, and where it is closest to missing.
    /// </summary>
    private static void AppendGoal(StringBuilder report, IReadOnlyList<AtomoProfile> profiles, NodeLinks links, double efficiency, WholeSetPasses passes, Dictionary<(double Rate, string Config), double[]> series, int nodeGroupSize)
    {
        AtomoProfile? spectral = profiles.FirstOrDefault(p => p.Config == BenchConfigurations.SpectralThree);
        const double rate = 10e9;
        if (spectral is null || !series.ContainsKey((rate, spectral.Config)))
        {
            return;
        }

        NodeLinks at = links with { Inter = links.Inter with { Beta = 8.0 / rate / efficiency } };
        NodeStepTerms[] terms = [.. ProjectedNodes.Select(m => CostModel.AtomoNodeAwareTerms(m, ProjectedRanksPerNode, spectral, at, nodeGroupSize: nodeGroupSize, passes: passes))];
        double[] speedups = [.. series[(rate, BetterDense)].Zip(series[(rate, spectral.Config)], (dense, atomo) => dense / atomo)];
        report.Append(Invariant, $"\n{spectral.Config} node-aware at 10 Gbit/s per node, its step in its terms (ms; G nodes per group; recompress = a group leader's decode of G payloads and encode of their sum; decode = of the M node payloads, or with groups of the groups' payloads):\n\n");
        report.Append("| M | G | encode | header and length allgathers | within the node | payloads between nodes | dense on the rails | recompress | decode | step | better dense | speedup |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < terms.Length; i++)
        {
            NodeStepTerms t = terms[i];
            report.Append(Invariant, $"| {ProjectedNodes[i]} | {t.GroupSize} | {t.Encode * 1e3:F1} | {t.Headers * 1e3:F1} | {t.WithinNode * 1e3:F1} | {t.Payloads * 1e3:F1} | {t.DenseOnRails * 1e3:F1} | {t.Recompress * 1e3:F1} | {t.Decode * 1e3:F1} | {t.Step.Total * 1e3:F1} | {series[(rate, BetterDense)][i] * 1e3:F1} | {speedups[i]:F2} |\n");
        }

        // Between nodes: from 2 nodes on (on one node there is no link between nodes to save).
        int worst = Enumerable.Range(0, speedups.Length).Where(i => ProjectedNodes[i] >= 2).MinBy(i => speedups[i]);
        NodeStepTerms step = terms[worst];
        bool met = speedups[worst] >= GoalSpeedup;
        report.Append(Invariant, $"\n**Goal (issue 18): {spectral.Config}, {ProjectedRanksPerNode} ranks per node at 10 Gbit/s per node, >= {GoalSpeedup}x the better dense from 2 up to 128 nodes: {(met ? "met" : "missed")}** (on one node: {speedups[0]:F2}x). ");
        report.Append(Invariant, $"Smallest speedup {speedups[worst]:F2}x at M = {ProjectedNodes[worst]}, G = {step.GroupSize} (better dense {series[(rate, BetterDense)][worst] * 1e3:F1} ms); ATOMO's step there: encode {step.Encode * 1e3:F1} ms, ");
        report.Append(Invariant, $"header and length allgathers {step.Headers * 1e3:F1} ms, within the node (reduce-scatter, allgather) {step.WithinNode * 1e3:F1} ms, between nodes (payloads {step.Payloads * 1e3:F1} ms, dense allreduce {step.DenseOnRails * 1e3:F1} ms), recompress {step.Recompress * 1e3:F1} ms, decode {step.Decode * 1e3:F1} ms.\n");
    }
}
