using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Hosting;
using AtomoCollectives.Examples.Training;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives.Examples.Cli;

/// <summary>Loads the data once per process and runs one or more trainings on the ranks (MPI or in-process).</summary>
internal static class TrainingRuns
{
    /// <summary>Runs every settings in turn on the same ranks; returns the summaries (rank 0's) and the exit code.</summary>
    public static (IReadOnlyList<RunSummary> Summaries, int ExitCode) Run(IReadOnlyList<TrainingSettings> runs, int inProcessRanks)
    {
        TrainingSettings first = runs[0];
        ILogger logger = ExampleLogging.Factory.CreateLogger("Examples");
        LabeledImages train = FashionMnist.Load(first.DataDirectory, training: true, first.TrainLimit);
        LabeledImages test = FashionMnist.Load(first.DataDirectory, training: false);
        using (ExampleLogging.EnterRank(0))
        {
            logger.LogDebug("Loaded {Train:N0} training and {Test:N0} test images from {Directory}", train.Count, test.Count, first.DataDirectory);
        }

        var summaries = new RunSummary[runs.Count];
        int exitCode = RankHost.Run(inProcessRanks, world =>
        {
            string transport = MpiEnvironment.IsLaunchedByMpi ? "mpi" : "in-process";
            bool allIdentical = true;
            for (int i = 0; i < runs.Count; i++)
            {
                ExampleLogging.WriteFilesTo(Path.Combine(runs[i].OutputDirectory, "logs")); // every process: under MPI each has its own logging
                world.Barrier(); // no rank logs into the previous run's directory after another has moved on
                RunSummary summary = Trainer.Run(world, runs[i], train, test, transport);
                allIdentical &= summary.ReplicasIdentical;
                if (world.Rank == 0)
                {
                    summaries[i] = summary;
                }
            }

            return allIdentical ? 0 : 3;
        });
        ExampleLogging.Flush();
        return (summaries, exitCode);
    }
}
