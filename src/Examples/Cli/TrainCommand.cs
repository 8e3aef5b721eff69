using System.CommandLine;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Cli;

/// <summary><c>train</c>: one data-parallel training run on Fashion-MNIST.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var shared = new TrainingOptions();
        var compressor = new Option<string>("--compressor") { Description = "How gradients are averaged.", DefaultValueFactory = _ => "atomo-spectral" }
            .AcceptOnlyFromAmong([.. Compressor.Names]);
        var budget = new Option<double?>("--budget") { Description = "ATOMO budget: spectral atoms per tensor (default 3); for atomo-coordinate and atomo-fourier, atoms per 512-entry bucket (default 10)." };
        var bits = new Option<int?>("--bits") { Description = "QSGD bits per level (default 4)." };
        var rank = new Option<int?>("--rank") { Description = "PowerSGD's rank: each matrix is sent as rank-r factors (default 1)." };
        var output = new Option<string>("--output") { Description = "Directory for metrics.csv, summary.json and logs/.", DefaultValueFactory = _ => Path.Combine("out", "train") };
        var saveGradients = new Option<string?>("--save-gradients") { Description = "Save every rank's local gradients (before averaging) as .npy files plus manifest.json in this directory (docs/gradient-captures.md)." };
        var saveGradientsAt = new Option<string?>("--save-gradients-at") { Description = "1-based steps to save gradients at, comma-separated (default 1,100,400); needs --save-gradients." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Save a checkpoint (model, momentum, every rank's averager state) in this directory, shared by all ranks, every --checkpoint-every steps and at the end." };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = $"Steps between checkpoints (default {CheckpointSettings.DefaultEvery}); needs --checkpoint." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --checkpoint DIR, if there is one (else start at step 0): what a requeued Slurm job runs." };
        var command = new Command("train", "Data-parallel SGD on Fashion-MNIST with gradients averaged by the chosen compressor (the default command).");
        shared.AddTo(command);
        command.Options.Add(compressor);
        command.Options.Add(budget);
        command.Options.Add(bits);
        command.Options.Add(rank);
        command.Options.Add(output);
        command.Options.Add(saveGradients);
        command.Options.Add(saveGradientsAt);
        command.Options.Add(checkpoint);
        command.Options.Add(checkpointEvery);
        command.Options.Add(resume);
        command.SetAction(parsed => ExamplesCli.Guard(() =>
        {
            Compressor chosen = Compressor.Create(parsed.GetValue(compressor)!, parsed.GetValue(budget), parsed.GetValue(bits), parsed.GetValue(rank));
            TrainingSettings settings = shared.Settings(parsed, chosen, parsed.GetValue(output)!) with
            {
                SaveGradients = CaptureSettings(parsed.GetValue(saveGradients), parsed.GetValue(saveGradientsAt)),
                Checkpoint = CheckpointingSettings(parsed.GetValue(checkpoint), parsed.GetValue(checkpointEvery), parsed.GetValue(resume)),
            };
            settings.SaveGradients?.Prepare();
            return TrainingRuns.Run([settings], parsed.GetValue(shared.Ranks)).ExitCode;
        }));
        return command;
    }

    /// <summary>The settings of <c>--checkpoint DIR [--checkpoint-every N] [--resume]</c>, or none.</summary>
    /// <exception cref="ArgumentException">A step count below 1, or --checkpoint-every or --resume without a directory.</exception>
    internal static CheckpointSettings? CheckpointingSettings(string? directory, int? every, bool resume)
    {
        if (directory is null)
        {
            return every is null && !resume ? null : throw new ArgumentException($"{(resume ? "--resume" : "--checkpoint-every")} needs --checkpoint DIR.");
        }

        if (directory.Trim().Length == 0)
        {
            throw new ArgumentException("--checkpoint needs a directory.");
        }

        if (every is < 1)
        {
            throw new ArgumentException($"--checkpoint-every must be at least 1 step, not {every}.");
        }

        Directory.CreateDirectory(directory);
        return new CheckpointSettings(directory, every ?? CheckpointSettings.DefaultEvery, resume);
    }

    /// <summary>The capture settings of <c>--save-gradients DIR [--save-gradients-at LIST]</c>, or none.</summary>
    /// <exception cref="ArgumentException">A bad step list, or a list without a directory.</exception>
    internal static GradientCaptureSettings? CaptureSettings(string? directory, string? steps)
    {
        if (directory is null)
        {
            return steps is null ? null : throw new ArgumentException("--save-gradients-at needs --save-gradients DIR.");
        }

        if (directory.Trim().Length == 0)
        {
            throw new ArgumentException("--save-gradients needs a directory.");
        }

        return new GradientCaptureSettings(directory, steps is null ? GradientCaptureSettings.DefaultSteps : GradientCaptureSettings.ParseSteps(steps));
    }
}
