using System.Runtime.InteropServices;

namespace AtomoCollectives;

internal static partial class Interop
{
    /// <summary>
    /// MPI calls whose signatures do not involve handles, so one declaration serves every flavour. Calls with
    /// handles are in <see cref="MpiPointerHandles"/> (Open MPI, MPI-5 ABI) and <see cref="MpiIntHandles"/>
    /// (MPICH and its derivatives). All bind to <see cref="Libraries.Mpi"/>, resolved at run time.
    /// </summary>
    internal static unsafe partial class Mpi
    {
        internal const int MPI_SUCCESS = 0;
        internal const int MPI_THREAD_SINGLE = 0;
        internal const int MPI_THREAD_FUNNELED = 1;
        internal const int MPI_THREAD_SERIALIZED = 2;
        internal const int MPI_THREAD_MULTIPLE = 3;

        /// <summary>Big enough for MPI_MAX_LIBRARY_VERSION_STRING of Open MPI (256) and MPICH (8192).</summary>
        internal const int MaxLibraryVersionString = 8192;

        /// <summary>Big enough for MPI_MAX_ERROR_STRING of Open MPI (256) and MPICH (512).</summary>
        internal const int MaxErrorString = 1024;

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Init_thread")]
        internal static partial int InitThread(int* argc, byte*** argv, int required, int* provided);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Initialized")]
        internal static partial int Initialized(int* flag);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Finalized")]
        internal static partial int Finalized(int* flag);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Finalize")]
        internal static partial int FinalizeMpi();

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Get_library_version")]
        internal static partial int GetLibraryVersion(byte* version, int* length);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Error_string")]
        internal static partial int ErrorString(int errorCode, byte* text, int* length);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Wtime")]
        internal static partial double Wtime();
    }
}
