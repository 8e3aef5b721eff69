using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>The MPI implementation family a process is bound to; they differ in how handles are represented.</summary>
public enum MpiImplementation
{
    /// <summary>Open MPI (<c>libmpi.so.40</c>): handles are addresses of exported globals.</summary>
    OpenMpi,

    /// <summary>MPICH and ABI-compatible derivatives (<c>libmpich.so.12</c>): handles are 32-bit integers.</summary>
    Mpich,

    /// <summary>The MPI-5 standard ABI (<c>libmpi_abi.so</c>): pointer handles with standard values. Reserved; not bound yet.</summary>
    StandardAbi,
}

/// <summary>
/// How one MPI implementation represents handles and constants. Everything above this class works with
/// <see cref="nint"/> handles and never needs to know whether the library uses pointers (Open MPI, MPI-5 ABI)
/// or ints (MPICH). A new flavour (e.g. the MPI-5 standard ABI) derives from <see cref="PointerHandleMpiFlavor"/>
/// or <see cref="IntHandleMpiFlavor"/> and supplies its constants.
/// </summary>
internal abstract unsafe class MpiFlavor
{
    public abstract MpiImplementation Implementation { get; }
    public nint CommWorld { get; protected init; }
    public nint Byte { get; protected init; }
    public nint Int { get; protected init; }
    public nint Float { get; protected init; }
    public nint OpSum { get; protected init; }
    public nint ErrorsReturn { get; protected init; }
    public nint InfoNull { get; protected init; }

    /// <summary><c>MPI_COMM_TYPE_SHARED</c>: the ranks that can share memory, one node.</summary>
    public int CommTypeShared { get; protected init; }

    /// <summary><c>MPI_MODE_NOCHECK</c>: a passive-target epoch that no lock of another rank's contends with (the shared node memory's).</summary>
    public int ModeNoCheck { get; protected init; }
    public void* InPlace { get; protected init; }
    public void* StatusIgnore { get; protected init; }

    /// <summary>Whether the library exports the MPI-4 large-count <c>MPI_Allgatherv_c</c>.</summary>
    public bool HasLargeCountAllgatherv { get; protected init; }

    public abstract int Abort(nint comm, int errorCode);
    public abstract int CommRank(nint comm, int* rank);
    public abstract int CommSize(nint comm, int* size);
    public abstract int CommSetErrhandler(nint comm, nint errhandler);
    public abstract int CommSplit(nint comm, int color, int key, out nint created);
    public abstract int CommSplitType(nint comm, int splitType, int key, nint info, out nint created);
    public abstract int CommFree(nint comm);
    public abstract int Barrier(nint comm);
    public abstract int Bcast(void* buffer, int count, nint datatype, int root, nint comm);
    public abstract int Allgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm);
    public abstract int Allgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm);
    public abstract int AllgathervLarge(void* send, long sendCount, nint sendType, void* receive, long* counts, long* displacements, nint receiveType, nint comm);
    public abstract int Iallgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm, out nint request);
    public abstract int Allreduce(void* send, void* receive, int count, nint datatype, nint op, nint comm);
    public abstract int ReduceScatter(void* send, void* receive, int* counts, nint datatype, nint op, nint comm);
    public abstract int Wait(ref nint request);
    public abstract int Test(ref nint request, out bool completed);
    public abstract int WinAllocateShared(long bytes, nint comm, out void* baseAddress, out nint win);
    public abstract int WinSharedQuery(nint win, int rank, out void* baseAddress);
    public abstract int WinSetErrhandler(nint win, nint errhandler);
    public abstract int WinLockAll(nint win);
    public abstract int WinSync(nint win);
    public abstract int WinUnlockAll(nint win);
    public abstract int WinFree(nint win);
}

/// <summary>Flavours whose handles are pointers (Open MPI; the MPI-5 standard ABI).</summary>
internal abstract unsafe class PointerHandleMpiFlavor : MpiFlavor
{
    public override int Abort(nint comm, int errorCode) => Interop.MpiPointerHandles.Abort(comm, errorCode);
    public override int CommRank(nint comm, int* rank) => Interop.MpiPointerHandles.CommRank(comm, rank);
    public override int CommSize(nint comm, int* size) => Interop.MpiPointerHandles.CommSize(comm, size);
    public override int CommSetErrhandler(nint comm, nint errhandler) => Interop.MpiPointerHandles.CommSetErrhandler(comm, errhandler);
    public override int CommSplit(nint comm, int color, int key, out nint created)
    {
        nint handle = 0;
        int rc = Interop.MpiPointerHandles.CommSplit(comm, color, key, &handle);
        created = handle;
        return rc;
    }
    public override int CommSplitType(nint comm, int splitType, int key, nint info, out nint created)
    {
        nint handle = 0;
        int rc = Interop.MpiPointerHandles.CommSplitType(comm, splitType, key, info, &handle);
        created = handle;
        return rc;
    }
    public override int CommFree(nint comm) => Interop.MpiPointerHandles.CommFree(&comm);
    public override int Barrier(nint comm) => Interop.MpiPointerHandles.Barrier(comm);
    public override int Bcast(void* buffer, int count, nint datatype, int root, nint comm)
        => Interop.MpiPointerHandles.Bcast(buffer, count, datatype, root, comm);
    public override int Allgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm)
        => Interop.MpiPointerHandles.Allgather(send, sendCount, sendType, receive, receiveCount, receiveType, comm);
    public override int Allgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm)
        => Interop.MpiPointerHandles.Allgatherv(send, sendCount, sendType, receive, counts, displacements, receiveType, comm);
    public override int AllgathervLarge(void* send, long sendCount, nint sendType, void* receive, long* counts, long* displacements, nint receiveType, nint comm)
        => Interop.MpiPointerHandles.AllgathervLarge(send, sendCount, sendType, receive, counts, displacements, receiveType, comm);
    public override int Iallgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm, out nint request)
    {
        nint handle = 0;
        int rc = Interop.MpiPointerHandles.Iallgatherv(send, sendCount, sendType, receive, counts, displacements, receiveType, comm, &handle);
        request = handle;
        return rc;
    }
    public override int Allreduce(void* send, void* receive, int count, nint datatype, nint op, nint comm)
        => Interop.MpiPointerHandles.Allreduce(send, receive, count, datatype, op, comm);
    public override int ReduceScatter(void* send, void* receive, int* counts, nint datatype, nint op, nint comm)
        => Interop.MpiPointerHandles.ReduceScatter(send, receive, counts, datatype, op, comm);
    public override int Wait(ref nint request)
    {
        nint handle = request;
        int rc = Interop.MpiPointerHandles.Wait(&handle, StatusIgnore);
        request = handle;
        return rc;
    }
    public override int Test(ref nint request, out bool completed)
    {
        nint handle = request;
        int flag = 0;
        int rc = Interop.MpiPointerHandles.Test(&handle, &flag, StatusIgnore);
        request = handle;
        completed = flag != 0;
        return rc;
    }
    public override int WinAllocateShared(long bytes, nint comm, out void* baseAddress, out nint win)
    {
        void* address = null;
        nint handle = 0;
        int rc = Interop.MpiPointerHandles.WinAllocateShared((nint)bytes, sizeof(float), InfoNull, comm, &address, &handle);
        baseAddress = address;
        win = handle;
        return rc;
    }
    public override int WinSharedQuery(nint win, int rank, out void* baseAddress)
    {
        void* address = null;
        nint size = 0;
        int unit = 0;
        int rc = Interop.MpiPointerHandles.WinSharedQuery(win, rank, &size, &unit, &address);
        baseAddress = address;
        return rc;
    }
    public override int WinSetErrhandler(nint win, nint errhandler) => Interop.MpiPointerHandles.WinSetErrhandler(win, errhandler);
    public override int WinLockAll(nint win) => Interop.MpiPointerHandles.WinLockAll(ModeNoCheck, win);
    public override int WinSync(nint win) => Interop.MpiPointerHandles.WinSync(win);
    public override int WinUnlockAll(nint win) => Interop.MpiPointerHandles.WinUnlockAll(win);
    public override int WinFree(nint win) => Interop.MpiPointerHandles.WinFree(&win);
}

internal abstract unsafe class IntHandleMpiFlavor : MpiFlavor
{
    public override int Abort(nint comm, int errorCode) => Interop.MpiIntHandles.Abort((int)comm, errorCode);
    public override int CommRank(nint comm, int* rank) => Interop.MpiIntHandles.CommRank((int)comm, rank);
    public override int CommSize(nint comm, int* size) => Interop.MpiIntHandles.CommSize((int)comm, size);
    public override int CommSetErrhandler(nint comm, nint errhandler) => Interop.MpiIntHandles.CommSetErrhandler((int)comm, (int)errhandler);
    public override int CommSplit(nint comm, int color, int key, out nint created)
    {
        int handle = 0;
        int rc = Interop.MpiIntHandles.CommSplit((int)comm, color, key, &handle);
        created = handle;
        return rc;
    }
    public override int CommSplitType(nint comm, int splitType, int key, nint info, out nint created)
    {
        int handle = 0;
        int rc = Interop.MpiIntHandles.CommSplitType((int)comm, splitType, key, (int)info, &handle);
        created = handle;
        return rc;
    }
    public override int CommFree(nint comm)
    {
        int handle = (int)comm;
        return Interop.MpiIntHandles.CommFree(&handle);
    }
    public override int Barrier(nint comm) => Interop.MpiIntHandles.Barrier((int)comm);
    public override int Bcast(void* buffer, int count, nint datatype, int root, nint comm)
        => Interop.MpiIntHandles.Bcast(buffer, count, (int)datatype, root, (int)comm);
    public override int Allgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm)
        => Interop.MpiIntHandles.Allgather(send, sendCount, (int)sendType, receive, receiveCount, (int)receiveType, (int)comm);
    public override int Allgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm)
        => Interop.MpiIntHandles.Allgatherv(send, sendCount, (int)sendType, receive, counts, displacements, (int)receiveType, (int)comm);
    public override int AllgathervLarge(void* send, long sendCount, nint sendType, void* receive, long* counts, long* displacements, nint receiveType, nint comm)
        => Interop.MpiIntHandles.AllgathervLarge(send, sendCount, (int)sendType, receive, counts, displacements, (int)receiveType, (int)comm);
    public override int Iallgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm, out nint request)
    {
        int handle = 0;
        int rc = Interop.MpiIntHandles.Iallgatherv(send, sendCount, (int)sendType, receive, counts, displacements, (int)receiveType, (int)comm, &handle);
        request = handle;
        return rc;
    }
    public override int Allreduce(void* send, void* receive, int count, nint datatype, nint op, nint comm)
        => Interop.MpiIntHandles.Allreduce(send, receive, count, (int)datatype, (int)op, (int)comm);
    public override int ReduceScatter(void* send, void* receive, int* counts, nint datatype, nint op, nint comm)
        => Interop.MpiIntHandles.ReduceScatter(send, receive, counts, (int)datatype, (int)op, (int)comm);
    public override int Wait(ref nint request)
    {
        int handle = (int)request;
        int rc = Interop.MpiIntHandles.Wait(&handle, StatusIgnore);
        request = handle;
        return rc;
    }
    public override int Test(ref nint request, out bool completed)
    {
        int handle = (int)request;
        int flag = 0;
        int rc = Interop.MpiIntHandles.Test(&handle, &flag, StatusIgnore);
        request = handle;
        completed = flag != 0;
        return rc;
    }
    public override int WinAllocateShared(long bytes, nint comm, out void* baseAddress, out nint win)
    {
        void* address = null;
        int handle = 0;
        int rc = Interop.MpiIntHandles.WinAllocateShared((nint)bytes, sizeof(float), (int)InfoNull, (int)comm, &address, &handle);
        baseAddress = address;
        win = handle;
        return rc;
    }
    public override int WinSharedQuery(nint win, int rank, out void* baseAddress)
    {
        void* address = null;
        nint size = 0;
        int unit = 0;
        int rc = Interop.MpiIntHandles.WinSharedQuery((int)win, rank, &size, &unit, &address);
        baseAddress = address;
        return rc;
    }
    public override int WinSetErrhandler(nint win, nint errhandler) => Interop.MpiIntHandles.WinSetErrhandler((int)win, (int)errhandler);
    public override int WinLockAll(nint win) => Interop.MpiIntHandles.WinLockAll(ModeNoCheck, (int)win);
    public override int WinSync(nint win) => Interop.MpiIntHandles.WinSync((int)win);
    public override int WinUnlockAll(nint win) => Interop.MpiIntHandles.WinUnlockAll((int)win);
    public override int WinFree(nint win)
    {
        int handle = (int)win;
        return Interop.MpiIntHandles.WinFree(&handle);
    }
}

internal sealed unsafe class OpenMpiFlavor : PointerHandleMpiFlavor
{
    public OpenMpiFlavor(nint library)
    {
        CommWorld = Export(library, "ompi_mpi_comm_world");
        Byte = Export(library, "ompi_mpi_byte");
        Int = Export(library, "ompi_mpi_int");
        Float = Export(library, "ompi_mpi_float");
        OpSum = Export(library, "ompi_mpi_op_sum");
        ErrorsReturn = Export(library, "ompi_mpi_errors_return");
        InfoNull = Export(library, "ompi_mpi_info_null");
        CommTypeShared = 0;
        ModeNoCheck = 1;
        InPlace = (void*)1;
        StatusIgnore = null;
        HasLargeCountAllgatherv = NativeLibrary.TryGetExport(library, "MPI_Allgatherv_c", out _);
    }

    public override MpiImplementation Implementation => MpiImplementation.OpenMpi;

    /// <summary>Whether <paramref name="library"/> looks like Open MPI (exports its predefined communicator).</summary>
    public static bool Matches(nint library) => NativeLibrary.TryGetExport(library, "ompi_mpi_comm_world", out _);

    private static nint Export(nint library, string name)
        => NativeLibrary.TryGetExport(library, name, out nint address)
            ? address
            : throw new MpiException($"The Open MPI library does not export '{name}'; it is not a supported Open MPI build. Install openmpi-bin libopenmpi-dev, or set ATOMO_MPI_LIBRARY to another MPI library.");
}

/// <summary>MPICH: predefined handles are fixed integers from <c>mpi.h</c> (checked against MPICH 4.0).</summary>
internal sealed unsafe class MpichFlavor : IntHandleMpiFlavor
{
    public MpichFlavor(nint library)
    {
        CommWorld = 0x44000000;
        Byte = 0x4c00010d;
        Int = 0x4c000405;
        Float = 0x4c00040a;
        OpSum = 0x58000003;
        ErrorsReturn = 0x54000001;
        InfoNull = 0x1c000000;
        CommTypeShared = 1;
        ModeNoCheck = 1024;
        InPlace = (void*)-1;
        StatusIgnore = (void*)1;
        HasLargeCountAllgatherv = NativeLibrary.TryGetExport(library, "MPI_Allgatherv_c", out _);
    }

    public override MpiImplementation Implementation => MpiImplementation.Mpich;
}
