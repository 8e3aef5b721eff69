using System.Buffers;
using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>
/// One rank of an <see cref="InProcessCluster"/>, or of a communicator split off one. The threads of one process share
/// its memory, so they form one node, unless <c>ATOMO_RANKS_PER_NODE</c> groups them (<see cref="NodeTopology"/>).
/// </summary>
internal sealed unsafe class InProcessCommunicator(InProcessFabric fabric, int rank) : ICommunicator, IAbortableCommunicator, INodeAwareCommunicator, ICommunicatorSplitter, IReduceScatterCommunicator, ISharedMemoryCommunicator
{
    private long _sequence;
    private bool _disposed;

    public int Rank { get; } = rank;

    public int Size => fabric.Size;

    public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        CommunicatorArguments.ValidateAllgather(Size, send.Length, receive.Length);
        long sendBytes = (long)send.Length * sizeof(T);
        if (sendBytes > int.MaxValue)
        {
            throw new ArgumentException($"Each rank may contribute at most {int.MaxValue} bytes to Allgather; got {sendBytes}.", nameof(send));
        }

        fixed (T* s = send)
        fixed (T* r = receive)
        {
            Run(InProcessFabric.Kind.Allgather, new() { Send = (byte*)s, SendLength = (int)sendBytes, Receive = (byte*)r, ReceiveLength = (long)receive.Length * sizeof(T) });
        }
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive)
    {
        _ = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        fixed (byte* s = send)
        fixed (byte* r = receive)
        {
            Run(InProcessFabric.Kind.Allgatherv, new() { Send = s, SendLength = send.Length, Receive = r, ReceiveLength = receive.Length, Counts = counts.ToArray() });
        }
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
    {
        _ = CommunicatorArguments.ValidateAllgathervSegments(Rank, Size, send.Length, counts, receive);
        var pins = new MemoryHandle[Size];
        var destinations = new nint[Size];
        int pinned = 0;
        try
        {
            for (; pinned < Size; pinned++)
            {
                pins[pinned] = receive[pinned].Pin();
                destinations[pinned] = (nint)pins[pinned].Pointer;
            }

            fixed (byte* s = send)
            {
                Run(InProcessFabric.Kind.AllgathervSegments, new() { Send = s, SendLength = send.Length, Counts = counts.ToArray(), Destinations = destinations });
            }
        }
        finally
        {
            for (int r = 0; r < pinned; r++)
            {
                pins[r].Dispose();
            }
        }
    }

    public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
    {
        _ = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        MemoryHandle sendPin = send.Pin();
        MemoryHandle receivePin = receive.Pin();
        try
        {
            var part = new InProcessFabric.Contribution
            {
                Send = (byte*)sendPin.Pointer,
                SendLength = send.Length,
                Receive = (byte*)receivePin.Pointer,
                ReceiveLength = receive.Length,
                Counts = counts.ToArray(),
            };
            InProcessFabric.Round round = fabric.Post(Rank, _sequence++, InProcessFabric.Kind.Allgatherv, part);
            return new InProcessRequest(fabric, round, sendPin, receivePin);
        }
        catch
        {
            sendPin.Dispose();
            receivePin.Dispose();
            throw;
        }
    }

    public void AllreduceSum(Span<float> data)
    {
        fixed (float* p = data)
        {
            int bytes = checked(data.Length * sizeof(float));
            Run(InProcessFabric.Kind.AllreduceSum, new() { Send = (byte*)p, SendLength = bytes, Receive = (byte*)p, ReceiveLength = bytes });
        }
    }

    public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts)
    {
        CommunicatorArguments.ValidateReduceScatter(Rank, Size, send.Length, counts, receive.Length);
        fixed (float* s = send)
        fixed (float* r = receive)
        {
            Run(InProcessFabric.Kind.ReduceScatterSum, new() { Send = (byte*)s, SendLength = checked(send.Length * sizeof(float)), Receive = (byte*)r, ReceiveLength = (long)receive.Length * sizeof(float), Counts = counts.ToArray() });
        }
    }

    public void Broadcast(Span<byte> data, int root)
    {
        CommunicatorArguments.ValidateRoot(Size, root);
        fixed (byte* p = data)
        {
            Run(InProcessFabric.Kind.Broadcast, new() { Send = p, SendLength = data.Length, Receive = p, ReceiveLength = data.Length, Root = root });
        }
    }

    public void Barrier() => Run(InProcessFabric.Kind.Barrier, default);

    /// <summary>Fails the fabric: every rank's pending and later collectives raise <see cref="RankFailedException"/> naming this rank.</summary>
    public void Abort(string reason) => fabric.Fail(Rank, new TimeoutException(reason));

    public NodeTopology SplitByNode() => NodeTopology.Split(this, this);

    public ICommunicator Split(int color, int key)
    {
        long split = _sequence;   // the number of the gather below, the same on every rank: it names this split
        var colorsAndKeys = new int[2 * Size];
        Allgather<int>([color, key], colorsAndKeys);
        (InProcessFabric part, int partRank) = fabric.Split(split, Rank, colorsAndKeys);
        return new InProcessCommunicator(part, partRank);
    }

    public ICommunicator SplitShared() => Split(0, Rank);

    /// <inheritdoc />
    public NodeSharedMemory? AllocateShared(long floatsPerRank, out string? reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floatsPerRank, 1);
        reason = null;
        return InProcessSharedMemory.Allocate(this, floatsPerRank);
    }

    /// <summary>Tells the fabric this rank is done with it (once), so that a split's fabric leaves its cluster when all its ranks are.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            fabric.Release();
        }
    }

    private void Run(InProcessFabric.Kind kind, in InProcessFabric.Contribution part)
        => fabric.Wait(fabric.Post(Rank, _sequence++, kind, part));

    private sealed class InProcessRequest(InProcessFabric fabric, InProcessFabric.Round round, MemoryHandle sendPin, MemoryHandle receivePin)
        : CollectiveRequest
    {
        private MemoryHandle _sendPin = sendPin;
        private MemoryHandle _receivePin = receivePin;

        protected override bool TestCore()
        {
            bool done;
            try
            {
                done = fabric.Test(round);
            }
            catch
            {
                Release();
                throw;
            }

            if (done)
            {
                Release();
            }

            return done;
        }

        protected override void WaitCore()
        {
            try
            {
                fabric.Wait(round);
            }
            finally
            {
                Release();
            }
        }

        private void Release()
        {
            _sendPin.Dispose();
            _receivePin.Dispose();
        }
    }
}
