using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>
/// <see cref="ICommunicator"/> over an MPI communicator. Counts and displacements for allgatherv live in
/// arrays owned by the communicator, so the blocking calls allocate nothing. Its node grouping is
/// <c>MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)</c> and its rails <c>MPI_Comm_split</c>; the communicators it splits
/// off are its own and freed (<c>MPI_Comm_free</c>) on <see cref="Dispose"/>.
/// </summary>
internal sealed unsafe class MpiCommunicator : ICommunicator, IAbortableCommunicator, INodeAwareCommunicator, ICommunicatorSplitter, IReduceScatterCommunicator, ISharedMemoryCommunicator
{
    /// <summary>Largest piece of a broadcast or allreduce handed to MPI at once (MPI counts are <c>int</c>).</summary>
    internal const int MaxChunkBytes = 1 << 30;

    private readonly MpiFlavor _flavor;
    private readonly nint _comm;
    private readonly int[] _counts;
    private readonly int[] _displacements;
    private readonly Action<string>? _abort;
    private readonly bool _ownsHandle;
    private bool _freed;
    private bool? _sharesMemory;

    /// <param name="flavor">The bound MPI library.</param>
    /// <param name="comm">The communicator handle.</param>
    /// <param name="abort">How to end the job (the environment's MPI_Abort with its reason written first).</param>
    /// <param name="ownsHandle">Whether <see cref="Dispose"/> frees <paramref name="comm"/> (a split of ours), or it belongs to someone else (the world, MPI.NET's).</param>
    public MpiCommunicator(MpiFlavor flavor, nint comm, Action<string>? abort = null, bool ownsHandle = false)
    {
        _flavor = flavor;
        _abort = abort;
        _comm = comm;
        _ownsHandle = ownsHandle;
        int rank, size;
        Check(flavor.CommRank(comm, &rank), "MPI_Comm_rank");
        Check(flavor.CommSize(comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        _counts = new int[size];
        _displacements = new int[size];
    }

    /// <summary>
    /// Totals above this many bytes take the large-message path (<c>MPI_Allgatherv_c</c> where exported, else
    /// one chunked broadcast per rank). <c>int.MaxValue</c> normally; tests lower it to exercise that path.
    /// </summary>
    internal static long LargeMessageThreshold { get; set; } = int.MaxValue;

    /// <summary>Chunk size of the broadcast fallback of the large-message path; tests lower it.</summary>
    internal static int LargeMessageChunkBytes { get; set; } = MaxChunkBytes;

    /// <summary>Forces the broadcast fallback even where <c>MPI_Allgatherv_c</c> exists (tests).</summary>
    internal static bool DisableLargeCountCalls { get; set; }

    public int Rank { get; }

    public int Size { get; }

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
            if (sendBytes * Size <= LargeMessageThreshold)
            {
                Check(_flavor.Allgather(s, (int)sendBytes, _flavor.Byte, r, (int)sendBytes, _flavor.Byte, _comm), "MPI_Allgather");
                return;
            }

            // The receive buffer may exceed 2 GiB in bytes (Size × send.Length elements of a large T).
            int[] counts = ArrayPool<int>.Shared.Rent(Size);
            try
            {
                counts.AsSpan(0, Size).Fill((int)sendBytes);
                LargeAllgatherv((byte*)s, (int)sendBytes, counts.AsSpan(0, Size), (byte*)r);
            }
            finally
            {
                ArrayPool<int>.Shared.Return(counts);
            }
        }
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive)
    {
        long total = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        fixed (byte* s = send)
        fixed (byte* r = receive)
        {
            if (total <= LargeMessageThreshold)
            {
                FillDisplacements(counts);
                fixed (int* c = _counts)
                fixed (int* d = _displacements)
                {
                    Check(_flavor.Allgatherv(s, send.Length, _flavor.Byte, r, c, d, _flavor.Byte, _comm), "MPI_Allgatherv");
                }

                return;
            }

            LargeAllgatherv(s, send.Length, counts, r);
        }
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
    {
        _ = CommunicatorArguments.ValidateAllgathervSegments(Rank, Size, send.Length, counts, receive);
        MemoryHandle[] pins = ArrayPool<MemoryHandle>.Shared.Rent(Size);
        nint[] destinations = ArrayPool<nint>.Shared.Rent(Size);
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
                AllgathervToAddresses(s, send.Length, counts, destinations.AsSpan(0, Size));
            }
        }
        finally
        {
            for (int r = 0; r < pinned; r++)
            {
                pins[r].Dispose();
            }

            ArrayPool<MemoryHandle>.Shared.Return(pins, clearArray: true);
            ArrayPool<nint>.Shared.Return(destinations);
        }
    }

    public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
    {
        long total = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        if (total > LargeMessageThreshold)
        {
            // No portable nonblocking large-count call: complete it now (the caller still gets a request).
            Allgatherv(send.Span, counts, receive.Span);
            return CollectiveRequest.Completed;
        }

        var request = new MpiRequest(this, send, counts, receive);
        request.Start();
        return request;
    }

    public void AllreduceSum(Span<float> data)
    {
        // In place (MPI_IN_PLACE), in chunks whose counts fit an int.
        const int chunk = MaxChunkBytes / sizeof(float);
        fixed (float* sum = data)
        {
            long offset = 0;
            do
            {
                int count = (int)Math.Min(chunk, data.Length - offset);
                Check(_flavor.Allreduce(_flavor.InPlace, sum + offset, count, _flavor.Float, _flavor.OpSum, _comm), "MPI_Allreduce");
                offset += count;
            }
            while (offset < data.Length);
        }
    }

    public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts)
    {
        CommunicatorArguments.ValidateReduceScatter(Rank, Size, send.Length, counts, receive.Length);
        counts.CopyTo(_counts);
        fixed (float* s = send)
        fixed (float* r = receive)
        fixed (int* c = _counts)
        {
            Check(_flavor.ReduceScatter(s, r, c, _flavor.Float, _flavor.OpSum, _comm), "MPI_Reduce_scatter");
        }
    }

    public void Broadcast(Span<byte> data, int root)
    {
        CommunicatorArguments.ValidateRoot(Size, root);

        fixed (byte* p = data)
        {
            BroadcastChunked(p, data.Length, root, MaxChunkBytes);
        }
    }

    public void Barrier() => Check(_flavor.Barrier(_comm), "MPI_Barrier");

    public NodeTopology SplitByNode() => NodeTopology.Split(this, this);

    public ICommunicator Split(int color, int key)
    {
        Check(_flavor.CommSplit(_comm, color, key, out nint created), "MPI_Comm_split");
        return Adopt(created);
    }

    public ICommunicator SplitShared()
    {
        Check(_flavor.CommSplitType(_comm, _flavor.CommTypeShared, Rank, _flavor.InfoNull, out nint created), "MPI_Comm_split_type");
        return Adopt(created);
    }

    /// <inheritdoc />
    /// <inheritdoc />
    /// <remarks>
    /// Whether the ranks share memory is asked of MPI once (<c>MPI_Comm_split_type</c> with <c>MPI_COMM_TYPE_SHARED</c>
    /// over this communicator: one group of all its ranks), so a node grouped by <c>ATOMO_RANKS_PER_NODE</c> across
    /// hosts gets null rather than a failed window.
    /// </remarks>
    public NodeSharedMemory? AllocateShared(long floatsPerRank, out string? reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(floatsPerRank, 1);
        _sharesMemory ??= SharesMemory();
        if (_sharesMemory == false)
        {
            reason = $"the node's {Size} ranks do not all share memory (MPI_COMM_TYPE_SHARED splits them)";
            return null;
        }

        return MpiSharedMemory.Allocate(this, _flavor, _comm, floatsPerRank, out reason);
    }

    private bool SharesMemory()
    {
        Check(_flavor.CommSplitType(_comm, _flavor.CommTypeShared, Rank, _flavor.InfoNull, out nint shared), "MPI_Comm_split_type");
        int size;
        int rc = _flavor.CommSize(shared, &size);
        _ = _flavor.CommFree(shared);
        Check(rc, "MPI_Comm_size");
        return size == Size;   // the same on every rank: all in one group, or every group smaller
    }

    public void Abort(string reason)
    {
        if (_abort is not null)
        {
            _abort(reason);
        }

        Console.Error.WriteLine($"[rank {Rank}/{Size}] aborting the MPI job: {reason}");
        Console.Error.Flush();
        _flavor.Abort(_comm, 1);
        Environment.Exit(1);
    }

    /// <summary>
    /// Frees the handle when it is a split of ours; the world belongs to the <see cref="MpiEnvironment"/>, and after
    /// <c>MPI_Finalize</c> there is nothing left to free.
    /// </summary>
    public void Dispose()
    {
        if (!_ownsHandle || _freed)
        {
            return;
        }

        _freed = true;
        int finalized = 0;
        _ = Interop.Mpi.Finalized(&finalized);
        if (finalized == 0)
        {
            Check(_flavor.CommFree(_comm), "MPI_Comm_free");
        }
    }

    /// <summary>A communicator split off this one: ours to free, raising errors as this one does, ending the job as this one does.</summary>
    private MpiCommunicator Adopt(nint created)
    {
        int rc = _flavor.CommSetErrhandler(created, _flavor.ErrorsReturn);
        if (rc != Interop.Mpi.MPI_SUCCESS)
        {
            _ = _flavor.CommFree(created);
            Throw(rc, "MPI_Comm_set_errhandler");
        }

        return new MpiCommunicator(_flavor, created, _abort, ownsHandle: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Check(int errorCode, string call)
    {
        if (errorCode != Interop.Mpi.MPI_SUCCESS)
        {
            Throw(errorCode, call);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Throw(int errorCode, string call)
        => throw new MpiException($"{call} failed on rank {Rank} of {Size}: {MpiEnvironment.ErrorText(errorCode)}", errorCode);

    internal void FillDisplacements(ReadOnlySpan<int> counts, int[]? countsTarget = null, int[]? displacementsTarget = null)
    {
        int[] c = countsTarget ?? _counts;
        int[] d = displacementsTarget ?? _displacements;
        int offset = 0;
        for (int r = 0; r < counts.Length; r++)
        {
            c[r] = counts[r];
            d[r] = offset;
            offset += counts[r];
        }
    }

    /// <summary>Contiguous gather whose total does not fit MPI's <c>int</c> displacements.</summary>
    private void LargeAllgatherv(byte* send, int sendLength, ReadOnlySpan<int> counts, byte* receive)
    {
        nint[] destinations = ArrayPool<nint>.Shared.Rent(Size);
        try
        {
            long offset = 0;
            for (int r = 0; r < Size; r++)
            {
                destinations[r] = (nint)(receive + offset);
                offset += counts[r];
            }

            AllgathervToAddresses(send, sendLength, counts, destinations.AsSpan(0, Size));
        }
        finally
        {
            ArrayPool<nint>.Shared.Return(destinations);
        }
    }

    /// <summary>
    /// Gathers rank r's payload to address <c>destinations[r]</c>, with no limit on the total: one
    /// <c>MPI_Allgatherv_c</c> (base = lowest destination, 64-bit displacements) where exported, else one
    /// chunked broadcast per rank.
    /// </summary>
    private void AllgathervToAddresses(byte* send, int sendLength, ReadOnlySpan<int> counts, ReadOnlySpan<nint> destinations)
    {
        if (_flavor.HasLargeCountAllgatherv && !DisableLargeCountCalls)
        {
            nint lowest = 0;
            for (int r = 0; r < Size; r++)
            {
                if (counts[r] > 0 && (lowest == 0 || destinations[r] < lowest))
                {
                    lowest = destinations[r];
                }
            }

            byte dummy = 0;
            byte* bottom = lowest != 0 ? (byte*)lowest : &dummy; // all counts zero: any valid address
            long[] bigCounts = ArrayPool<long>.Shared.Rent(Size);
            long[] bigDisplacements = ArrayPool<long>.Shared.Rent(Size);
            try
            {
                for (int r = 0; r < Size; r++)
                {
                    bigCounts[r] = counts[r];
                    bigDisplacements[r] = counts[r] > 0 ? (long)((byte*)destinations[r] - bottom) : 0;
                }

                fixed (long* c = bigCounts)
                fixed (long* d = bigDisplacements)
                {
                    Check(_flavor.AllgathervLarge(send, sendLength, _flavor.Byte, bottom, c, d, _flavor.Byte, _comm), "MPI_Allgatherv_c");
                }
            }
            finally
            {
                ArrayPool<long>.Shared.Return(bigCounts);
                ArrayPool<long>.Shared.Return(bigDisplacements);
            }

            return;
        }

        // Portable fallback (Open MPI 4.1 has no large-count calls): each rank broadcasts its own payload.
        for (int root = 0; root < Size; root++)
        {
            byte* destination = (byte*)destinations[root];
            if (root == Rank)
            {
                Buffer.MemoryCopy(send, destination, sendLength, sendLength);
            }

            BroadcastChunked(destination, counts[root], root, LargeMessageChunkBytes);
        }
    }

    private void BroadcastChunked(byte* data, long length, int root, int chunk)
    {
        long offset = 0;
        do
        {
            int count = (int)Math.Min(chunk, length - offset);
            Check(_flavor.Bcast(data + offset, count, _flavor.Byte, root, _comm), "MPI_Bcast");
            offset += count;
        }
        while (offset < length);
    }

    /// <summary>An <c>MPI_Iallgatherv</c> in flight: owns the pins and the count arrays until completion.</summary>
    private sealed class MpiRequest : CollectiveRequest
    {
        private readonly MpiCommunicator _owner;
        private readonly int[] _counts;
        private readonly int[] _displacements;
        private readonly ReadOnlyMemory<byte> _send;
        private readonly Memory<byte> _receive;
        private MemoryHandle _sendPin;
        private MemoryHandle _receivePin;
        private nint _request;

        public MpiRequest(MpiCommunicator owner, ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
        {
            _owner = owner;
            _send = send;
            _receive = receive;
            // MPI reads these until completion, so they live on the pinned object heap and never move.
            _counts = GC.AllocateUninitializedArray<int>(owner.Size, pinned: true);
            _displacements = GC.AllocateUninitializedArray<int>(owner.Size, pinned: true);
            owner.FillDisplacements(counts, _counts, _displacements);
        }

        public void Start()
        {
            MpiCommunicator owner = _owner;
            _sendPin = _send.Pin();
            _receivePin = _receive.Pin();
            try
            {
                int* c = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_counts));
                int* d = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_displacements));
                owner.Check(owner._flavor.Iallgatherv(_sendPin.Pointer, _send.Length, owner._flavor.Byte,
                    _receivePin.Pointer, c, d, owner._flavor.Byte, owner._comm, out _request), "MPI_Iallgatherv");
            }
            catch
            {
                Release();
                throw;
            }
        }

        protected override bool TestCore()
        {
            _owner.Check(_owner._flavor.Test(ref _request, out bool done), "MPI_Test");
            if (done)
            {
                Release();
            }

            return done;
        }

        // On an MPI error the pins are kept: MPI may still own the buffers of a request it failed to complete.
        protected override void WaitCore()
        {
            _owner.Check(_owner._flavor.Wait(ref _request), "MPI_Wait");
            Release();
        }

        private void Release()
        {
            _sendPin.Dispose();
            _receivePin.Dispose();
        }
    }
}
