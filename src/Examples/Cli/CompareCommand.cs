using System.CommandLine;
using AtomoCollectives.Examples.Reporting;
using AtomoCollectives.Examples.Training;
using Spectre.Console;

namespace AtomoCollectives.Examples.Cli;

/// <summary><c>compare</c>: the same training with several compressors, then plots and a table.</summary>
internal static class CompareCommand
{
    public const string DefaultRuns = "dense atomo-spectral:1 atomo-spectral:2 atomo-spectral:3 atomo-coordinate atomo-fourier qsgd:2 qsgd:4 terngrad";

    public static Command Create()
    {
        var shared = new TrainingOptions();
        var runs = new Option<string>("--runs")
        {
            Description = "Compressors to compare, separated by spaces or commas: name or name:value (the budget; bits for qsgd; the rank for powersgd); @time after an ATOMO-family one routes it by time, the library's default (else by bytes, so that runs repeat bit for bit).",
            DefaultValueFactory = _ => DefaultRuns,
        };
        var output = new Option<string>("--output") { Description = "Directory for one sub-directory per run, the plots and comparison.md.", DefaultValueFactory = _ => Path.Combine("out", "compare") };
        var command = new Command("compare", "Train once per compressor with the same settings and seed; write accuracy-vs-step.png, accuracy-vs-seconds.png, accuracy-vs-bytes.png and comparison.md.");
        shared.AddTo(command);
        command.Options.Add(runs);
        command.Options.Add(output);
        command.SetAction(parsed => ExamplesCli.Guard(() =>
        {
            string directory = parsed.GetValue(output)!;
            Compressor[] compressors = Compressor.ParseList(parsed.GetValue(runs)!);
            if (compressors.Length == 0)
            {
                throw new ArgumentException("--runs names no compressor.");
            }

            TrainingSettings[] settings = [.. compressors.Select(c => shared.Settings(parsed, c, Path.Combine(directory, c.DirectoryName)))];
            (IReadOnlyList<RunSummary> summaries, int exitCode) = TrainingRuns.Run(settings, parsed.GetValue(shared.Ranks));
            if (summaries.Count > 0 && summaries[0] is not null)
            {
                Report(summaries, settings, directory);
            }

            return exitCode;
        }));
        return command;
    }

    private static void Report(IReadOnlyList<RunSummary> summaries, TrainingSettings[] settings, string directory)
    {
        ComparisonReport.Run[] runs = [.. summaries.Select((s, i) => new ComparisonReport.Run(s, MetricsCsv.Read(Path.Combine(settings[i].OutputDirectory, "metrics.csv"))))];
        ComparisonReport.WritePlots(runs, directory);
        string table = ComparisonReport.Table(summaries);
        File.WriteAllText(Path.Combine(directory, "comparison.md"), table);
        var console = new Table().AddColumns("compressor", "test accuracy", "MB sent/rank", "vs dense", "wall s", "encode s", "exchange s", "decode s");
        foreach (RunSummary s in summaries)
        {
            console.AddRow(Markup.Escape(s.Label), $"{100 * s.FinalTestAccuracy:F2} %", $"{s.BytesSentPerRank / 1e6:F2}", $"{s.CompressionRatio:F1}×", $"{s.WallSeconds:F1}", $"{s.EncodeSeconds:F2}", $"{s.ExchangeSeconds:F2}", $"{s.DecodeSeconds:F2}");
        }

        AnsiConsole.Write(console);
        AnsiConsole.WriteLine($"Plots and comparison.md in {Path.GetFullPath(directory)}");
    }
}
