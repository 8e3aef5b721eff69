using System.Runtime.InteropServices;
using System.Text;

namespace AtomoCollectives;

/// <summary>
/// The process's MPI library, bound at run time: <c>using var mpi = MpiEnvironment.Initialize();
/// ICommunicator world = mpi.World;</c>. Disposing it calls <c>MPI_Finalize</c>.
/// </summary>
/// <remarks>
/// <para><b>Which library.</b> <c>ATOMO_MPI_LIBRARY</c> wins when set: <c>openmpi</c>, <c>mpich</c>, or a path
/// to a <c>libmpi</c>. Otherwise the launcher decides: Open MPI's <c>mpiexec</c> sets
/// <c>OMPI_COMM_WORLD_SIZE</c> (→ <c>libmpi.so.40</c>), MPICH's Hydra and <c>srun --mpi=pmi2</c> set
/// <c>PMI_RANK</c>/<c>PMI_SIZE</c>/<c>PMI_FD</c> (→ <c>libmpich.so.12</c>), a PMIx launcher such as
/// <c>srun --mpi=pmix</c> sets <c>PMIX_RANK</c> (→ Open MPI, else MPICH). A program started without a launcher
/// tries Open MPI, then MPICH, as a singleton.
/// A library that does not match the launcher is refused before <c>MPI_Init</c>, and the world size is checked
/// against the launcher's after it (under <c>srun --mpi=pmix</c>: <c>SLURM_STEP_NUM_TASKS</c>), because the wrong
/// library silently gives N jobs of size 1.</para>
/// <para><b>Threads.</b> <c>MPI_THREAD_SERIALIZED</c> is requested: any thread may call MPI, one at a time,
/// which is the <see cref="ICommunicator"/> contract. Nonblocking collectives use <c>MPI_Iallgatherv</c>,
/// so no progress thread is started.</para>
/// <para><b>Errors.</b> <c>MPI_COMM_WORLD</c> gets <c>MPI_ERRORS_RETURN</c>; failed calls throw
/// <see cref="MpiException"/> with <c>MPI_Error_string</c>'s text. An unhandled exception on any rank calls
/// <c>MPI_Abort</c>, which ends every rank of the job instead of leaving the others waiting.</para>
/// <para><b>Signals.</b> <c>UCX_ERROR_SIGNALS</c> is set to empty in the native environment (unless already
/// set) before the library loads, so UCX (used by Debian's MPICH and by Open MPI's UCX PML) does not take over
/// SIGSEGV, which .NET needs to turn null dereferences into <see cref="NullReferenceException"/>.</para>
/// </remarks>
public sealed unsafe class MpiEnvironment : IDisposable
{
    /// <summary>The environment variable that selects the MPI library: <c>openmpi</c>, <c>mpich</c> or a path.</summary>
    public const string LibraryVariable = "ATOMO_MPI_LIBRARY";

    /// <summary>How long <see cref="Abort"/> waits after writing its reason, so the launcher can forward it.</summary>
    private static readonly TimeSpan AbortOutputGrace = TimeSpan.FromMilliseconds(250);

    private static readonly object s_gate = new();
    private static MpiEnvironment? s_current;
    private static bool s_initializedOnce;

    private readonly MpiFlavor _flavor;
    private readonly MpiCommunicator _world;
    private readonly UnhandledExceptionEventHandler _onUnhandled;
    private readonly EventHandler _onExit;
    private bool _disposed;

    private MpiEnvironment(MpiFlavor flavor, string libraryPath, string libraryVersion, int threadLevel)
    {
        _flavor = flavor;
        LibraryPath = libraryPath;
        LibraryVersion = libraryVersion;
        ThreadLevel = threadLevel;
        _world = new MpiCommunicator(flavor, flavor.CommWorld, Abort);
        _onUnhandled = OnUnhandledException;
        _onExit = OnProcessExit;
    }

    /// <summary>All ranks of the job (<c>MPI_COMM_WORLD</c>).</summary>
    public ICommunicator World => _world;

    /// <summary>Which MPI family is bound.</summary>
    public MpiImplementation Implementation => _flavor.Implementation;

    /// <summary>The library that was loaded (as given to the loader).</summary>
    public string LibraryPath { get; }

    /// <summary>The library's own description, from <c>MPI_Get_library_version</c>.</summary>
    public string LibraryVersion { get; }

    /// <summary>The thread level MPI provided (2 = <c>MPI_THREAD_SERIALIZED</c>, 3 = <c>MPI_THREAD_MULTIPLE</c>).</summary>
    public int ThreadLevel { get; }

    /// <summary>
    /// Whether this process was started by an MPI launcher (Open MPI's <c>mpiexec</c>, MPICH's Hydra, or a
    /// PMIx launcher such as <c>srun --mpi=pmix</c>), judged from the environment only; nothing is loaded.
    /// Use it to choose <see cref="Initialize"/> or <see cref="InProcessCluster"/>.
    /// </summary>
    public static bool IsLaunchedByMpi => DetectLauncher() != Launcher.None;

    /// <summary>
    /// Loads and initialises MPI (once per process: MPI cannot be re-initialised after finalisation).
    /// </summary>
    /// <returns>The environment; dispose it at the end of the program to call <c>MPI_Finalize</c>.</returns>
    /// <exception cref="MpiException">No usable MPI library, a library that does not match the launcher,
    /// or a failed <c>MPI_Init_thread</c>; the message says what to install or set.</exception>
    public static MpiEnvironment Initialize()
    {
        lock (s_gate)
        {
            if (s_initializedOnce)
            {
                throw new InvalidOperationException(s_current is null
                    ? "MPI was already initialised and finalised in this process; MPI cannot be initialised twice. Keep one MpiEnvironment for the life of the program."
                    : "MPI is already initialised in this process; use the existing MpiEnvironment (one per process).");
            }

            Launcher launcher = DetectLauncher();
            (nint library, string path) = MpiLibraryLoader.Load(launcher);
            MpiFlavor flavor = Identify(library, path, out string version);
            CheckMatchesLauncher(flavor, launcher, path);

            int provided = 0;
            int rc = Interop.Mpi.InitThread(null, null, Interop.Mpi.MPI_THREAD_SERIALIZED, &provided);
            s_initializedOnce = true;
            if (rc != Interop.Mpi.MPI_SUCCESS)
            {
                throw new MpiException($"MPI_Init_thread failed with code {rc} ({path}).", rc);
            }

            var environment = new MpiEnvironment(flavor, path, version, provided);
            environment._world.Check(flavor.CommSetErrhandler(flavor.CommWorld, flavor.ErrorsReturn), "MPI_Comm_set_errhandler");
            AppDomain.CurrentDomain.UnhandledException += environment._onUnhandled;
            AppDomain.CurrentDomain.ProcessExit += environment._onExit;
            s_current = environment;
            if (provided < Interop.Mpi.MPI_THREAD_SERIALIZED)
            {
                environment.Abort($"MPI provided thread level {provided}, but MPI_THREAD_SERIALIZED (2) is needed.");
            }

            environment.CheckWorldSize(launcher, path);
            return environment;
        }
    }

    /// <summary>Seconds since an arbitrary origin, from <c>MPI_Wtime</c> (for benchmarks that compare with C).</summary>
    internal static double Wtime() => Interop.Mpi.Wtime();

    /// <summary>
    /// Ends every rank of the job at once with exit code 1 (<c>MPI_Abort</c>) after writing
    /// <paramref name="reason"/> to standard error. Use it when one rank cannot go on and the others would
    /// otherwise wait for it forever.
    /// </summary>
    public void Abort(string reason)
    {
        AbortWithoutExit(reason);
        Environment.Exit(1); // MPI_Abort should not return; make sure the rank ends anyway.
    }

    /// <summary><see cref="Abort"/> without the final <c>Environment.Exit</c>, which must not be called while the process is already exiting.</summary>
    private void AbortWithoutExit(string reason)
    {
        Console.Error.WriteLine($"[rank {_world.Rank}/{_world.Size}] aborting the MPI job: {reason}");
        Console.Error.Flush();
        // The launcher forwards this rank's output through a pipe; MPICH's Hydra kills the job on MPI_Abort and
        // can drop what it had not read yet (about 1 run in 12 lost the reason above). Give it a moment.
        Thread.Sleep(AbortOutputGrace);
        _flavor.Abort(_flavor.CommWorld, 1);
    }

    /// <summary>Calls <c>MPI_Finalize</c> (collective: every rank must dispose) and unhooks the abort handler.</summary>
    public void Dispose()
    {
        lock (s_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            AppDomain.CurrentDomain.UnhandledException -= _onUnhandled;
            AppDomain.CurrentDomain.ProcessExit -= _onExit;
            s_current = null;
            int finalized = 0;
            _ = Interop.Mpi.Finalized(&finalized);
            if (finalized == 0)
            {
                int rc = Interop.Mpi.FinalizeMpi();
                if (rc != Interop.Mpi.MPI_SUCCESS)
                {
                    throw new MpiException($"MPI_Finalize failed: {ErrorText(rc)}", rc);
                }
            }
        }
    }

    internal static string ErrorText(int errorCode)
    {
        byte* text = stackalloc byte[Interop.Mpi.MaxErrorString];
        int length = 0;
        return Interop.Mpi.ErrorString(errorCode, text, &length) == Interop.Mpi.MPI_SUCCESS && length > 0
            ? Encoding.UTF8.GetString(text, Math.Min(length, Interop.Mpi.MaxErrorString)).TrimEnd('\0', ' ', '\n')
            : $"MPI error code {errorCode}";
    }

    private void OnUnhandledException(object sender, UnhandledExceptionEventArgs e)
        => Abort($"unhandled exception: {e.ExceptionObject}");

    /// <summary>
    /// A rank that exits without finalizing (an early <c>Environment.Exit</c>, or a Main that never disposes the
    /// environment) would leave the others waiting for it, and MPICH's launcher then reports the job as successful
    /// (exit 0). Ending the job says what happened instead.
    /// </summary>
    private void OnProcessExit(object? sender, EventArgs e)
    {
        lock (s_gate)
        {
            if (_disposed)
            {
                return;
            }
        }

        AbortWithoutExit($"the process is exiting (exit code {Environment.ExitCode}, or a signal such as SIGTERM) without MpiEnvironment.Dispose, which calls MPI_Finalize; the other ranks would wait for it. Dispose the environment before exiting: using var mpi = MpiEnvironment.Initialize();");
    }

    /// <summary>
    /// Which MPI a loaded library is (it must be registered as <see cref="Interop.Libraries.Mpi"/>; nothing is
    /// initialised): Open MPI by its exported globals, MPICH and its derivatives by <c>MPI_Get_library_version</c>.
    /// </summary>
    /// <exception cref="MpiException">The MPI-5 standard ABI, or a library this binding does not know.</exception>
    internal static MpiFlavor Identify(nint library, string path, out string version)
    {
        byte* text = stackalloc byte[Interop.Mpi.MaxLibraryVersionString];
        int length = 0;
        version = Interop.Mpi.GetLibraryVersion(text, &length) == Interop.Mpi.MPI_SUCCESS
            ? Encoding.UTF8.GetString(text, Math.Clamp(length, 0, Interop.Mpi.MaxLibraryVersionString)).TrimEnd('\0', ' ', '\n')
            : "(MPI_Get_library_version failed)";

        if (OpenMpiFlavor.Matches(library))
        {
            return new OpenMpiFlavor(library);
        }

        // The MPI-5 standard ABI (libmpi_abi.so, e.g. from MPICH 4.3+/Open MPI 6) uses pointer handles with
        // standard constants; it would be a third flavour deriving from PointerHandleMpiFlavor. Refuse it
        // rather than misread its handles as MPICH ints.
        if (NativeLibrary.TryGetExport(library, "MPI_Abi_get_version", out _)
            || path.Contains("libmpi_abi", StringComparison.Ordinal))
        {
            throw new MpiException(
                $"'{path}' implements the MPI-5 standard ABI, which this binding does not support yet. "
                + $"Set {LibraryVariable}=mpich or {LibraryVariable}=openmpi (or the path of an implementation-specific libmpi).");
        }

        if (version.Contains("MPICH", StringComparison.OrdinalIgnoreCase)
            || version.Contains("Intel(R) MPI", StringComparison.OrdinalIgnoreCase)
            || version.Contains("MVAPICH", StringComparison.OrdinalIgnoreCase))
        {
            return new MpichFlavor(library);
        }

        string firstLine = version.Split('\n')[0];
        throw new MpiException(
            $"'{path}' is an MPI library this binding does not know ({firstLine}). Supported: Open MPI (libmpi.so.40) and MPICH (libmpich.so.12). "
            + $"Set {LibraryVariable}=openmpi or {LibraryVariable}=mpich (install openmpi-bin libopenmpi-dev, or mpich libmpich-dev).");
    }

    private static void CheckMatchesLauncher(MpiFlavor flavor, Launcher launcher, string path)
    {
        MpiImplementation? expected = launcher switch
        {
            Launcher.OpenMpi => MpiImplementation.OpenMpi,
            Launcher.Hydra => MpiImplementation.Mpich,
            _ => null,
        };
        if (expected is { } wanted && wanted != flavor.Implementation)
        {
            string selected = Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } value
                ? $"{LibraryVariable}={value} selected {flavor.Implementation} ({path})"
                : $"{flavor.Implementation} was loaded ({path})";
            string fix = wanted == MpiImplementation.OpenMpi
                ? $"set {LibraryVariable}=openmpi (or unset it), or launch with mpiexec.mpich to use MPICH"
                : $"set {LibraryVariable}=mpich (or unset it), or launch with mpiexec.openmpi to use Open MPI";
            throw new MpiException(
                $"This process was launched by {LauncherName(launcher)} but {selected}; the two cannot talk to each other "
                + $"(every rank would be a separate job of size 1). Fix: {fix}.");
        }
    }

    private void CheckWorldSize(Launcher launcher, string path)
    {
        if (ExpectedWorldSize(launcher, Environment.GetEnvironmentVariable) is { } expected && expected != _world.Size)
        {
            string fix = launcher == Launcher.Pmix
                ? $"{path} cannot join a PMIx job (Debian's MPICH has no PMIx support). Set {LibraryVariable}=openmpi (or the path of a PMIx-enabled libmpi), "
                    + $"or launch MPICH with srun --mpi=pmi2."
                : $"{path} does not belong to this launcher. "
                    + $"Set {LibraryVariable} to the library of the mpiexec you use (openmpi for mpiexec.openmpi, mpich for mpiexec.mpich).";
            throw new MpiException($"MPI world size is {_world.Size} but {LauncherName(launcher)} started {expected} ranks: {fix}");
        }
    }

    internal enum Launcher
    {
        None,
        OpenMpi,

        /// <summary>A PMI-1/PMI-2 launcher: MPICH's Hydra <c>mpiexec</c>, or <c>srun --mpi=pmi2</c>.</summary>
        Hydra,

        /// <summary>A PMIx launcher that is not Open MPI's <c>mpiexec</c>, such as <c>srun --mpi=pmix</c>.</summary>
        Pmix,
    }

    internal static Launcher DetectLauncher() => DetectLauncher(Environment.GetEnvironmentVariable);

    /// <summary>The launcher, judged from the environment: Open MPI's own variables first, then PMI, then PMIx.</summary>
    internal static Launcher DetectLauncher(Func<string, string?> environment)
    {
        if (environment("OMPI_COMM_WORLD_SIZE") is not null)
        {
            return Launcher.OpenMpi;
        }

        if (environment("PMI_RANK") is not null
            || environment("PMI_SIZE") is not null
            || environment("PMI_FD") is not null)
        {
            return Launcher.Hydra;
        }

        if (environment("PMIX_RANK") is not null)
        {
            return Launcher.Pmix;
        }

        return Launcher.None;
    }

    /// <summary>
    /// How many ranks the launcher started, when the environment says: <c>OMPI_COMM_WORLD_SIZE</c>, <c>PMI_SIZE</c>,
    /// or under Slurm's PMIx plugin (namespace <c>slurm.pmix.*</c>) the step's <c>SLURM_STEP_NUM_TASKS</c>.
    /// Another PMIx launcher publishes the size only through PMIx itself: <see langword="null"/>.
    /// </summary>
    internal static int? ExpectedWorldSize(Launcher launcher, Func<string, string?> environment)
    {
        string? text = launcher switch
        {
            Launcher.OpenMpi => environment("OMPI_COMM_WORLD_SIZE"),
            Launcher.Hydra => environment("PMI_SIZE"),
            Launcher.Pmix when environment("PMIX_NAMESPACE")?.StartsWith("slurm.pmix.", StringComparison.Ordinal) == true
                => environment("SLURM_STEP_NUM_TASKS"),
            _ => null,
        };
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int size) && size > 0
            ? size
            : null;
    }

    private static string LauncherName(Launcher launcher) => launcher switch
    {
        Launcher.OpenMpi => "Open MPI's mpiexec (OMPI_COMM_WORLD_SIZE is set)",
        Launcher.Hydra => "a PMI launcher, MPICH's Hydra mpiexec or srun --mpi=pmi2 (PMI_RANK/PMI_SIZE/PMI_FD are set)",
        Launcher.Pmix => "a PMIx launcher such as srun --mpi=pmix (PMIX_RANK is set)",
        _ => "no MPI launcher",
    };
}

/// <summary>Finds, loads and globally exposes the MPI shared library.</summary>
internal static class MpiLibraryLoader
{
    public static (nint Handle, string Path) Load(MpiEnvironment.Launcher launcher)
    {
        KeepUcxOffSegv();
        string? setting = Environment.GetEnvironmentVariable(MpiEnvironment.LibraryVariable);
        string[] candidates = setting?.Trim().ToLowerInvariant() switch
        {
            null or "" => launcher switch
            {
                MpiEnvironment.Launcher.OpenMpi => [Interop.Libraries.OpenMpiDefault],
                MpiEnvironment.Launcher.Hydra => [Interop.Libraries.MpichDefault],
                _ => [Interop.Libraries.OpenMpiDefault, Interop.Libraries.MpichDefault],
            },
            "openmpi" or "open-mpi" or "ompi" => [Interop.Libraries.OpenMpiDefault],
            "mpich" => [Interop.Libraries.MpichDefault],
            _ => [setting.Trim()],
        };

        var errors = new StringBuilder();
        foreach (string candidate in candidates)
        {
            if (TryLoadGlobal(candidate, out nint handle))
            {
                return (handle, candidate);
            }

            errors.Append(" '").Append(candidate).Append("' could not be loaded;");
        }

        throw new MpiException(
            $"No MPI library could be loaded:{errors} Install Open MPI (apt-get install openmpi-bin libopenmpi-dev) or MPICH "
            + $"(apt-get install mpich libmpich-dev), or set {MpiEnvironment.LibraryVariable} to 'openmpi', 'mpich' or the path of a libmpi.so.");
    }

    /// <summary>
    /// Before any MPI (and so UCX) code is loaded: keep UCX off SIGSEGV/SIGBUS, which .NET needs to turn null
    /// dereferences into <see cref="NullReferenceException"/> (unless the user set <c>UCX_ERROR_SIGNALS</c>).
    /// </summary>
    public static void KeepUcxOffSegv()
    {
        if (Environment.GetEnvironmentVariable("UCX_ERROR_SIGNALS") is null)
        {
            _ = Interop.Libc.SetEnv("UCX_ERROR_SIGNALS", "", 1);
        }
    }

    /// <summary>
    /// Loads <paramref name="candidate"/> with its symbols global and registers it as <see cref="Interop.Libraries.Mpi"/>;
    /// <see langword="false"/> when it cannot be loaded.
    /// </summary>
    public static bool TryLoadGlobal(string candidate, out nint handle)
    {
        if (!NativeLibrary.TryLoad(candidate, out handle))
        {
            return false;
        }

        // .NET loads with RTLD_LOCAL; Open MPI's plugins (mca_*.so) need libmpi's symbols global.
        nint again = Interop.Libc.DlOpen(candidate, Interop.Libc.RTLD_NOW | Interop.Libc.RTLD_GLOBAL | Interop.Libc.RTLD_NOLOAD);
        if (again == 0)
        {
            string why = Marshal.PtrToStringUTF8(Interop.Libc.DlError()) ?? "unknown";
            throw new MpiException($"Loaded '{candidate}' but could not make its symbols global (dlopen RTLD_GLOBAL): {why}.");
        }

        Interop.Libraries.Register(Interop.Libraries.Mpi, handle);
        return true;
    }
}
