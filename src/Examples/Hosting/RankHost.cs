using Microsoft.Extensions.Logging;

namespace AtomoCollectives.Examples.Hosting;

/// <summary>
/// Runs a per-rank program on the MPI world when the process was started by <c>mpiexec</c> or <c>srun</c>,
/// and on in-process ranks (threads) otherwise, and says which in one log line.
/// </summary>
internal static class RankHost
{
    /// <summary>
    /// Runs <paramref name="body"/> on every rank and returns the process's exit code (the largest of its ranks').
    /// Under MPI, a rank that throws aborts the whole job (the others would wait for it forever).
    /// </summary>
    /// <param name="inProcessRanks">Ranks to start when not launched by MPI (ignored under MPI).</param>
    /// <param name="body">The per-rank program.</param>
    /// <exception cref="AggregateException">In-process: one or more ranks threw.</exception>
    public static int Run(int inProcessRanks, Func<ICommunicator, int> body)
    {
        ILogger logger = ExampleLogging.Factory.CreateLogger("Examples");
        if (!MpiEnvironment.IsLaunchedByMpi)
        {
            if (SlurmTasksWithoutMpi(Environment.GetEnvironmentVariable) is string problem)
            {
                Console.Error.WriteLine($"error: {problem}");
                return 1;
            }

            using (ExampleLogging.EnterRank(0))
            {
                logger.LogInformation("{Ranks} in-process ranks (not started by mpiexec or srun); linear algebra: {Provider}", inProcessRanks, DescribeLinearAlgebra());
            }

            int[] codes = InProcessCluster.Run(inProcessRanks, world =>
            {
                using (ExampleLogging.EnterRank(world.Rank))
                {
                    return body(world);
                }
            });
            return codes.Max();
        }

        using var mpi = MpiEnvironment.Initialize();
        ICommunicator world = mpi.World;
        using (ExampleLogging.EnterRank(world.Rank))
        {
            if (world.Rank == 0)
            {
                logger.LogInformation("{Ranks} MPI ranks ({Implementation}); linear algebra: {Provider}", world.Size, mpi.Implementation, DescribeLinearAlgebra());
            }

            try
            {
                return body(world);
            }
#pragma warning disable CA1031 // Any failure must end the whole job, not leave the other ranks waiting.
            catch (Exception e)
#pragma warning restore CA1031
            {
                logger.LogError(e, "Rank {Rank} failed", world.Rank);
                ExampleLogging.Flush();
                if (world.Size == 1)
                {
                    throw;
                }

                mpi.Abort($"{e.GetType().Name}: {e.Message}");
                return 1;
            }
        }
    }

    /// <summary>
    /// A message when this process is one of several tasks of a Slurm step that has no MPI process-management
    /// interface (plain <c>srun</c> with <c>MpiDefault=none</c>, or <c>--mpi=none</c>): every task would train alone
    /// on in-process ranks and the results would silently be N unrelated runs. <see langword="null"/> otherwise.
    /// </summary>
    internal static string? SlurmTasksWithoutMpi(Func<string, string?> environment)
    {
        string? tasks = environment("SLURM_STEP_NUM_TASKS");
        if (tasks is null || !int.TryParse(tasks, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int count) || count < 2)
        {
            return null;
        }

        return $"started by srun as one of {count} tasks (task {environment("SLURM_PROCID") ?? "?"}), but srun gave the tasks no MPI "
            + "process-management interface (no PMI_*, PMIX_* or OMPI_* variables), so each would train alone. "
            + "Launch with srun --mpi=pmix (Open MPI) or srun --mpi=pmi2 (MPICH); 'srun --mpi=list' shows what this Slurm offers.";
    }

    private static string DescribeLinearAlgebra() =>
        LinearAlgebraProvider.IsNative ? LinearAlgebraProvider.ActiveProvider : $"{LinearAlgebraProvider.ActiveProvider} ({LinearAlgebraProvider.SelectionReason})";
}
