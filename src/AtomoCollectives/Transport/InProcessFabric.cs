using System.Numerics.Tensors;

namespace AtomoCollectives;

/// <summary>
/// The shared state of an <see cref="InProcessCluster"/>: the collectives in flight, matched across ranks by
/// their sequence number. The last rank to arrive at a collective performs it for everyone (outside the lock)
/// and wakes the others; a failed rank wakes everyone, and waiters then throw instead of waiting. A split makes a
/// child fabric per group of ranks; a failure or an exit anywhere reaches every fabric of the cluster, as one rank's
/// end reaches every communicator of an MPI job.
/// </summary>
internal sealed unsafe class InProcessFabric
{
    private readonly object _gate = new();
    private readonly Dictionary<long, Round> _rounds = [];
    private readonly bool[] _exited;
    private readonly InProcessFabric? _parent;
    private readonly int[] _parentRanks;   // this fabric's rank r is the parent's rank _parentRanks[r]
    private readonly List<InProcessFabric> _children = [];
    private readonly Dictionary<(long Split, int Color), InProcessFabric> _splitting = [];
    private int _failedRank = -1;
    private Exception? _failure;
    private int _joined;
    private int _released;

    public InProcessFabric(int size)
        : this(null, [.. Enumerable.Range(0, size)])
    {
    }

    private InProcessFabric(InProcessFabric? parent, int[] parentRanks)
    {
        _parent = parent;
        _parentRanks = parentRanks;
        Size = parentRanks.Length;
        _exited = new bool[Size];
    }

    public int Size { get; }

    internal enum Kind
    {
        Barrier,
        Allgather,
        Allgatherv,
        AllgathervSegments,
        AllreduceSum,
        ReduceScatterSum,
        Broadcast,
    }

    /// <summary>One rank's part of a collective: pinned pointers that stay valid until the round completes.</summary>
    internal struct Contribution
    {
        public byte* Send;
        public int SendLength;
        public byte* Receive;
        public long ReceiveLength;
        public int Root;
        public int[]? Counts;
        public nint[]? Destinations;
    }

    internal sealed class Round(Kind kind, long sequence, int size)
    {
        public Kind Kind { get; } = kind;
        public long Sequence { get; } = sequence;
        public Contribution[] Parts { get; } = new Contribution[size];
        public bool[] Present { get; } = new bool[size];
        public int Arrived { get; set; }
        public bool Executing { get; set; }
        public bool Completed { get; set; }
        public string? Error { get; set; }
    }

    /// <summary>Adds this rank's part to collective number <paramref name="sequence"/>; runs it if this rank is the last.</summary>
    public Round Post(int rank, long sequence, Kind kind, in Contribution part)
    {
        Round? round;
        bool last;
        lock (_gate)
        {
            ThrowIfFailed();
            if (!_rounds.TryGetValue(sequence, out round))
            {
                round = new Round(kind, sequence, Size);
                _rounds.Add(sequence, round);
            }
            else if (round.Kind != kind)
            {
                throw new InvalidOperationException(
                    $"Collective #{sequence}: rank {rank} called {kind} but another rank called {round.Kind}; every rank must make the same collective calls in the same order.");
            }

            round.Parts[rank] = part;
            round.Present[rank] = true;
            round.Arrived++;
            last = round.Arrived == Size;
            if (last)
            {
                _rounds.Remove(sequence);
                round.Executing = true;
            }
        }

        if (last)
        {
            try
            {
                round.Error = Execute(round);
            }
            finally
            {
                lock (_gate)
                {
                    round.Completed = true;
                    Monitor.PulseAll(_gate);
                }
            }
        }

        return round;
    }

    /// <summary>Blocks until <paramref name="round"/> completes; throws if a rank failed first or the call was invalid.</summary>
    public void Wait(Round round)
    {
        lock (_gate)
        {
            while (!round.Completed)
            {
                // Once a round executes it finishes promptly, and it writes into this rank's buffers: wait for it.
                if (!round.Executing)
                {
                    ThrowIfFailed();
                    ThrowIfAbandoned(round);
                }

                Monitor.Wait(_gate);
            }
        }

        ThrowIfInvalid(round);
    }

    /// <summary>Whether <paramref name="round"/> has completed, without blocking.</summary>
    public bool Test(Round round)
    {
        lock (_gate)
        {
            if (!round.Completed)
            {
                if (!round.Executing)
                {
                    ThrowIfFailed();
                    ThrowIfAbandoned(round);
                }

                return false;
            }
        }

        ThrowIfInvalid(round);
        return true;
    }

    /// <summary>Rank <paramref name="rank"/> of this fabric failed: the whole cluster fails, from the root fabric down.</summary>
    public void Fail(int rank, Exception error)
    {
        if (_parent is not null)
        {
            _parent.Fail(_parentRanks[rank], error);
            return;
        }

        Failed(rank, error is RankFailedException released ? released.FailedRank : rank, error);
    }

    public void RankExited(int rank)
    {
        InProcessFabric[] children;
        lock (_gate)
        {
            _exited[rank] = true;
            Monitor.PulseAll(_gate);
            children = [.. _children];
        }

        foreach (InProcessFabric child in children)
        {
            if (Array.IndexOf(child._parentRanks, rank) is int theirs and >= 0)
            {
                child.RankExited(theirs);
            }
        }
    }

    /// <summary>
    /// This rank's part of a split whose every rank's (color, key) pair is <paramref name="colorsAndKeys"/>, gathered by
    /// collective number <paramref name="split"/> of this fabric: the fabric of the ranks with this rank's color,
    /// ordered by key, then rank, and this rank's place in it. The first of them to arrive makes it.
    /// </summary>
    public (InProcessFabric Fabric, int Rank) Split(long split, int rank, ReadOnlySpan<int> colorsAndKeys)
    {
        int color = colorsAndKeys[2 * rank];
        var members = new List<int>();
        for (int r = 0; r < Size; r++)
        {
            if (colorsAndKeys[2 * r] == color)
            {
                members.Add(r);
            }
        }

        int[] keys = colorsAndKeys.ToArray();
        int[] ordered = [.. members.OrderBy(r => keys[(2 * r) + 1]).ThenBy(r => r)];
        lock (_gate)
        {
            ThrowIfFailed();
            if (!_splitting.TryGetValue((split, color), out InProcessFabric? child))
            {
                child = new InProcessFabric(this, ordered);
                _splitting.Add((split, color), child);
                _children.Add(child);
            }

            if (++child._joined == child.Size)
            {
                _splitting.Remove((split, color));
            }

            return (child, Array.IndexOf(ordered, rank));
        }
    }

    /// <summary>A rank is done with this fabric (its communicator was disposed); the last one detaches it from its parent.</summary>
    public void Release()
    {
        if (_parent is not null && Interlocked.Increment(ref _released) == Size)
        {
            lock (_parent._gate)
            {
                _parent._children.Remove(this);
            }
        }
    }

    /// <summary>Records the cluster's failure (the first one wins) here and in every fabric split off this one.</summary>
    private void Failed(int rank, int failedRank, Exception error)
    {
        InProcessFabric[] children;
        lock (_gate)
        {
            if (_failure is null)
            {
                _failedRank = failedRank;
                _failure = error;
            }

            if (rank >= 0)
            {
                _exited[rank] = true;
            }

            Monitor.PulseAll(_gate);
            children = [.. _children];
        }

        foreach (InProcessFabric child in children)
        {
            child.Failed(Array.IndexOf(child._parentRanks, rank), failedRank, error);
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            throw new RankFailedException(_failedRank, _failure);
        }
    }

    private void ThrowIfAbandoned(Round round)
    {
        for (int r = 0; r < Size; r++)
        {
            if (!round.Present[r] && _exited[r])
            {
                throw new InvalidOperationException(
                    $"Rank {WorldRank(r)} returned without calling collective #{round.Sequence} ({round.Kind}){(_parent is null ? "" : " of a communicator split off the cluster")}, which the other ranks are waiting in; every rank must make the same collective calls.");
            }
        }
    }

    /// <summary>Rank <paramref name="rank"/> of this fabric as the cluster numbers it.</summary>
    private int WorldRank(int rank) => _parent is null ? rank : _parent.WorldRank(_parentRanks[rank]);

    private static void ThrowIfInvalid(Round round)
    {
        if (round.Error is not null)
        {
            throw new InvalidOperationException(round.Error);
        }
    }

    /// <summary>Performs the collective for every rank; returns an error text if the parts do not match.</summary>
    private string? Execute(Round round)
    {
        Contribution[] parts = round.Parts;
        string what = $"Collective #{round.Sequence} ({round.Kind})";
        switch (round.Kind)
        {
            case Kind.Barrier:
                return null;

            case Kind.Allgather:
            {
                int length = parts[0].SendLength;
                for (int r = 1; r < Size; r++)
                {
                    if (parts[r].SendLength != length)
                    {
                        return $"{what}: rank {r} sends {parts[r].SendLength} bytes but rank 0 sends {length}; Allgather needs the same length on every rank.";
                    }
                }

                for (int d = 0; d < Size; d++)
                {
                    for (int s = 0; s < Size; s++)
                    {
                        Buffer.MemoryCopy(parts[s].Send, parts[d].Receive + ((long)s * length), length, length);
                    }
                }

                return null;
            }

            case Kind.Allgatherv:
            case Kind.AllgathervSegments:
            {
                int[] counts = parts[0].Counts!;
                for (int r = 0; r < Size; r++)
                {
                    if (!parts[r].Counts.AsSpan().SequenceEqual(counts))
                    {
                        return $"{what}: rank {r} passed counts [{string.Join(", ", parts[r].Counts!)}] but rank 0 passed [{string.Join(", ", counts)}]; counts must be identical on every rank.";
                    }
                }

                for (int d = 0; d < Size; d++)
                {
                    long offset = 0;
                    for (int s = 0; s < Size; s++)
                    {
                        byte* destination = round.Kind == Kind.Allgatherv ? parts[d].Receive + offset : (byte*)parts[d].Destinations![s];
                        Buffer.MemoryCopy(parts[s].Send, destination, counts[s], counts[s]);
                        offset += counts[s];
                    }
                }

                return null;
            }

            case Kind.AllreduceSum:
            {
                int length = parts[0].SendLength;
                for (int r = 1; r < Size; r++)
                {
                    if (parts[r].SendLength != length)
                    {
                        return $"{what}: rank {r} has {parts[r].SendLength / sizeof(float)} values but rank 0 has {length / sizeof(float)}; AllreduceSum needs the same length on every rank.";
                    }
                }

                int count = length / sizeof(float);
                const int block = 4096;
                Span<float> sum = stackalloc float[block];
                for (int start = 0; start < count; start += block)
                {
                    int n = Math.Min(block, count - start);
                    Span<float> acc = sum[..n];
                    new ReadOnlySpan<float>((float*)parts[0].Receive + start, n).CopyTo(acc);
                    for (int s = 1; s < Size; s++)
                    {
                        TensorPrimitives.Add(acc, new ReadOnlySpan<float>((float*)parts[s].Receive + start, n), acc);
                    }

                    for (int d = 0; d < Size; d++)
                    {
                        acc.CopyTo(new Span<float>((float*)parts[d].Receive + start, n));
                    }
                }

                return null;
            }

            case Kind.ReduceScatterSum:
            {
                int[] counts = parts[0].Counts!;
                for (int r = 0; r < Size; r++)
                {
                    if (!parts[r].Counts.AsSpan().SequenceEqual(counts))
                    {
                        return $"{what}: rank {r} passed counts [{string.Join(", ", parts[r].Counts!)}] but rank 0 passed [{string.Join(", ", counts)}]; counts must be identical on every rank.";
                    }
                }

                // Each block summed in rank order, straight into its rank's receive buffer.
                long offset = 0;
                for (int d = 0; d < Size; d++)
                {
                    var block = new Span<float>((float*)parts[d].Receive, counts[d]);
                    new ReadOnlySpan<float>((float*)parts[0].Send + offset, counts[d]).CopyTo(block);
                    for (int s = 1; s < Size; s++)
                    {
                        TensorPrimitives.Add(block, new ReadOnlySpan<float>((float*)parts[s].Send + offset, counts[d]), block);
                    }

                    offset += counts[d];
                }

                return null;
            }

            case Kind.Broadcast:
            {
                int root = parts[0].Root;
                int length = (int)parts[0].ReceiveLength;
                for (int r = 1; r < Size; r++)
                {
                    if (parts[r].Root != root || parts[r].ReceiveLength != length)
                    {
                        return $"{what}: rank {r} passed root {parts[r].Root} and {parts[r].ReceiveLength} bytes but rank 0 passed root {root} and {length} bytes; they must match on every rank.";
                    }
                }

                for (int d = 0; d < Size; d++)
                {
                    if (d != root)
                    {
                        new ReadOnlySpan<byte>(parts[root].Receive, length).CopyTo(new Span<byte>(parts[d].Receive, length));
                    }
                }

                return null;
            }

            default:
                return $"{what}: unknown collective.";
        }
    }
}
