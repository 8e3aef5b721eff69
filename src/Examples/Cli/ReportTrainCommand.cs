using System.CommandLine;
using System.Text.Json;
using AtomoCollectives.Examples.Reporting;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Cli;

/// <summary>
/// <c>report-train DIR --runs "..."</c>: time to accuracy over the runs a <c>compare --output DIR --runs "..."</c>
/// wrote (one sub-directory per run), as <c>bench/netem-train.sh</c> runs it: time-to-accuracy.md and .csv, the
/// plots with the target marked, and as the last line of output <c>speedup_to_accuracy=X</c> (dense's time to the
/// target ÷ the first atomo-spectral run's) or, after a line giving the reason, <c>speedup_to_accuracy=none</c>.
/// With <c>--check</c> it only checks the run list and target, before any training.
/// </summary>
internal static class ReportTrainCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("DIR") { Description = "The compare --output directory: one sub-directory per run with metrics.csv and summary.json." };
        var runs = new Option<string>("--runs") { Description = "The run list given to compare (names or name:value, with @time or not, separated by spaces or commas).", Required = true };
        var target = new Option<double?>("--target-accuracy") { Description = "Target test accuracy in percent (default: the dense run's final accuracy − 1 point; dense must then be among --runs)." };
        var check = new Option<bool>("--check") { Description = "Only check --runs and --target-accuracy (exit 1 with one error line if they cannot be reported on); read nothing." };
        var command = new Command("report-train", "Time to accuracy of the runs of one compare (bench/netem-train.sh): table, plots and speedup_to_accuracy=X.");
        command.Arguments.Add(directory);
        command.Options.Add(runs);
        command.Options.Add(target);
        command.Options.Add(check);
        command.SetAction(parsed => ExamplesCli.Guard(() =>
        {
            Compressor[] compressors = Compressor.ParseList(parsed.GetValue(runs)!);
            double? chosen = TimeToAccuracy.CheckPlan(compressors, parsed.GetValue(target));
            if (parsed.GetValue(check))
            {
                return 0;
            }

            string root = parsed.GetValue(directory)!;
            TimeToAccuracy.Run[] loaded = [.. compressors.Select(c => Load(root, c))];
            TimeToAccuracy.Result result = TimeToAccuracy.Compute(loaded, chosen);
            string table = TimeToAccuracy.Markdown(result);
            File.WriteAllText(Path.Combine(root, "time-to-accuracy.md"), table);
            File.WriteAllText(Path.Combine(root, "time-to-accuracy.csv"), TimeToAccuracy.Csv(result));
            ComparisonReport.WritePlots([.. loaded.Select(r => new ComparisonReport.Run(r.Summary, r.Metrics))], root, result.Target);
            Console.Write(table);
            Console.WriteLine($"Table, CSV and plots (accuracy-vs-seconds.png, accuracy-vs-bytes.png) in {Path.GetFullPath(root)}");
            if (result.NoSpeedupReason is { } reason)
            {
                Console.WriteLine($"no speedup to accuracy: {reason}");
            }

            Console.WriteLine(TimeToAccuracy.SpeedupLine(result));
            return 0;
        }));
        return command;
    }

    /// <exception cref="FileNotFoundException">The run's directory lacks metrics.csv or summary.json.</exception>
    /// <exception cref="InvalidDataException">One of them is malformed.</exception>
    private static TimeToAccuracy.Run Load(string root, Compressor compressor)
    {
        string runDirectory = Path.Combine(root, compressor.DirectoryName);
        string summaryPath = Path.Combine(runDirectory, "summary.json"), metricsPath = Path.Combine(runDirectory, "metrics.csv");
        foreach (string path in new[] { summaryPath, metricsPath })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path} not found: no finished '{compressor.Label}' run in {root} (run compare --runs with the same list and --output {root} first).", path);
            }
        }

        RunSummary summary;
        try
        {
            summary = RunSummary.Read(summaryPath);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{summaryPath} is not a run summary: {e.Message}", e);
        }

        return new TimeToAccuracy.Run(compressor, summary, MetricsCsv.Read(metricsPath));
    }
}
