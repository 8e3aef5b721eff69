using AtomoCollectives.Examples.Cli;
using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Reporting;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Training;

/// <summary>
/// <c>train --checkpoint DIR --resume</c>: a run stopped after a checkpoint and resumed ends bitwise identical to one
/// that ran through, for every averager that carries state between calls (and dense, whose state is its step).
/// </summary>
[Collection("Training")]
public sealed class CheckpointTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("checkpoint-tests-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    private TrainingSettings Settings(string compressor, string name, CheckpointSettings? checkpoint) => new(
        Compressor.Parse(compressor), ModelKind.Mlp, Epochs: 2, BatchSize: 32, LearningRate: 0.05, Momentum: 0.9, Seed: 3,
        Path.Combine(_output, name), MaxSteps: 0, FashionMnist.DefaultDirectory, TrainLimit: 1024, EvaluationsPerEpoch: 2, Checkpoint: checkpoint);

    /// <summary>
    /// 2 ranks, 1,024 images: 16 steps per epoch, 32 in all. The interrupted run stops after step 21 (inside the second
    /// epoch, between two checkpoints every 5 steps, so its last one is at 20), then resumes from step 20.
    /// </summary>
    [Theory]
    [InlineData("atomo-spectral:3")]
    [InlineData("powersgd:2")]
    [InlineData("qsgd")]
    [InlineData("dense")]
    public void A_stopped_and_resumed_run_ends_bitwise_identical(string compressor)
    {
        string name = compressor.Replace(':', '_');
        RunSummary through = TrainingRuns.Run([Settings(compressor, $"{name}-through", null)], 2).Summaries[0];

        string checkpoints = Path.Combine(_output, $"{name}-checkpoints");
        TrainingSettings stopped = Settings(compressor, $"{name}-resumed", new CheckpointSettings(checkpoints, 5, Resume: false)) with { MaxSteps = 21 };
        Assert.Equal(21, TrainingRuns.Run([stopped], 2).Summaries[0].Steps);
        Assert.Equal("step-000000021", File.ReadAllText(Path.Combine(checkpoints, "latest")));

        // The job is "killed" after step 21's checkpoint: point latest back at step 20, as if 21 had not been reached.
        File.WriteAllText(Path.Combine(checkpoints, "latest"), "step-000000020");
        RunSummary resumed = TrainingRuns.Run([Settings(compressor, $"{name}-resumed", new CheckpointSettings(checkpoints, 5, Resume: true))], 2).Summaries[0];

        Assert.Equal(32, resumed.Steps);
        Assert.True(resumed.ReplicasIdentical);
        Assert.Equal(through.ParameterChecksum, resumed.ParameterChecksum);
        Assert.Equal(through.FinalTestAccuracy, resumed.FinalTestAccuracy);
        Assert.Equal(through.BytesSentPerRank, resumed.BytesSentPerRank);

        // metrics.csv continues: one row per step, 1…32, the stopped run's step 21 replaced by the resumed run's.
        IReadOnlyList<StepMetrics> metrics = MetricsCsv.Read(Path.Combine(stopped.OutputDirectory, "metrics.csv"));
        Assert.Equal(Enumerable.Range(1, 32).Select(s => (long)s), metrics.Select(m => m.Step));
        Assert.Equal(2, Directory.GetDirectories(checkpoints, "step-*").Length);
    }

    [Fact]
    public void Resume_without_a_checkpoint_starts_at_step_zero()
    {
        string checkpoints = Path.Combine(_output, "empty");
        RunSummary first = TrainingRuns.Run([Settings("dense", "fresh", new CheckpointSettings(checkpoints, 100, Resume: true)) with { MaxSteps = 4 }], 2).Summaries[0];
        Assert.Equal(4, first.Steps);
        Assert.Equal("step-000000004", File.ReadAllText(Path.Combine(checkpoints, "latest")));
    }

    [Fact]
    public void A_checkpoint_of_another_run_is_refused_on_every_rank()
    {
        string checkpoints = Path.Combine(_output, "other");
        TrainingRuns.Run([Settings("atomo-spectral:3", "first", new CheckpointSettings(checkpoints, 5, Resume: false)) with { MaxSteps = 5 }], 2);
        AggregateException error = Assert.Throws<AggregateException>(() => TrainingRuns.Run([Settings("atomo-spectral:3", "second", new CheckpointSettings(checkpoints, 5, Resume: true)) with { LearningRate = 0.1 }], 2));
        Assert.Equal(2, error.InnerExceptions.Count);
        Assert.All(error.InnerExceptions, e => Assert.Contains("The checkpoint is of another run: it was saved by \"MLP 784-256-128-10, 235,146 parameters; atomo-spectral s=3; 2 ranks; batch 32; lr 0.05;", Assert.IsType<InvalidDataException>(e).Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_damaged_averager_state_is_refused_on_every_rank()
    {
        string checkpoints = Path.Combine(_output, "damaged");
        TrainingRuns.Run([Settings("powersgd:2", "first", new CheckpointSettings(checkpoints, 5, Resume: false)) with { MaxSteps = 5 }], 2);
        string state = Path.Combine(checkpoints, "step-000000005", "averager-rank-1.bin");
        byte[] bytes = File.ReadAllBytes(state);
        bytes[bytes.Length / 2] ^= 1;
        File.WriteAllBytes(state, bytes);
        AggregateException error = Assert.Throws<AggregateException>(() => TrainingRuns.Run([Settings("powersgd:2", "second", new CheckpointSettings(checkpoints, 5, Resume: true))], 2));
        string[] messages = [.. error.InnerExceptions.Select(e => Assert.IsType<InvalidDataException>(e).Message).Order(StringComparer.Ordinal)];
        Assert.Equal(2, messages.Length);
        Assert.EndsWith("1 other rank(s) failed.", messages[0], StringComparison.Ordinal);
        Assert.EndsWith("checksum does not match: the file was truncated or corrupted.", messages[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, 5, false, "--checkpoint-every needs --checkpoint DIR.")]
    [InlineData(null, null, true, "--resume needs --checkpoint DIR.")]
    [InlineData(" ", null, false, "--checkpoint needs a directory.")]
    [InlineData("dir", 0, false, "--checkpoint-every must be at least 1 step, not 0.")]
    public void Bad_checkpoint_options_are_refused(string? directory, int? every, bool resume, string message)
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => TrainCommand.CheckpointingSettings(string.IsNullOrWhiteSpace(directory) ? directory : Path.Combine(_output, directory), every, resume));
        Assert.Equal(message, error.Message);
    }
}
