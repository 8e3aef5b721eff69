using AtomoCollectives.Examples.Hosting;

namespace AtomoCollectives.Examples.Tests.Hosting;

public sealed class RankHostTests
{
    [Fact]
    public void SeveralSlurmTasksWithoutMpiAreRefusedWithTheFix()
    {
        var environment = new Dictionary<string, string> { ["SLURM_STEP_NUM_TASKS"] = "4", ["SLURM_PROCID"] = "2" };

        string? problem = RankHost.SlurmTasksWithoutMpi(environment.GetValueOrDefault);

        Assert.NotNull(problem);
        Assert.StartsWith("started by srun as one of 4 tasks (task 2)", problem, StringComparison.Ordinal);
        Assert.Contains("srun --mpi=pmix", problem, StringComparison.Ordinal);
        Assert.Contains("srun --mpi=pmi2", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]   // not under srun: in-process ranks, as documented
    [InlineData("1")]    // srun -n 1: a single task may run its ranks in-process
    [InlineData("x")]
    [InlineData("-3")]
    public void OtherwiseInProcessRanksAreFine(string? tasks)
    {
        var environment = new Dictionary<string, string>();
        if (tasks is not null)
        {
            environment["SLURM_STEP_NUM_TASKS"] = tasks;
        }

        Assert.Null(RankHost.SlurmTasksWithoutMpi(environment.GetValueOrDefault));
    }
}
