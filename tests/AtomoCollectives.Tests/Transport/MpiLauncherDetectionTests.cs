namespace AtomoCollectives.Tests.Transport;

/// <summary>
/// Which launcher started the process, and how many ranks it started, judged from environment variables only
/// (the variables each launcher was seen to set: Open MPI's mpiexec, MPICH's Hydra, Slurm 22.05's
/// <c>srun --mpi=pmi2</c> and <c>srun --mpi=pmix</c>).
/// </summary>
public sealed class MpiLauncherDetectionTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.TryGetValue(name, out string? value) ? value : null;
    }

    /// <summary>What <c>srun --mpi=pmix -n 2</c> sets for rank 1 (Slurm 22.05, PMIx 4.2).</summary>
    private static readonly (string, string)[] SrunPmix =
    [
        ("PMIX_RANK", "1"), ("PMIX_NAMESPACE", "slurm.pmix.7.0"), ("PMIX_SERVER_URI4", "pmix-server.23000;tcp4://127.0.0.1:33035"),
        ("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2"), ("SLURM_STEP_NUM_TASKS", "2"), ("SLURM_STEP_ID", "0"),
    ];

    [Fact]
    public void NoLauncherVariables_IsNone()
    {
        Assert.Equal(MpiEnvironment.Launcher.None, MpiEnvironment.DetectLauncher(Env()));
        // Inside an sbatch script but outside srun: Slurm variables alone do not make an MPI launch.
        Assert.Equal(MpiEnvironment.Launcher.None, MpiEnvironment.DetectLauncher(Env(("SLURM_JOB_ID", "7"), ("SLURM_NTASKS", "2"), ("SLURM_PROCID", "0"))));
    }

    [Fact]
    public void OpenMpiMpiexec_IsOpenMpi_WithItsWorldSize()
    {
        var env = Env(("OMPI_COMM_WORLD_SIZE", "16"), ("OMPI_COMM_WORLD_RANK", "3"), ("PMIX_RANK", "3"), ("PMIX_NAMESPACE", "prterun-vm-1@1"));
        Assert.Equal(MpiEnvironment.Launcher.OpenMpi, MpiEnvironment.DetectLauncher(env));
        Assert.Equal(16, MpiEnvironment.ExpectedWorldSize(MpiEnvironment.Launcher.OpenMpi, env));
    }

    [Fact]
    public void HydraOrSrunPmi2_IsPmi_WithPmiSize()
    {
        var srunPmi2 = Env(("PMI_FD", "11"), ("PMI_JOBID", "2.0"), ("PMI_RANK", "0"), ("PMI_SIZE", "2"), ("SLURM_STEP_NUM_TASKS", "2"));
        Assert.Equal(MpiEnvironment.Launcher.Hydra, MpiEnvironment.DetectLauncher(srunPmi2));
        Assert.Equal(2, MpiEnvironment.ExpectedWorldSize(MpiEnvironment.Launcher.Hydra, srunPmi2));
        Assert.Equal(MpiEnvironment.Launcher.Hydra, MpiEnvironment.DetectLauncher(Env(("PMI_RANK", "0"))));
    }

    [Fact]
    public void SrunPmix_IsPmix_WithTheStepsTaskCount()
    {
        var env = Env(SrunPmix);
        Assert.Equal(MpiEnvironment.Launcher.Pmix, MpiEnvironment.DetectLauncher(env));
        Assert.Equal(2, MpiEnvironment.ExpectedWorldSize(MpiEnvironment.Launcher.Pmix, env));
    }

    [Fact]
    public void PmixOutsideSlurm_HasNoExpectedSize()
    {
        // An inner PMIx launcher (not Slurm's plugin) inherits SLURM_STEP_NUM_TASKS from an outer step: ignore it.
        var env = Env(("PMIX_RANK", "0"), ("PMIX_NAMESPACE", "prterun-vm-1@1"), ("SLURM_STEP_NUM_TASKS", "1"));
        Assert.Equal(MpiEnvironment.Launcher.Pmix, MpiEnvironment.DetectLauncher(env));
        Assert.Null(MpiEnvironment.ExpectedWorldSize(MpiEnvironment.Launcher.Pmix, env));
    }

    [Theory]
    [InlineData("")]
    [InlineData("two")]
    [InlineData("-2")]
    [InlineData("0")]
    public void UnusableSize_IsNoExpectation(string size)
    {
        Assert.Null(MpiEnvironment.ExpectedWorldSize(MpiEnvironment.Launcher.Hydra, Env(("PMI_SIZE", size))));
    }

    [Fact]
    public void NoLauncher_HasNoExpectedSize()
    {
        Assert.Null(MpiEnvironment.ExpectedWorldSize(MpiEnvironment.Launcher.None, Env(("SLURM_STEP_NUM_TASKS", "4"))));
    }
}
