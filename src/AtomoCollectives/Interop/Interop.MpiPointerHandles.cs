using System.Runtime.InteropServices;

namespace AtomoCollectives;

internal static partial class Interop
{
    /// <summary>
    /// MPI calls for libraries whose handles are pointers: Open MPI (addresses of exported globals such as
    /// <c>ompi_mpi_comm_world</c>) and the MPI-5 standard ABI (<c>libmpi_abi</c>, opaque pointer handles).
    /// <c>MPI_Allgatherv_c</c> is not exported by Open MPI 4; callers check for it first.
    /// Keep in step with the other handle representation: the two files declare the same calls in the same order.
    /// </summary>
    internal static unsafe partial class MpiPointerHandles
    {
        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Abort")]
        internal static partial int Abort(nint comm, int errorCode);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_rank")]
        internal static partial int CommRank(nint comm, int* rank);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_size")]
        internal static partial int CommSize(nint comm, int* size);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_set_errhandler")]
        internal static partial int CommSetErrhandler(nint comm, nint errhandler);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_split")]
        internal static partial int CommSplit(nint comm, int color, int key, nint* newComm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_split_type")]
        internal static partial int CommSplitType(nint comm, int splitType, int key, nint info, nint* newComm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_free")]
        internal static partial int CommFree(nint* comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Barrier")]
        internal static partial int Barrier(nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Bcast")]
        internal static partial int Bcast(void* buffer, int count, nint datatype, int root, nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allgather")]
        internal static partial int Allgather(void* sendBuffer, int sendCount, nint sendType, void* receiveBuffer, int receiveCount, nint receiveType, nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allgatherv")]
        internal static partial int Allgatherv(void* sendBuffer, int sendCount, nint sendType, void* receiveBuffer, int* receiveCounts, int* displacements, nint receiveType, nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allgatherv_c")]
        internal static partial int AllgathervLarge(void* sendBuffer, long sendCount, nint sendType, void* receiveBuffer, long* receiveCounts, long* displacements, nint receiveType, nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Iallgatherv")]
        internal static partial int Iallgatherv(void* sendBuffer, int sendCount, nint sendType, void* receiveBuffer, int* receiveCounts, int* displacements, nint receiveType, nint comm, nint* request);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allreduce")]
        internal static partial int Allreduce(void* sendBuffer, void* receiveBuffer, int count, nint datatype, nint op, nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Reduce_scatter")]
        internal static partial int ReduceScatter(void* sendBuffer, void* receiveBuffer, int* receiveCounts, nint datatype, nint op, nint comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Wait")]
        internal static partial int Wait(nint* request, void* status);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Test")]
        internal static partial int Test(nint* request, int* flag, void* status);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_allocate_shared")]
        internal static partial int WinAllocateShared(nint size, int displacementUnit, nint info, nint comm, void* baseAddress, nint* win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_shared_query")]
        internal static partial int WinSharedQuery(nint win, int rank, nint* size, int* displacementUnit, void* baseAddress);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_set_errhandler")]
        internal static partial int WinSetErrhandler(nint win, nint errhandler);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_lock_all")]
        internal static partial int WinLockAll(int assertions, nint win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_sync")]
        internal static partial int WinSync(nint win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_unlock_all")]
        internal static partial int WinUnlockAll(nint win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_free")]
        internal static partial int WinFree(nint* win);
    }
}
