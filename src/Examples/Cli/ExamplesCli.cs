using System.CommandLine;

namespace AtomoCollectives.Examples.Cli;

/// <summary>
/// The command line: <c>train</c> (also what runs with no command, so <c>mpiexec -n 16 dotnet Examples.dll</c>
/// trains), <c>compare</c>, <c>bench</c> and <c>demo</c>.
/// </summary>
internal static class ExamplesCli
{
    public static int Run(string[] args)
    {
        var root = new RootCommand(
            "AtomoCollectives examples. With no command, or with options only, runs 'train'. "
            + "Runs in-process (ranks as threads) unless started by mpiexec or srun, then on real MPI ranks.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(Bench.BenchCommand.Create());
        return root.Parse(WithDefaultCommand(args)).Invoke();
    }

    /// <summary>No arguments, or options without a command, mean <c>train</c> with those options.</summary>
    internal static string[] WithDefaultCommand(string[] args)
    {
        bool asksForRootHelp = args.Length > 0 && args[0] is "-h" or "--help" or "-?" or "--version";
        return args.Length == 0 || (args[0].StartsWith('-') && !asksForRootHelp) ? ["train", .. args] : args;
    }
}
