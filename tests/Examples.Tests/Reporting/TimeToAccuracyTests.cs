using AtomoCollectives.Examples.Cli;
using AtomoCollectives.Examples.Reporting;
using AtomoCollectives.Examples.Tests.Cli;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Reporting;

/// <summary>
/// Time to accuracy (bench/netem-train.sh's table and last line) on hand-made curves whose answer is known, then
/// <c>Examples report-train</c> end to end on the files <c>compare</c> writes.
/// </summary>
[Collection("Training")] // the CLI tests redirect Console
public sealed class TimeToAccuracyTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("time-to-accuracy-tests-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    /// <summary>A run evaluated at the given (step, training seconds, accuracy) points; 1 MB sent per step; evaluations cost 1 s each.</summary>
    private static TimeToAccuracy.Run Curve(string compressor, params (long Step, double Seconds, double Accuracy)[] evaluations)
    {
        var metrics = new List<StepMetrics>();
        int evaluated = 0;
        for (long step = 1; step <= evaluations[^1].Step; step++)
        {
            (long Step, double Seconds, double Accuracy)? at = evaluations.FirstOrDefault(e => e.Step == step) is { Step: > 0 } hit ? hit : null;
            double seconds = at?.Seconds ?? (step * evaluations[^1].Seconds / evaluations[^1].Step);
            evaluated += at is null ? 0 : 1;
            metrics.Add(new StepMetrics(step, 0, 1.0, 0.5, at?.Accuracy, step * 1_000_000, step * 1_000_000, step * 1_000_000, 0, 0, 0, 0, seconds + evaluated, seconds));
        }

        Compressor c = Compressor.Parse(compressor);
        return new TimeToAccuracy.Run(c, Summary(c, evaluations[^1].Accuracy, evaluations[^1].Step, evaluations[^1].Seconds, evaluations.Length), metrics);
    }

    private static RunSummary Summary(Compressor c, double finalAccuracy, long steps, double trainingSeconds, int evaluations) => new()
    {
        Compressor = c.Name, Label = c.Label, Budget = c.Budget, Bits = c.Bits, Model = "MLP 784-2048-1024-10, 3,716,106 parameters", Ranks = 4,
        Transport = "mpi", LinearAlgebra = "native", Epochs = 1, Steps = steps, BatchSizePerRank = 64, LearningRate = 0.05, Momentum = 0.9,
        Seed = 1, TrainingImages = 60000, FinalTestAccuracy = finalAccuracy, FinalTrainLoss = 0.4, Diverged = false,
        BytesSentPerRank = steps * 1_000_000, BytesReceivedPerRank = steps * 1_000_000, DenseEquivalentBytes = steps * 1_000_000,
        CompressionRatio = 1, WallSeconds = trainingSeconds + evaluations, EvaluationSeconds = evaluations, ComputeSeconds = 0,
        EncodeSeconds = 0, ExchangeSeconds = 0, DecodeSeconds = 0, ReplicasIdentical = true, ParameterChecksum = "0",
    };

    // Dense ends at 86 %: the default target is 85 %, which dense first reaches at step 30 (60 s of training) and
    // spectral at step 20 (15 s): 4× sooner. Wall seconds (training + 1 s per evaluation) must not be used.
    private static TimeToAccuracy.Run Dense() => Curve("dense", (10, 20, 0.80), (20, 40, 0.84), (30, 60, 0.855), (40, 80, 0.86));

    private static TimeToAccuracy.Run Spectral() => Curve("atomo-spectral:3", (10, 7.5, 0.83), (20, 15, 0.85), (30, 22.5, 0.84), (40, 30, 0.855));

    [Fact]
    public void TheFirstEvaluationAtOrAboveTheTargetCountsAtItsTrainingSeconds()
    {
        TimeToAccuracy.Reached? at = TimeToAccuracy.FirstReaching(Spectral().Metrics, 0.85);

        Assert.Equal(new TimeToAccuracy.Reached(20, 15, 20_000_000, 0.85), at);
        Assert.Null(TimeToAccuracy.FirstReaching(Spectral().Metrics, 0.8551));
    }

    [Fact]
    public void SpeedupIsDenseTimeToTheDefaultTargetOverSpectralTime()
    {
        TimeToAccuracy.Result result = TimeToAccuracy.Compute([Dense(), Spectral(), Curve("qsgd", (40, 50, 0.70))], target: null);

        Assert.Equal(0.85, result.Target, 12);
        Assert.Equal(4.0, result.Speedup!.Value, 12);
        Assert.Null(result.NoSpeedupReason);
        Assert.Equal("speedup_to_accuracy=4.00", TimeToAccuracy.SpeedupLine(result));
        Assert.Equal(new double?[] { 1.0, 4.0, null }, result.Rows.Select(r => r.SpeedupOverDense));
        Assert.Null(result.Rows[2].AtTarget);
    }

    [Fact]
    public void AnExplicitTargetReplacesTheDefault()
    {
        TimeToAccuracy.Result result = TimeToAccuracy.Compute([Dense(), Spectral()], target: 0.80);

        Assert.Equal(20.0 / 7.5, result.Speedup!.Value, 12); // dense at step 10 (20 s), spectral at step 10 (7.5 s)
    }

    [Theory]
    [InlineData(0.856, "atomo-spectral s=3 never reached the target 85.60 % (best 85.50 %)")]
    [InlineData(0.8, null)]
    public void NoSpeedupWhenSpectralNeverReachesTheTarget(double target, string? reason)
    {
        TimeToAccuracy.Result result = TimeToAccuracy.Compute([Dense(), Spectral()], target);

        Assert.Equal(reason, result.NoSpeedupReason);
        Assert.Equal(reason is null, result.Speedup is not null);
        Assert.Equal(reason is null ? "speedup_to_accuracy=2.67" : "speedup_to_accuracy=none", TimeToAccuracy.SpeedupLine(result));
    }

    [Fact]
    public void NoSpeedupWhenDenseNeverReachesTheTargetOrIsMissing()
    {
        TimeToAccuracy.Run fastDense = Curve("dense", (40, 80, 0.84));
        Assert.Equal("dense never reached the target 85.00 % (best 84.00 %)", TimeToAccuracy.Compute([fastDense, Spectral()], 0.85).NoSpeedupReason);
        Assert.Equal("no dense run among --runs to compare with", TimeToAccuracy.Compute([Spectral()], 0.85).NoSpeedupReason);
        Assert.Equal("no atomo-spectral run among --runs", TimeToAccuracy.Compute([Dense(), Curve("qsgd", (40, 50, 0.86))], null).NoSpeedupReason);
    }

    [Fact]
    public void TheFirstSpectralRunOfSeveralIsTheOneReported()
    {
        TimeToAccuracy.Run slowSpectral = Curve("atomo-spectral:1", (40, 60, 0.851));
        Assert.Equal(1.0, TimeToAccuracy.Compute([Dense(), slowSpectral, Spectral()], null).Speedup!.Value, 12);
    }

    [Theory]
    [InlineData("atomo-spectral:3", null, "--runs has no dense run")]
    [InlineData(" , ", 85.0, "--runs names no compressor")]
    [InlineData("dense atomo-spectral:3", 0.85, "--target-accuracy is in percent")]
    [InlineData("dense atomo-spectral:3", 101.0, "--target-accuracy is in percent")]
    public void ThePlanIsCheckedBeforeAnyTraining(string runs, double? target, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => TimeToAccuracy.CheckPlan(Compressor.ParseList(runs), target));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportTrainWritesTheTableThePlotsAndEndsWithTheSpeedupLine()
    {
        foreach (TimeToAccuracy.Run run in new[] { Dense(), Spectral() })
        {
            string directory = Path.Combine(_output, run.Compressor.DirectoryName);
            Directory.CreateDirectory(directory);
            run.Summary.Write(Path.Combine(directory, "summary.json"));
            File.WriteAllLines(Path.Combine(directory, "metrics.csv"), [MetricsCsv.Header, .. run.Metrics.Select(MetricsCsv.Format)]);
        }

        var output = new StringWriter();
        TextWriter original = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, ExamplesCli.Run(["report-train", _output, "--runs", "dense,atomo-spectral:3"]));
        }
        finally
        {
            Console.SetOut(original);
        }

        string[] lines = output.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal("speedup_to_accuracy=4.00", lines[^1]);
        Assert.Contains("| atomo-spectral s=3 | 15.0 | 20 | 20.00 | 85.50 % | 40.00 | 30.0 | 4.00× |", lines);
        string[] csv = File.ReadAllLines(Path.Combine(_output, "time-to-accuracy.csv"));
        Assert.Equal(TimeToAccuracy.CsvHeader, csv[0]);
        Assert.Equal("atomo-spectral s=3,atomo-spectral,0.85,true,15,20,20000000,0.855,40000000,30,4", csv[2]);
        Assert.Equal(File.ReadAllText(Path.Combine(_output, "time-to-accuracy.md")), string.Join('\n', lines[..^2]) + "\n");
        foreach (string plot in new[] { "accuracy-vs-seconds.png", "accuracy-vs-bytes.png" })
        {
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(_output, plot))[..4]);
        }
    }

    [Theory]
    [InlineData("dense top-k", "Unknown compressor 'top-k'. Use one of: ")]
    [InlineData("atomo-spectral:3", "--runs has no dense run")]
    [InlineData("dense atomo-spectral:3", "dense/summary.json not found: no finished 'dense' run")] // the plan is fine, the runs are missing
    public void ReportTrainRefusesWithOneErrorLine(string runs, string message)
    {
        string error = CliOutput.ErrorOf(["report-train", Path.Combine(_output, "nothing-here"), "--runs", runs]);

        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void ReportTrainCheckReadsNothing()
    {
        TextWriter original = Console.Out;
        Console.SetOut(new StringWriter());
        try
        {
            Assert.Equal(0, ExamplesCli.Run(["report-train", Path.Combine(_output, "nothing-here"), "--runs", "dense atomo-spectral:3", "--check"]));
        }
        finally
        {
            Console.SetOut(original);
        }
    }
}
