using System.Runtime.InteropServices;

namespace AtomoCollectives;

internal static partial class Interop
{
    /// <summary>
    /// MPI calls for libraries whose handles are 32-bit integers: MPICH and its ABI-compatible derivatives
    /// (Intel MPI, MVAPICH, Cray MPICH). <c>MPI_Allgatherv_c</c> exists from MPICH 4.0.
    /// Keep in step with the other handle representation: the two files declare the same calls in the same order.
    /// </summary>
    internal static unsafe partial class MpiIntHandles
    {
        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Abort")]
        internal static partial int Abort(int comm, int errorCode);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_rank")]
        internal static partial int CommRank(int comm, int* rank);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_size")]
        internal static partial int CommSize(int comm, int* size);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_set_errhandler")]
        internal static partial int CommSetErrhandler(int comm, int errhandler);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_split")]
        internal static partial int CommSplit(int comm, int color, int key, int* newComm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_split_type")]
        internal static partial int CommSplitType(int comm, int splitType, int key, int info, int* newComm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Comm_free")]
        internal static partial int CommFree(int* comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Barrier")]
        internal static partial int Barrier(int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Bcast")]
        internal static partial int Bcast(void* buffer, int count, int datatype, int root, int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allgather")]
        internal static partial int Allgather(void* sendBuffer, int sendCount, int sendType, void* receiveBuffer, int receiveCount, int receiveType, int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allgatherv")]
        internal static partial int Allgatherv(void* sendBuffer, int sendCount, int sendType, void* receiveBuffer, int* receiveCounts, int* displacements, int receiveType, int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allgatherv_c")]
        internal static partial int AllgathervLarge(void* sendBuffer, long sendCount, int sendType, void* receiveBuffer, long* receiveCounts, long* displacements, int receiveType, int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Iallgatherv")]
        internal static partial int Iallgatherv(void* sendBuffer, int sendCount, int sendType, void* receiveBuffer, int* receiveCounts, int* displacements, int receiveType, int comm, int* request);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Allreduce")]
        internal static partial int Allreduce(void* sendBuffer, void* receiveBuffer, int count, int datatype, int op, int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Reduce_scatter")]
        internal static partial int ReduceScatter(void* sendBuffer, void* receiveBuffer, int* receiveCounts, int datatype, int op, int comm);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Wait")]
        internal static partial int Wait(int* request, void* status);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Test")]
        internal static partial int Test(int* request, int* flag, void* status);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_allocate_shared")]
        internal static partial int WinAllocateShared(nint size, int displacementUnit, int info, int comm, void* baseAddress, int* win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_shared_query")]
        internal static partial int WinSharedQuery(int win, int rank, nint* size, int* displacementUnit, void* baseAddress);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_set_errhandler")]
        internal static partial int WinSetErrhandler(int win, int errhandler);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_lock_all")]
        internal static partial int WinLockAll(int assertions, int win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_sync")]
        internal static partial int WinSync(int win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_unlock_all")]
        internal static partial int WinUnlockAll(int win);

        [LibraryImport(Libraries.Mpi, EntryPoint = "MPI_Win_free")]
        internal static partial int WinFree(int* win);
    }
}
