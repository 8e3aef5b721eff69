using System.CommandLine;

namespace AtomoCollectives.Examples.Cli;

/// <summary>
/// The command line: <c>train</c> (also what runs with no command, so <c>mpiexec -n 16 dotnet Examples.dll</c>
/// trains), <c>compare</c>, <c>report-train</c>, <c>bench</c> and <c>demo</c>.
/// </summary>
internal static class ExamplesCli
{
    public static int Run(string[] args)
    {
        var root = new RootCommand(
            "AtomoCollectives examples. With no command, or with options only, runs 'train'. "
            + "Runs in-process (ranks as threads) unless started by mpiexec or srun, then on real MPI ranks.");
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(ReportTrainCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(Bench.BenchCommand.Create());
        return root.Parse(WithDefaultCommand(args)).Invoke();
    }

    /// <summary>
    /// Runs a command's work and turns the errors a user can fix (missing or corrupt data, bad values) into one
    /// line on standard error and exit code 1, instead of a stack trace.
    /// </summary>
    public static int Guard(Func<int> work)
    {
        try
        {
            return work();
        }
        catch (Exception e) when (Unwrap(e) is FileNotFoundException or Data.IdxFormatException or ArgumentException or FormatException or MpiException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {UserMessage(Unwrap(e))}");
            return 1;
        }
    }

    /// <summary>The message without .NET's " (Parameter 'x')" suffix, which names a C# parameter, not an option.</summary>
    private static string UserMessage(Exception e) =>
        e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerExceptions.Count: > 0 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : e;

    /// <summary>No arguments, or options without a command, mean <c>train</c> with those options.</summary>
    internal static string[] WithDefaultCommand(string[] args)
    {
        bool asksForRootHelp = args.Length > 0 && args[0] is "-h" or "--help" or "-?" or "--version";
        return args.Length == 0 || (args[0].StartsWith('-') && !asksForRootHelp) ? ["train", .. args] : args;
    }
}
