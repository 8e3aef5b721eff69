namespace AtomoCollectives.Build.Tests;

/// <summary>
/// The parts of bench/lib/netem-link.sh that turn a bench run into netem.sh's verdicts, on bench CSV files written
/// here: the speedup over the fastest dense baseline (every configuration named dense*, so a node-aware dense
/// allreduce counts as soon as the bench has one), and the check that an emulated cluster's links carried and
/// limited the bytes between nodes. (The emulated runs themselves are CI's netem smokes.)
/// </summary>
public sealed class NetemLibraryTests : IDisposable
{
    // ResNet-18's parameter count; 4 steps per configuration (1 warm-up + 3 timed).
    private const long ResNet18 = 11_689_512;
    private const long Mlp = 235_146;

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("netem-library-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public void SpeedupIsOverMpiAllreduceWhenItIsTheOnlyDenseBaseline()
    {
        string csv = WriteCsv(("resnet18", "dense", 2.0, 1.9, ResNet18), ("resnet18", "atomo-spectral-s3", 0.25, 0.2, ResNet18));

        (int exitCode, string output, string error) = BenchScript.RunWithNetemLibrary($"netem_speedup_lines '{csv}' resnet18");

        Assert.Equal((0, ""), (exitCode, error));
        Assert.Equal(
            ["netem.sh: speedup on the largest set, resnet18, over the fastest dense baseline: dense (dense 2000.0 ms)", "speedup_vs_dense=8.00"],
            output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void SpeedupIsOverTheFastestDenseBaselineOfTheSet()
    {
        // dense-node is the faster baseline on resnet18; the mlp set's faster dense row must not be taken.
        string csv = WriteCsv(
            ("mlp", "dense", 0.01, 0.01, Mlp), ("mlp", "dense-node", 0.001, 0.001, Mlp), ("mlp", "atomo-spectral-s3", 0.004, 0.004, Mlp),
            ("resnet18", "dense", 2.0, 1.9, ResNet18), ("resnet18", "dense-node", 0.5, 0.45, ResNet18), ("resnet18", "atomo-spectral-s3", 0.25, 0.2, ResNet18));

        (int exitCode, string output, string error) = BenchScript.RunWithNetemLibrary($"netem_speedup_lines '{csv}' resnet18");

        Assert.Equal((0, ""), (exitCode, error));
        Assert.Equal(
            ["netem.sh: speedup on the largest set, resnet18, over the fastest dense baseline: dense-node (dense 2000.0 ms, dense-node 500.0 ms)", "speedup_vs_dense=2.00"],
            output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void SpeedupWithoutTheSpectralRowFailsNamingTheSet()
    {
        string csv = WriteCsv(("resnet18", "dense", 2.0, 1.9, ResNet18), ("resnet18", "qsgd", 0.25, 0.2, ResNet18));

        (int exitCode, string output, string error) = BenchScript.RunWithNetemLibrary($"netem_speedup_lines '{csv}' resnet18");

        Assert.Equal((1, ""), (exitCode, output));
        Assert.StartsWith("netem.sh: error: no dense baseline or no atomo-spectral-s3 row for the set resnet18", error, StringComparison.Ordinal);
    }

    [Fact]
    public void InterNodeFloorIsFourBytesPerElementPerDenseStep()
    {
        string csv = WriteCsv(
            ("mlp", "dense", 0.01, 0.01, Mlp), ("mlp", "atomo-spectral-s3", 0.004, 0.004, Mlp),
            ("resnet18", "dense", 2.0, 1.9, ResNet18), ("resnet18", "dense-node", 0.5, 0.45, ResNet18), ("resnet18", "qsgd", 0.25, 0.2, ResNet18));

        (int exitCode, string output, string _) = BenchScript.RunWithNetemLibrary($"netem_inter_node_floor '{csv}' 4");

        Assert.Equal(0, exitCode);
        Assert.Equal(((4 * Mlp) + (2 * 4 * ResNet18)) * 4, long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void LinkCheckPassesWhenEveryNodeMovedTheDenseBytesAtTheRate()
    {
        // Floor: 2 dense configurations x 4 steps x 4 B x 11,689,512 = 374.1 MB each way; the fastest dense step, 0.45 s,
        // is above the 0.370 s that 46.76 MB less a 500 kB burst need at 1 Gbit/s.
        string csv = WriteCsv(("resnet18", "dense", 0.6, 0.55, ResNet18), ("resnet18", "dense-node", 0.5, 0.45, ResNet18));

        (int exitCode, string output, string error) = CheckLinks(csv, after: ["380000000 381000000", "382000000 383000000"]);

        Assert.Equal((0, ""), (exitCode, error));
        Assert.Contains("node 1 received 382.0 MB and sent 383.0 MB over its link (the dense steps need at least 374.1 MB each way)", output, StringComparison.Ordinal);
        Assert.Contains("fastest dense step on resnet18 450.0 ms, at least the 370.1 ms its bytes need to enter a node at 1gbit", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("380000000 381000000", "382000000 300000000")] // node 1 sent too little
    [InlineData("100000000 381000000", "382000000 383000000")] // node 0 received too little
    public void LinkCheckFailsWhenANodeMovedFewerBytesThanTheDenseSteps(string node0, string node1)
    {
        string csv = WriteCsv(("resnet18", "dense", 0.6, 0.55, ResNet18), ("resnet18", "dense-node", 0.5, 0.45, ResNet18));

        (int exitCode, string _, string error) = CheckLinks(csv, after: [node0, node1]);

        Assert.Equal(1, exitCode);
        Assert.StartsWith("netem.sh: error: fewer bytes crossed a node's link than the dense steps alone must move between nodes", error, StringComparison.Ordinal);
    }

    [Fact]
    public void LinkCheckFailsWhenADenseStepIsFasterThanTheLinkAllows()
    {
        string csv = WriteCsv(("resnet18", "dense", 0.6, 0.55, ResNet18), ("resnet18", "dense-node", 0.3, 0.3, ResNet18));

        (int exitCode, string _, string error) = CheckLinks(csv, after: ["380000000 381000000", "382000000 383000000"]);

        Assert.Equal(1, exitCode);
        Assert.Equal("netem.sh: error: the fastest dense step on resnet18 took less than its bytes need to enter a node at 1gbit: the emulated links are not limited\n", error);
    }

    /// <summary>netem_check_links on a 1gbit, 2-node run with 4 steps per configuration, counters from 0 0 to <paramref name="after"/>.</summary>
    private static (int ExitCode, string Output, string Error) CheckLinks(string csv, string[] after) =>
        BenchScript.RunWithNetemLibrary($"netem_check_links '{csv}' 4 1gbit \"$(printf '0 0\\n0 0')\" \"$(printf '{after[0]}\\n{after[1]}')\" resnet18");

    /// <summary>A bench CSV with the columns netem-link.sh reads, one row per (set, config, step s, min step s, elements).</summary>
    private string WriteCsv(params (string Set, string Config, double Step, double MinStep, long Elements)[] rows)
    {
        string path = Path.Combine(_directory.FullName, "bench.csv");
        File.WriteAllLines(path, [
            "label,set,config,ranks,steps,step_s,min_step_s,elements",
            .. rows.Select(r => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"1gbit-2nodes,{r.Set},{r.Config},8,3,{r.Step},{r.MinStep},{r.Elements}")),
        ]);
        return path;
    }
}
