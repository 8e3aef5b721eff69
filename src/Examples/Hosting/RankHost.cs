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

    private static string DescribeLinearAlgebra() =>
        LinearAlgebraProvider.IsNative ? LinearAlgebraProvider.ActiveProvider : $"{LinearAlgebraProvider.ActiveProvider} ({LinearAlgebraProvider.SelectionReason})";
}
