using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>
/// <see cref="NodeSharedMemory"/> of ranks that are threads of one process (<see cref="InProcessCommunicator"/>): each
/// rank allocates its segment in native memory and the ranks gather the addresses; a fence is a barrier between full
/// memory barriers.
/// </summary>
internal sealed unsafe class InProcessSharedMemory : NodeSharedMemory
{
    private readonly ICommunicator _communicator;
    private readonly float* _mine;

    private InProcessSharedMemory(ICommunicator communicator, float* mine, float*[] segments, long floatsPerRank)
        : base(segments, floatsPerRank)
    {
        _communicator = communicator;
        _mine = mine;
    }

    /// <summary>Collective over <paramref name="communicator"/>, whose ranks are threads of this process.</summary>
    public static InProcessSharedMemory Allocate(ICommunicator communicator, long floatsPerRank)
    {
        float* mine = (float*)NativeMemory.AlignedAlloc((nuint)(floatsPerRank * sizeof(float)), 64);
        try
        {
            var addresses = new long[communicator.Size];
            communicator.Allgather<long>([(long)mine], addresses);
            float*[] segments = new float*[addresses.Length];
            for (int r = 0; r < segments.Length; r++)
            {
                segments[r] = (float*)addresses[r];
            }

            return new InProcessSharedMemory(communicator, mine, segments, floatsPerRank);
        }
        catch
        {
            NativeMemory.AlignedFree(mine);
            throw;
        }
    }

    public override void Fence()
    {
        Interlocked.MemoryBarrier();
        _communicator.Barrier();
        Interlocked.MemoryBarrier();
    }

    protected override void Free()
    {
        // Another rank may still read this segment until every rank is here; where the barrier fails (a rank failed and
        // the cluster with it), the segment is left allocated rather than freed under a reader.
        try
        {
            _communicator.Barrier();
        }
        catch (Exception)
        {
            return;
        }

        NativeMemory.AlignedFree(_mine);
    }
}
