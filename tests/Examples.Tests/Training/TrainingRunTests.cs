using System.Text.Json;
using AtomoCollectives.Examples.Cli;
using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Reporting;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Training;

/// <summary>Short data-parallel runs on a slice of the real Fashion-MNIST (installed by scripts/install-dependencies.sh).</summary>
[Collection("Training")]
public sealed class TrainingRunTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("train-tests-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    private TrainingSettings Settings(string compressor, string name) => new(
        Compressor.Parse(compressor), ModelKind.Mlp, Epochs: 1, BatchSize: 32, LearningRate: 0.05, Momentum: 0.9, Seed: 7,
        Path.Combine(_output, name), MaxSteps: 0, FashionMnist.DefaultDirectory, TrainLimit: 4096, EvaluationsPerEpoch: 2);

    [Theory]
    [InlineData("dense")]
    [InlineData("atomo-spectral:3")]
    [InlineData("powersgd:2")]
    public void TwoRanksLearnFashionMnist(string compressor)
    {
        TrainingSettings settings = Settings(compressor, compressor.Replace(':', '_'));
        (IReadOnlyList<RunSummary> summaries, int exitCode) = TrainingRuns.Run([settings], inProcessRanks: 2);

        Assert.Equal(0, exitCode);
        RunSummary summary = summaries[0];
        Assert.Equal(64, summary.Steps); // 4096 images / 2 ranks / 32 per batch
        Assert.True(summary.ReplicasIdentical, "both ranks must end with bitwise-identical parameters");
        Assert.False(summary.Diverged);

        // Chance is 10 %; 64 steps of SGD on 4,096 images reach about 70 % on the 10,000 test images.
        Assert.True(summary.FinalTestAccuracy > 0.5, $"test accuracy {summary.FinalTestAccuracy:P1} is not well above chance (10 %)");

        // The loss starts near ln 10 ≈ 2.30 (uniform predictions); after an epoch it must have fallen clearly.
        IReadOnlyList<StepMetrics> metrics = MetricsCsv.Read(Path.Combine(settings.OutputDirectory, "metrics.csv"));
        Assert.Equal(64, metrics.Count);
        Assert.InRange(metrics[0].TrainLoss, 1.9, 2.8);
        double lateLoss = metrics.TakeLast(16).Average(m => m.TrainLoss);
        Assert.True(lateLoss < 0.6 * metrics[0].TrainLoss, $"the loss went from {metrics[0].TrainLoss:F3} to {lateLoss:F3} (mean of the last 16 steps)");

        if (compressor == "dense")
        {
            Assert.Equal(summary.DenseEquivalentBytes, summary.BytesSentPerRank);
        }
        else
        {
            Assert.True(summary.BytesSentPerRank * 10 < summary.DenseEquivalentBytes, $"{compressor} sent {summary.BytesSentPerRank} bytes, dense would send {summary.DenseEquivalentBytes}");
            Assert.True(summary.EncodeSeconds > 0 && summary.DecodeSeconds > 0);
        }

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(settings.OutputDirectory, "summary.json")));
        foreach (string field in new[] { "finalTestAccuracy", "bytesSentPerRank", "denseEquivalentBytes", "wallSeconds", "encodeSeconds", "exchangeSeconds", "decodeSeconds" })
        {
            Assert.True(json.RootElement.TryGetProperty(field, out JsonElement value) && value.ValueKind == JsonValueKind.Number, $"summary.json lacks the number {field}");
        }

        Assert.True(File.Exists(Path.Combine(settings.OutputDirectory, "logs", "rank-0.log")));
        Assert.True(File.Exists(Path.Combine(settings.OutputDirectory, "logs", "rank-1.log")));
    }

    [Fact]
    public void TheCnnLearnsWithSpectralAtomsOnItsKernels()
    {
        TrainingSettings settings = Settings("atomo-spectral:3", "cnn") with { Model = ModelKind.Cnn };
        RunSummary summary = TrainingRuns.Run([settings], 2).Summaries[0];
        Assert.True(summary.ReplicasIdentical);
        Assert.Contains("CNN", summary.Model, StringComparison.Ordinal);

        // conv2 (16×5×5×6, viewed as 16×150) and the fully connected weights are compressed; conv1 (150 entries)
        // and the biases go dense: still far fewer bytes than dense.
        Assert.True(summary.BytesSentPerRank * 5 < summary.DenseEquivalentBytes, $"{summary.BytesSentPerRank} bytes sent, dense {summary.DenseEquivalentBytes}");
        IReadOnlyList<StepMetrics> metrics = MetricsCsv.Read(Path.Combine(settings.OutputDirectory, "metrics.csv"));
        double lateLoss = metrics.TakeLast(16).Average(m => m.TrainLoss);
        Assert.True(lateLoss < 0.75 * metrics[0].TrainLoss, $"the loss went from {metrics[0].TrainLoss:F3} to {lateLoss:F3}");
        Assert.True(summary.FinalTestAccuracy > 0.4, $"test accuracy {summary.FinalTestAccuracy:P1} (chance 10 %)");
    }

    /// <summary>mlp-wide (3.7M parameters) trains like the small MLP: 64 steps on 4,096 images are well above chance.</summary>
    [Fact]
    public void TheWideMlpLearns()
    {
        TrainingSettings settings = Settings("atomo-spectral:3", "mlp-wide") with { Model = ModelKind.WideMlp };
        RunSummary summary = TrainingRuns.Run([settings], 2).Summaries[0];

        Assert.True(summary.ReplicasIdentical);
        Assert.Equal(64, summary.Steps);
        Assert.Contains("784-2048-1024-10, 3,716,106 parameters", summary.Model, StringComparison.Ordinal);
        Assert.True(summary.FinalTestAccuracy > 0.5, $"test accuracy {summary.FinalTestAccuracy:P1} (chance 10 %)");
        Assert.True(summary.BytesSentPerRank * 100 < summary.DenseEquivalentBytes, $"{summary.BytesSentPerRank} bytes sent, dense {summary.DenseEquivalentBytes}");
    }

    /// <summary>
    /// trainingWallSeconds is the wall clock without evaluations: the gap to wallSeconds grows only at the rows that
    /// measured the test accuracy (the evaluation ran before the row was written) and ends at summary.json's evaluationSeconds.
    /// </summary>
    [Fact]
    public void TrainingWallSecondsLeaveTheEvaluationsOut()
    {
        TrainingSettings settings = Settings("dense", "wall") with { EvaluationsPerEpoch = 8 };
        RunSummary summary = TrainingRuns.Run([settings], 2).Summaries[0];
        IReadOnlyList<StepMetrics> metrics = MetricsCsv.Read(Path.Combine(settings.OutputDirectory, "metrics.csv"));

        double gap = 0;
        foreach (StepMetrics m in metrics)
        {
            double next = m.WallSeconds - m.TrainingWallSeconds;
            if (m.TestAccuracy is null)
            {
                Assert.Equal(gap, next, 5e-5); // the CSV's G6: each value within 10⁻⁵ s here
            }
            else
            {
                Assert.True(next > gap, $"step {m.Step}: an evaluation took no time ({gap} → {next} s)");
            }

            Assert.True(m.TrainingWallSeconds > 0 && m.TrainingWallSeconds <= m.WallSeconds + 5e-5);
            gap = next;
        }

        Assert.Equal(8, metrics.Count(m => m.TestAccuracy is not null)); // every 8th of the 64 steps (the last among them)
        Assert.Equal(summary.EvaluationSeconds, gap, 5e-5);
        Assert.True(metrics.Zip(metrics.Skip(1)).All(p => p.Second.TrainingWallSeconds >= p.First.TrainingWallSeconds - 5e-5));
    }

    [Fact]
    public void TheSameSeedGivesTheSameRunBitForBit()
    {
        RunSummary first = TrainingRuns.Run([Settings("atomo-spectral:2", "a") with { MaxSteps = 10 }], 2).Summaries[0];
        RunSummary second = TrainingRuns.Run([Settings("atomo-spectral:2", "b") with { MaxSteps = 10 }], 2).Summaries[0];
        Assert.Equal(first.ParameterChecksum, second.ParameterChecksum);
        Assert.Equal(first.BytesSentPerRank, second.BytesSentPerRank);
    }

    [Fact]
    public void CompareWritesPlotsAndATableForEveryCompressor()
    {
        string directory = Path.Combine(_output, "compare");
        int exitCode = ExamplesCli.Run([
            "compare", "--runs", "dense,atomo-spectral:1,qsgd:2,terngrad", "--ranks", "2", "--max-steps", "6", "--train-limit", "2048",
            "--batch-size", "32", "--evaluations-per-epoch", "8", "--output", directory]);

        Assert.Equal(0, exitCode);
        foreach (string plot in new[] { "accuracy-vs-step.png", "accuracy-vs-seconds.png", "accuracy-vs-bytes.png" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(directory, plot));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        }

        string[] table = File.ReadAllLines(Path.Combine(directory, "comparison.md"));
        Assert.Equal(2 + 4, table.Length);
        Assert.Contains(table, line => line.StartsWith("| qsgd 2-bit |", StringComparison.Ordinal));
        Assert.Contains(table, line => line.StartsWith("| atomo-spectral s=1 |", StringComparison.Ordinal));
    }
}
