using System.Reflection;
using System.Runtime.InteropServices;

namespace AtomoCollectives.MpiNet;

/// <summary>
/// Binds MPI.NET 1.4.0's NuGet build, which imports Microsoft MPI (<c>msmpi.dll</c>, MPICH-style integer handles), to
/// the system's MPICH-ABI library on Linux. Call <see cref="BindToSystemMpi"/> once, before
/// <c>new MPI.Environment(ref args)</c>.
/// </summary>
/// <remarks>
/// MS-MPI descends from MPICH and shares its ABI (integer handles, the same constants), so MPI.NET's imports work
/// against <c>libmpich.so.12</c> and the libraries that keep MPICH's ABI: Intel MPI, MVAPICH, Cray MPICH. Open MPI
/// passes handles as pointers and cannot work this way; use AtomoCollectives' own
/// <see cref="MpiEnvironment.Initialize"/> with Open MPI.
/// </remarks>
public static class MpiNetLibrary
{
    /// <summary>The name MPI.NET's NuGet build imports.</summary>
    private const string ImportedName = "msmpi.dll";

    private static readonly object s_gate = new();
    private static nint s_library;

    /// <summary>The library MPI.NET was bound to by <see cref="BindToSystemMpi"/>; <see langword="null"/> before (and on Windows).</summary>
    public static string? LibraryPath { get; private set; }

    /// <summary>
    /// Points MPI.NET's native imports at the system's MPICH: <c>libmpich.so.12</c>, or the library that
    /// <c>ATOMO_MPI_LIBRARY</c> names (<c>mpich</c>, or the path of another MPICH-ABI library such as Intel MPI's
    /// <c>libmpi.so.12</c>). Call it once before <c>new MPI.Environment(ref args)</c>; later calls do nothing. On Windows
    /// it does nothing: MPI.NET finds Microsoft MPI itself.
    /// </summary>
    /// <exception cref="NotSupportedException">The job was started by Open MPI's <c>mpiexec</c>, or
    /// <c>ATOMO_MPI_LIBRARY</c> selects Open MPI, or the OS is neither Linux nor Windows.</exception>
    /// <exception cref="MpiException">The library cannot be loaded, is not MPICH-ABI, or MPI.NET's imports were
    /// already resolved by someone else; the message says what to install or set.</exception>
    public static void BindToSystemMpi()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new NotSupportedException(
                "MpiNetLibrary.BindToSystemMpi supports Linux (MPICH-ABI libraries) and Windows (Microsoft MPI); on this OS use AtomoCollectives' own MpiEnvironment.Initialize().");
        }

        lock (s_gate)
        {
            if (s_library != 0)
            {
                return;
            }

            if (MpiEnvironment.DetectLauncher() == MpiEnvironment.Launcher.OpenMpi)
            {
                throw new NotSupportedException(
                    "This job was started by Open MPI's mpiexec (OMPI_COMM_WORLD_SIZE is set), but MPI.NET's NuGet build speaks the "
                    + "MPICH ABI (integer handles) and cannot run on Open MPI, whose handles are pointers. Launch with MPICH's "
                    + "mpiexec.mpich (or Intel MPI's, MVAPICH's, Cray's srun), or, to stay on Open MPI, use AtomoCollectives "
                    + "without MPI.NET: using var mpi = MpiEnvironment.Initialize(); and mpi.World as the ICommunicator.");
            }

            string path = ChooseLibrary();
            MpiLibraryLoader.KeepUcxOffSegv();
            if (!MpiLibraryLoader.TryLoadGlobal(path, out nint library))
            {
                throw new MpiException(
                    $"MPI.NET needs an MPICH-ABI library, and '{path}' could not be loaded. Install MPICH (apt-get install mpich libmpich-dev), "
                    + $"or set {MpiEnvironment.LibraryVariable} to the path of your MPICH, Intel MPI, MVAPICH or Cray MPICH libmpi.");
            }

            MpiFlavor flavor = MpiEnvironment.Identify(library, path, out string version);
            if (flavor.Implementation != MpiImplementation.Mpich)
            {
                throw new NotSupportedException(
                    $"'{path}' is {flavor.Implementation} ({version.Split('\n')[0].Trim()}), not an MPICH-ABI library, and MPI.NET's NuGet build "
                    + $"cannot run on it. Set {MpiEnvironment.LibraryVariable}=mpich (or the path of an MPICH-ABI libmpi), or use "
                    + "AtomoCollectives' own MpiEnvironment.Initialize() with Open MPI.");
            }

            try
            {
                NativeLibrary.SetDllImportResolver(MpiNetAssembly, (name, _, _) => name == ImportedName ? library : 0);
            }
            catch (InvalidOperationException e)
            {
                throw new MpiException(
                    $"MPI.NET's assembly already has a DllImport resolver, so BindToSystemMpi cannot bind it to '{path}'. "
                    + "Remove your own NativeLibrary.SetDllImportResolver for MPI.NET, or do not call BindToSystemMpi.", e);
            }

            s_library = library;
            LibraryPath = path;
        }
    }

    /// <summary>MPI.NET's assembly, whose imports name <c>msmpi.dll</c>.</summary>
    internal static Assembly MpiNetAssembly => typeof(MPI.Unsafe).Assembly;

    /// <summary>
    /// The native library MPI.NET's imports resolve to: the one bound here, or else Microsoft MPI as MPI.NET finds it on
    /// Windows. (<see cref="NativeLibrary.Load(string, Assembly, DllImportSearchPath?)"/> does not consult a resolver set
    /// on the assembly, so on Linux only a <see cref="BindToSystemMpi"/> binding is known.)
    /// </summary>
    internal static nint ResolveLoadedLibrary()
    {
        lock (s_gate)
        {
            if (s_library != 0)
            {
                return s_library;
            }
        }

        try
        {
            return NativeLibrary.Load(ImportedName, MpiNetAssembly, null);
        }
        catch (DllNotFoundException e)
        {
            throw new MpiException(
                $"MPI.NET's native library ({ImportedName}) is not available here. On Linux call MpiNetLibrary.BindToSystemMpi() once "
                + "before new MPI.Environment(ref args); on Windows install Microsoft MPI.", e);
        }
    }

    /// <summary><c>ATOMO_MPI_LIBRARY</c> as AtomoCollectives reads it, restricted to MPICH-ABI libraries.</summary>
    private static string ChooseLibrary()
    {
        string? setting = Environment.GetEnvironmentVariable(MpiEnvironment.LibraryVariable)?.Trim();
        switch (setting?.ToLowerInvariant())
        {
            case null or "" or "mpich":
                return Interop.Libraries.MpichDefault;
            case "openmpi" or "open-mpi" or "ompi":
                throw new NotSupportedException(
                    $"{MpiEnvironment.LibraryVariable}={setting} selects Open MPI, but MPI.NET's NuGet build speaks the MPICH ABI (integer handles) "
                    + $"and cannot run on it. Unset {MpiEnvironment.LibraryVariable} (or set it to mpich, or the path of an MPICH-ABI libmpi), "
                    + "or use AtomoCollectives' own MpiEnvironment.Initialize() with Open MPI.");
            default:
                return setting!;
        }
    }
}
