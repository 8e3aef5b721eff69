using System.CommandLine;
using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Cli;

/// <summary>The options <c>train</c> and <c>compare</c> share, and how they become <see cref="TrainingSettings"/>.</summary>
internal sealed class TrainingOptions
{
    public Option<int> Ranks { get; } = Positive(new Option<int>("--ranks") { Description = "In-process ranks (threads) when not started by mpiexec or srun; ignored under MPI.", DefaultValueFactory = _ => 4 });

    public Option<string> Model { get; } = new Option<string>("--model") { Description = "mlp (784-256-128-10), cnn (LeNet-5 style) or mlp-wide (784-2048-1024-10, 3.7M parameters).", DefaultValueFactory = _ => "mlp" }.AcceptOnlyFromAmong([.. ModelNames.All]);

    public Option<int> Epochs { get; } = Positive(new Option<int>("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => 2 });

    public Option<int> BatchSize { get; } = Positive(new Option<int>("--batch-size") { Description = "Samples per rank per step (the global batch is N times this).", DefaultValueFactory = _ => 64 });

    public Option<double> LearningRate { get; } = new("--lr") { Description = "SGD learning rate.", DefaultValueFactory = _ => 0.05 };

    public Option<double> Momentum { get; } = new("--momentum") { Description = "SGD momentum (0 for plain SGD).", DefaultValueFactory = _ => 0.9 };

    public Option<int> Seed { get; } = new("--seed") { Description = "Seed for the initial weights, the shuffling and the compressors' sampling.", DefaultValueFactory = _ => 1 };

    public Option<long> MaxSteps { get; } = new("--max-steps") { Description = "Stop after this many steps (0: run all epochs).", DefaultValueFactory = _ => 0 };

    public Option<string> Data { get; } = new("--data") { Description = "Directory with the four Fashion-MNIST IDX files (.gz or not).", DefaultValueFactory = _ => FashionMnist.DefaultDirectory };

    public Option<int> TrainLimit { get; } = new("--train-limit") { Description = "Use only the first N training images (0: all 60,000).", DefaultValueFactory = _ => 0 };

    public Option<int> EvaluationsPerEpoch { get; } = Positive(new Option<int>("--evaluations-per-epoch") { Description = "How often per epoch the test accuracy is measured.", DefaultValueFactory = _ => 4 });

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Ranks, Model, Epochs, BatchSize, LearningRate, Momentum, Seed, MaxSteps, Data, TrainLimit, EvaluationsPerEpoch })
        {
            command.Options.Add(option);
        }
    }

    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public TrainingSettings Settings(ParseResult parsed, Compressor compressor, string outputDirectory)
    {
        double lr = parsed.GetValue(LearningRate), momentum = parsed.GetValue(Momentum);
        if (!(lr > 0) || double.IsInfinity(lr))
        {
            throw new ArgumentException($"--lr must be a positive number, not {lr}.");
        }

        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentException($"--momentum must be in [0, 1), not {momentum}.");
        }

        if (parsed.GetValue(MaxSteps) < 0 || parsed.GetValue(TrainLimit) < 0)
        {
            throw new ArgumentException("--max-steps and --train-limit must not be negative.");
        }

        return new TrainingSettings(
            compressor,
            ModelNames.Parse(parsed.GetValue(Model)!),
            parsed.GetValue(Epochs),
            parsed.GetValue(BatchSize),
            lr,
            momentum,
            parsed.GetValue(Seed),
            outputDirectory,
            parsed.GetValue(MaxSteps),
            parsed.GetValue(Data)!,
            parsed.GetValue(TrainLimit),
            parsed.GetValue(EvaluationsPerEpoch));
    }

    private static Option<int> Positive(Option<int> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError($"{option.Name} must be at least 1.");
            }
        });
        return option;
    }
}
