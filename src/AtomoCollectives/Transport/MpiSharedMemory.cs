namespace AtomoCollectives;

/// <summary>
/// <see cref="NodeSharedMemory"/> over MPI: a window from <c>MPI_Win_allocate_shared</c> over a node's communicator,
/// every rank's segment mapped through <c>MPI_Win_shared_query</c>, in one passive-target epoch (<c>MPI_Win_lock_all</c>)
/// for its life; a fence is <c>MPI_Win_sync</c>, <c>MPI_Barrier</c>, <c>MPI_Win_sync</c> (the unified memory model's
/// ordering of loads and stores across processes).
/// </summary>
internal sealed unsafe class MpiSharedMemory : NodeSharedMemory
{
    private readonly MpiCommunicator _communicator;
    private readonly MpiFlavor _flavor;
    private readonly nint _comm;
    private readonly nint _win;

    private MpiSharedMemory(MpiCommunicator communicator, MpiFlavor flavor, nint comm, nint win, float*[] segments, long floatsPerRank)
        : base(segments, floatsPerRank)
    {
        _communicator = communicator;
        _flavor = flavor;
        _comm = comm;
        _win = win;
    }

    /// <summary>
    /// Collective over <paramref name="comm"/> (whose ranks share memory): the window, or null where no rank got one (the
    /// failure in <paramref name="reason"/>). Where some ranks got theirs and others not, every rank raises: no rank is
    /// left waiting in a collective the others skip.
    /// </summary>
    public static MpiSharedMemory? Allocate(MpiCommunicator communicator, MpiFlavor flavor, nint comm, long floatsPerRank, out string? reason)
    {
        int rc = flavor.WinAllocateShared(floatsPerRank * sizeof(float), comm, out void* _, out nint win);
        Span<float> failed = [rc == Interop.Mpi.MPI_SUCCESS ? 0 : 1];
        communicator.AllreduceSum(failed);
        if (failed[0] > 0)
        {
            string mine = rc == Interop.Mpi.MPI_SUCCESS ? "this rank got its segment" : MpiEnvironment.ErrorText(rc);
            if (failed[0] < communicator.Size)
            {
                throw new MpiException($"MPI_Win_allocate_shared of {floatsPerRank * sizeof(float)} bytes per rank failed on {failed[0]} of the node's {communicator.Size} ranks ({mine}); set {NodeSharedBlocks.Variable}=0 to sum within nodes through MPI's collectives instead.", rc);
            }

            reason = $"MPI_Win_allocate_shared of {floatsPerRank * sizeof(float)} bytes per rank failed: {mine}";
            return null;
        }

        communicator.Check(flavor.WinSetErrhandler(win, flavor.ErrorsReturn), "MPI_Win_set_errhandler");
        communicator.Check(flavor.WinLockAll(win), "MPI_Win_lock_all");
        var segments = new float*[communicator.Size];
        for (int r = 0; r < segments.Length; r++)
        {
            communicator.Check(flavor.WinSharedQuery(win, r, out void* address), "MPI_Win_shared_query");
            segments[r] = (float*)address;
        }

        reason = null;
        return new MpiSharedMemory(communicator, flavor, comm, win, segments, floatsPerRank);
    }

    public override void Fence()
    {
        _communicator.Check(_flavor.WinSync(_win), "MPI_Win_sync");
        _communicator.Check(_flavor.Barrier(_comm), "MPI_Barrier");
        _communicator.Check(_flavor.WinSync(_win), "MPI_Win_sync");
    }

    protected override void Free()
    {
        int finalized = 0;
        _ = Interop.Mpi.Finalized(&finalized);
        if (finalized == 0)
        {
            _communicator.Check(_flavor.WinUnlockAll(_win), "MPI_Win_unlock_all");
            _communicator.Check(_flavor.WinFree(_win), "MPI_Win_free");
        }
    }
}
