using System.CommandLine;

namespace AtomoCollectives.Examples.Cli;

/// <summary><c>demo [length]</c>: the single-process estimator check (no training, no MPI).</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var length = new Argument<int>("length")
        {
            Description = "Entries in the synthetic gradient.",
            DefaultValueFactory = _ => 1 << 20,
        };
        length.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("length must be at least 1.");
            }
        });
        var command = new Command("demo", "Sparsify a synthetic gradient with coordinate ATOMO, TernGrad and QSGD; print exact vs measured variance and the bias.") { length };
        command.SetAction(parsed => EstimatorDemo.Run(parsed.GetValue(length)));
        return command;
    }
}
