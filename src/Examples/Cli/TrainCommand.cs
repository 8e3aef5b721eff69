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
        var output = new Option<string>("--output") { Description = "Directory for metrics.csv, summary.json and logs/.", DefaultValueFactory = _ => Path.Combine("out", "train") };
        var command = new Command("train", "Data-parallel SGD on Fashion-MNIST with gradients averaged by the chosen compressor (the default command).");
        shared.AddTo(command);
        command.Options.Add(compressor);
        command.Options.Add(budget);
        command.Options.Add(bits);
        command.Options.Add(output);
        command.SetAction(parsed => ExamplesCli.Guard(() =>
        {
            Compressor chosen = Compressor.Create(parsed.GetValue(compressor)!, parsed.GetValue(budget), parsed.GetValue(bits));
            TrainingSettings settings = shared.Settings(parsed, chosen, parsed.GetValue(output)!);
            return TrainingRuns.Run([settings], parsed.GetValue(shared.Ranks)).ExitCode;
        }));
        return command;
    }
}
