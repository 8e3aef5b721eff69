using System.Numerics.Tensors;

namespace AtomoCollectives;

/// <summary>
/// The shared state of an <see cref="InProcessCluster"/>: the collectives in flight, matched across ranks by
/// their sequence number. The last rank to arrive at a collective performs it for everyone (outside the lock)
/// and wakes the others; a failed rank wakes everyone, and waiters then throw instead of waiting.
/// </summary>
internal sealed unsafe class InProcessFabric
{
    private readonly object _gate = new();
    private readonly Dictionary<long, Round> _rounds = [];
    private readonly bool[] _exited;
    private int _failedRank = -1;
    private Exception? _failure;

    public InProcessFabric(int size)
    {
        Size = size;
        _exited = new bool[size];
    }

    public int Size { get; }

    internal enum Kind
    {
        Barrier,
        Allgather,
        Allgatherv,
        AllgathervSegments,
        AllreduceSum,
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

    public void Fail(int rank, Exception error)
    {
        lock (_gate)
        {
            if (_failure is null && error is not RankFailedException)
            {
                _failedRank = rank;
                _failure = error;
            }
            else if (_failure is null)
            {
                _failedRank = (error as RankFailedException)!.FailedRank;
                _failure = error;
            }

            _exited[rank] = true;
            Monitor.PulseAll(_gate);
        }
    }

    public void RankExited(int rank)
    {
        lock (_gate)
        {
            _exited[rank] = true;
            Monitor.PulseAll(_gate);
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
                    $"Rank {r} returned without calling collective #{round.Sequence} ({round.Kind}), which the other ranks are waiting in; every rank must make the same collective calls.");
            }
        }
    }

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
