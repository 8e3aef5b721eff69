using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace AtomoCollectives.Examples.Reporting;

/// <summary>
/// Live progress on rank 0: a Spectre.Console bar when the console is interactive, otherwise a log line about every
/// tenth of the run (pipes, mpiexec, CI). Other ranks show nothing.
/// </summary>
internal static class ProgressDisplay
{
    /// <summary>Runs <paramref name="work"/>, which reports (steps done, status text) through the callback it is given.</summary>
    public static void Run(bool show, string title, long totalSteps, ILogger logger, Action<Action<long, string>> work)
    {
        if (!show)
        {
            work((_, _) => { });
            return;
        }

        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    ProgressTask task = context.AddTask(Markup.Escape(title), maxValue: totalSteps);
                    work((done, status) =>
                    {
                        task.Value = done;
                        task.Description = Markup.Escape($"{title} {status}");
                    });
                });
            return;
        }

        long every = Math.Max(1, totalSteps / 10), next = every;
        work((done, status) =>
        {
            if (done >= next || done == totalSteps)
            {
                logger.LogInformation("{Title}: step {Done}/{Total} {Status}", title, done, totalSteps, status);
                next = done + every;
            }
        });
    }
}
