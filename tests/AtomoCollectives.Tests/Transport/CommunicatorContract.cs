using System.Diagnostics;

namespace AtomoCollectives.Tests.Transport;

/// <summary>A contract check failed; the message says what differed.</summary>
public sealed class ContractException(string message) : Exception(message);

/// <summary>
/// The collective contract every <see cref="ICommunicator"/> must meet, written once and run on every transport:
/// by xunit over <see cref="InProcessCluster"/>, and by <c>tests/AtomoCollectives.MpiTests</c> under mpiexec
/// (which links this file). Each case is a collective program run by every rank; it throws
/// <see cref="ContractException"/> on the first wrong value and checks every received byte exactly.
/// </summary>
public static class CommunicatorContract
{
    /// <summary>Every case, by name, in the order they run.</summary>
    public static IReadOnlyList<(string Name, Action<ICommunicator> Run)> Cases { get; } =
    [
        ("rank-and-size", RankAndSize),
        ("allgather-ints", AllgatherInts),
        ("allgather-doubles-and-structs", AllgatherOtherTypes),
        ("allgather-empty", AllgatherEmpty),
        ("allgatherv-zero-all", AllgathervZeroAll),
        ("allgatherv-zero-some", AllgathervZeroSome),
        ("allgatherv-very-uneven", AllgathervVeryUneven),
        ("allgatherv-lengths-then-bytes", AllgathervLengthsThenBytes),
        ("allgatherv-64MiB-total", Allgatherv64MiB),
        ("allgatherv-into-per-rank-buffers", AllgathervIntoPerRankBuffers),
        ("allgatherv-1000-calls-no-growth", Allgatherv1000CallsNoGrowth),
        ("allreduce-sum-exact", AllreduceSumExact),
        ("allreduce-sum-empty-and-odd", AllreduceSumEmptyAndOdd),
        ("broadcast-from-each-root", BroadcastFromEachRoot),
        ("barrier-waits-for-late-rank", BarrierWaitsForLateRank),
        ("nonblocking-allgatherv-overlap", NonblockingAllgathervOverlap),
        ("nonblocking-two-outstanding", NonblockingTwoOutstanding),
        ("invalid-arguments-rejected-locally", InvalidArgumentsRejectedLocally),
        ("null-dereference-is-catchable", NullDereferenceIsCatchable),
    ];

    /// <summary>Runs one case by name.</summary>
    public static void Run(string name, ICommunicator comm)
    {
        foreach ((string caseName, Action<ICommunicator> run) in Cases)
        {
            if (caseName == name)
            {
                run(comm);
                return;
            }
        }

        throw new ArgumentException($"No contract case named '{name}'.", nameof(name));
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private static void Fail(ICommunicator comm, string message) => throw new ContractException($"rank {comm.Rank}/{comm.Size}: {message}");

    private static void Expect(ICommunicator comm, bool condition, string message)
    {
        if (!condition)
        {
            Fail(comm, message);
        }
    }

    /// <summary>Byte i of rank r's payload in every case: depends on both, so misplaced blocks are caught.</summary>
    private static byte PatternByte(int rank, long index) => (byte)((index * 131) + (rank * 29) + (index >> 8) + 7);

    private static void FillPattern(Span<byte> bytes, int rank)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = PatternByte(rank, i);
        }
    }

    private static void CheckGathered(ICommunicator comm, ReadOnlySpan<byte> received, ReadOnlySpan<int> counts, string what)
    {
        long offset = 0;
        for (int r = 0; r < counts.Length; r++)
        {
            for (int i = 0; i < counts[r]; i++)
            {
                byte got = received[(int)(offset + i)];
                if (got != PatternByte(r, i))
                {
                    Fail(comm, $"{what}: byte {i} of rank {r}'s block (offset {offset + i}) is {got}, expected {PatternByte(r, i)}.");
                }
            }

            offset += counts[r];
        }
    }

    /// <summary>Allgather of the lengths, then allgatherv of the bytes: the consumer's pattern.</summary>
    private static byte[] GatherPayloads(ICommunicator comm, int myLength, out int[] counts)
    {
        byte[] mine = new byte[myLength];
        FillPattern(mine, comm.Rank);
        counts = new int[comm.Size];
        comm.Allgather<int>([myLength], counts);
        Expect(comm, counts[comm.Rank] == myLength, $"allgather of lengths put {counts[comm.Rank]} in this rank's slot, expected {myLength}.");
        byte[] received = new byte[counts.Sum(c => (long)c)];
        comm.Allgatherv(mine, counts, received);
        return received;
    }

    // ---- cases --------------------------------------------------------------------------------------------

    /// <summary>Ranks are 0..Size-1, each exactly once, and every rank agrees on Size.</summary>
    public static void RankAndSize(ICommunicator comm)
    {
        Expect(comm, comm.Size >= 1 && comm.Rank >= 0 && comm.Rank < comm.Size, $"Rank {comm.Rank} is not in [0, {comm.Size}).");
        int[] all = new int[comm.Size * 2];
        comm.Allgather<int>([comm.Rank, comm.Size], all);
        for (int r = 0; r < comm.Size; r++)
        {
            Expect(comm, all[2 * r] == r, $"slot {r} holds rank {all[2 * r]}.");
            Expect(comm, all[(2 * r) + 1] == comm.Size, $"rank {r} reports Size {all[(2 * r) + 1]}, this rank {comm.Size}.");
        }
    }

    /// <summary>Fixed-size allgather of ints lands in rank order.</summary>
    public static void AllgatherInts(ICommunicator comm)
    {
        int[] send = [comm.Rank * 1000, (comm.Rank * 1000) + 1, -comm.Rank - 1];
        int[] receive = new int[send.Length * comm.Size];
        comm.Allgather<int>(send, receive);
        for (int r = 0; r < comm.Size; r++)
        {
            Expect(comm, receive[3 * r] == r * 1000 && receive[(3 * r) + 1] == (r * 1000) + 1 && receive[(3 * r) + 2] == -r - 1,
                $"allgather block of rank {r} is [{receive[3 * r]}, {receive[(3 * r) + 1]}, {receive[(3 * r) + 2]}].");
        }
    }

    /// <summary>Allgather is generic over unmanaged types: doubles and a struct.</summary>
    public static void AllgatherOtherTypes(ICommunicator comm)
    {
        double[] doubles = new double[comm.Size];
        comm.Allgather<double>([Math.PI * comm.Rank], doubles);
        (long, short)[] pairs = new (long, short)[comm.Size];
        comm.Allgather<(long, short)>([(long.MaxValue - comm.Rank, (short)-comm.Rank)], pairs);
        for (int r = 0; r < comm.Size; r++)
        {
            Expect(comm, BitConverter.DoubleToInt64Bits(doubles[r]) == BitConverter.DoubleToInt64Bits(Math.PI * r), $"double from rank {r} is {doubles[r]}.");
            Expect(comm, pairs[r] == (long.MaxValue - r, (short)-r), $"struct from rank {r} is {pairs[r]}.");
        }
    }

    /// <summary>An allgather of nothing is legal and leaves the receive buffer alone.</summary>
    public static void AllgatherEmpty(ICommunicator comm)
    {
        int[] receive = [42];
        comm.Allgather<int>([], receive);
        Expect(comm, receive[0] == 42, "an empty allgather wrote into the receive buffer.");
        comm.Allgather<int>([], []);
    }

    /// <summary>Every rank sends zero bytes.</summary>
    public static void AllgathervZeroAll(ICommunicator comm)
    {
        byte[] received = GatherPayloads(comm, 0, out int[] counts);
        Expect(comm, received.Length == 0 && counts.All(c => c == 0), $"expected nothing, got {received.Length} bytes.");
        byte[] sentinel = [0xAB, 0xCD];
        comm.Allgatherv([], counts, sentinel);
        Expect(comm, sentinel[0] == 0xAB && sentinel[1] == 0xCD, "an all-empty allgatherv wrote into the receive buffer.");
    }

    /// <summary>Even ranks send nothing, odd ranks send a few bytes.</summary>
    public static void AllgathervZeroSome(ICommunicator comm)
    {
        int length = comm.Rank % 2 == 0 ? 0 : 3 + comm.Rank;
        byte[] received = GatherPayloads(comm, length, out int[] counts);
        for (int r = 0; r < comm.Size; r++)
        {
            Expect(comm, counts[r] == (r % 2 == 0 ? 0 : 3 + r), $"count of rank {r} is {counts[r]}.");
        }

        CheckGathered(comm, received, counts, "zero-some");
    }

    /// <summary>One rank sends 1 MiB + 7, the others 0..r bytes: blocks of wildly different size.</summary>
    public static void AllgathervVeryUneven(ICommunicator comm)
    {
        int big = comm.Size - 1;
        int length = comm.Rank == big ? (1 << 20) + 7 : comm.Rank;
        byte[] received = GatherPayloads(comm, length, out int[] counts);
        CheckGathered(comm, received, counts, "very-uneven");
    }

    /// <summary>The consumer's pattern with pseudo-random lengths, several rounds, into a larger reused buffer.</summary>
    public static void AllgathervLengthsThenBytes(ICommunicator comm)
    {
        byte[] receive = new byte[64 * 1024 * comm.Size + 100];
        int[] counts = new int[comm.Size];
        for (int round = 0; round < 20; round++)
        {
            int length = (int)((((uint)(comm.Rank + 1) * 2654435761u) ^ (uint)(round * 40503)) % (64 * 1024));
            byte[] mine = new byte[length];
            FillPattern(mine, comm.Rank);
            comm.Allgather<int>([length], counts);
            long total = counts.Sum(c => (long)c);
            receive.AsSpan((int)total).Fill(0xEE);
            comm.Allgatherv(mine, counts, receive);
            CheckGathered(comm, receive, counts, $"round {round}");
            Expect(comm, receive.AsSpan((int)total).IndexOfAnyExcept((byte)0xEE) < 0, $"round {round}: bytes past the total were written.");
        }
    }

    /// <summary>64 MiB gathered in total, split unevenly, checked byte by byte.</summary>
    public static void Allgatherv64MiB(ICommunicator comm)
    {
        const int total = 64 << 20;
        int share = total / comm.Size;
        int length = comm.Rank == 0 ? total - (share * (comm.Size - 1)) : share;
        byte[] received = GatherPayloads(comm, length, out int[] counts);
        Expect(comm, received.Length == total, $"total is {received.Length}, expected {total}.");
        CheckGathered(comm, received, counts, "64MiB");
    }

    /// <summary>The per-rank-buffer overload: uneven and empty payloads, nothing written past counts[r].</summary>
    public static void AllgathervIntoPerRankBuffers(ICommunicator comm)
    {
        for (int round = 0; round < 3; round++)
        {
            int length = (comm.Rank + round) % 3 == 0 ? 0 : (100_000 * (round + 1)) + comm.Rank;
            byte[] mine = new byte[length];
            FillPattern(mine, comm.Rank);
            int[] counts = new int[comm.Size];
            comm.Allgather<int>([length], counts);
            var buffers = new Memory<byte>[comm.Size];
            for (int r = 0; r < comm.Size; r++)
            {
                byte[] buffer = new byte[counts[r] + 5];
                buffer.AsSpan().Fill(0xEE);
                buffers[r] = buffer;
            }

            comm.Allgatherv(mine, counts, buffers);
            for (int r = 0; r < comm.Size; r++)
            {
                Span<byte> got = buffers[r].Span;
                for (int i = 0; i < counts[r]; i++)
                {
                    if (got[i] != PatternByte(r, i))
                    {
                        Fail(comm, $"round {round}: byte {i} of rank {r}'s buffer is {got[i]}, expected {PatternByte(r, i)}.");
                    }
                }

                Expect(comm, got[counts[r]..].IndexOfAnyExcept((byte)0xEE) < 0, $"round {round}: bytes past counts[{r}] were written.");
            }
        }
    }

    /// <summary>
    /// 1,000 lengths-then-bytes rounds with reused buffers: retained managed memory (after a full GC) must not
    /// grow by more than 1 MiB (about 1 KiB per call: catches any per-call leak of that size) and the process
    /// working set by more than 32 MiB (after 100 warm-up rounds). Ranks measure one at a time while the others
    /// wait in a barrier, so in-process ranks do not disturb each other's snapshot. The snapshots are process-wide,
    /// and a test host may allocate on its own once in a while; a leak grows in every batch, so three batches of
    /// 1,000 calls are measured and the smallest growth must stay within the bounds.
    /// </summary>
    public static void Allgatherv1000CallsNoGrowth(ICommunicator comm)
    {
        const long managedBound = 1 << 20;
        const long residentBound = 32L << 20;
        byte[] mine = new byte[4096 + comm.Rank];
        FillPattern(mine, comm.Rank);
        int[] counts = new int[comm.Size];
        byte[] receive = new byte[(4096 + comm.Size) * comm.Size];
        int[] length = new int[1];

        void Round(int i)
        {
            length[0] = mine.Length - (i % 7);
            comm.Allgather<int>(length, counts);
            comm.Allgatherv(mine.AsSpan(0, length[0]), counts, receive);
        }

        for (int i = 0; i < 100; i++)
        {
            Round(i);
        }

        (long managedBefore, long residentBefore) = MeasureInTurn(comm);
        long managedGrowth = long.MaxValue, residentGrowth = long.MaxValue;
        for (int batch = 0; batch < 3; batch++)
        {
            for (int i = 0; i < 1000; i++)
            {
                Round(i);
            }

            CheckGathered(comm, receive, counts, $"after batch {batch} of 1000 calls");
            (long managedAfter, long residentAfter) = MeasureInTurn(comm);
            managedGrowth = Math.Min(managedGrowth, managedAfter - managedBefore);
            residentGrowth = Math.Min(residentGrowth, residentAfter - residentBefore);
            (managedBefore, residentBefore) = (managedAfter, residentAfter);
        }

        Expect(comm, managedGrowth <= managedBound,
            $"retained managed memory grew by at least {managedGrowth} bytes in each of three batches of 1000 calls (bound {managedBound}).");
        Expect(comm, residentGrowth <= residentBound,
            $"working set grew by at least {residentGrowth} bytes in each of three batches of 1000 calls (bound {residentBound}).");
    }

    private static (long Managed, long Resident) MeasureInTurn(ICommunicator comm)
    {
        (long, long) snapshot = default;
        comm.Barrier();
        for (int r = 0; r < comm.Size; r++)
        {
            if (r == comm.Rank)
            {
                long managed = GC.GetTotalMemory(forceFullCollection: true);
                using var process = Process.GetCurrentProcess();
                snapshot = (managed, process.WorkingSet64);
            }

            comm.Barrier();
        }

        return snapshot;
    }

    /// <summary>Integer-valued floats sum exactly, so the result is checked bit for bit.</summary>
    public static void AllreduceSumExact(ICommunicator comm)
    {
        const int n = (1 << 20) + 3;
        float[] data = new float[n];
        for (int i = 0; i < n; i++)
        {
            data[i] = ((comm.Rank + 1) * ((i % 1001) - 500)) + (i % 3);
        }

        comm.AllreduceSum(data);
        long rankSum = (long)comm.Size * (comm.Size + 1) / 2;
        for (int i = 0; i < n; i++)
        {
            float expected = (rankSum * ((i % 1001) - 500)) + ((long)comm.Size * (i % 3));
            if (data[i] != expected)
            {
                Fail(comm, $"sum at {i} is {data[i]}, expected {expected}.");
            }
        }
    }

    /// <summary>Empty and single-element allreduce.</summary>
    public static void AllreduceSumEmptyAndOdd(ICommunicator comm)
    {
        comm.AllreduceSum([]);
        float[] one = [comm.Rank == 0 ? -1f : 2f];
        comm.AllreduceSum(one);
        Expect(comm, one[0] == -1f + (2f * (comm.Size - 1)), $"single-element sum is {one[0]}.");
    }

    /// <summary>Every rank in turn broadcasts a distinct pattern; zero-length broadcasts too.</summary>
    public static void BroadcastFromEachRoot(ICommunicator comm)
    {
        byte[] data = new byte[100_003];
        for (int root = 0; root < comm.Size; root++)
        {
            if (comm.Rank == root)
            {
                FillPattern(data, root);
            }
            else
            {
                data.AsSpan().Clear();
            }

            comm.Broadcast(data, root);
            for (int i = 0; i < data.Length; i++)
            {
                if (data[i] != PatternByte(root, i))
                {
                    Fail(comm, $"broadcast from root {root}: byte {i} is {data[i]}, expected {PatternByte(root, i)}.");
                }
            }

            comm.Broadcast([], root);
        }
    }

    /// <summary>The last rank arrives 300 ms late; no rank may leave the barrier before it arrives.</summary>
    public static void BarrierWaitsForLateRank(ICommunicator comm)
    {
        const int delayMs = 300;
        for (int i = 0; i < 10; i++)
        {
            comm.Barrier();
        }

        var clock = Stopwatch.StartNew();
        if (comm.Rank == comm.Size - 1)
        {
            Thread.Sleep(delayMs);
        }

        comm.Barrier();
        long waited = clock.ElapsedMilliseconds;
        // A rank can only have left the barrier after the late rank entered it, i.e. >= delay after the
        // previous barrier released the late rank; allow for skew in when the ranks left that previous barrier.
        Expect(comm, comm.Size == 1 || waited >= delayMs / 2, $"left the barrier after {waited} ms, before the late rank ({delayMs} ms) arrived.");
    }

    /// <summary>Starts a 4 MiB allgatherv, computes meanwhile, then waits and checks both.</summary>
    public static void NonblockingAllgathervOverlap(ICommunicator comm)
    {
        int length = (4 << 20) / comm.Size + comm.Rank;
        byte[] mine = new byte[length];
        FillPattern(mine, comm.Rank);
        int[] counts = new int[comm.Size];
        comm.Allgather<int>([length], counts);
        byte[] received = new byte[counts.Sum()];

        using CollectiveRequest request = comm.StartAllgatherv(mine, counts, received);
        double work = 0;
        int tests = 0;
        for (int i = 1; i <= 2_000_000; i++)
        {
            work += 1.0 / i;
            if (i % 100_000 == 0 && !request.IsCompleted)
            {
                _ = request.Test();
                tests++;
            }
        }

        request.Wait();
        Expect(comm, request.IsCompleted, "IsCompleted is false after Wait.");
        Expect(comm, Math.Abs(work - 15.085873653425) < 1e-6, $"the overlapped computation gave {work}.");
        CheckGathered(comm, received, counts, "nonblocking");
        Expect(comm, request.Test(), "Test is false after Wait.");
    }

    /// <summary>Two requests in flight with a blocking allreduce between them, waited in reverse order.</summary>
    public static void NonblockingTwoOutstanding(ICommunicator comm)
    {
        byte[] a = new byte[1000 + comm.Rank];
        byte[] b = new byte[77 * (comm.Rank % 3)];
        FillPattern(a, comm.Rank);
        FillPattern(b, comm.Rank);
        int[] countsA = new int[comm.Size];
        int[] countsB = new int[comm.Size];
        comm.Allgather<int>([a.Length], countsA);
        comm.Allgather<int>([b.Length], countsB);
        byte[] receivedA = new byte[countsA.Sum()];
        byte[] receivedB = new byte[countsB.Sum()];

        CollectiveRequest first = comm.StartAllgatherv(a, countsA, receivedA);
        CollectiveRequest second = comm.StartAllgatherv(b, countsB, receivedB);
        float[] x = [1f];
        comm.AllreduceSum(x);
        second.Wait();
        first.Wait();
        first.Dispose();
        second.Dispose();
        Expect(comm, x[0] == comm.Size, $"allreduce between requests gave {x[0]}.");
        CheckGathered(comm, receivedA, countsA, "first request");
        CheckGathered(comm, receivedB, countsB, "second request");
    }

    /// <summary>Bad arguments throw <see cref="ArgumentException"/> on every rank before any communication.</summary>
    public static void InvalidArgumentsRejectedLocally(ICommunicator comm)
    {
        int[] counts = new int[comm.Size];
        counts[comm.Rank] = 4;
        ExpectArgumentException(comm, "counts of the wrong length", () => comm.Allgatherv(new byte[4], new int[comm.Size + 1], new byte[1000]));
        ExpectArgumentException(comm, "send length != counts[Rank]", () => comm.Allgatherv(new byte[3], counts, new byte[1000]));
        ExpectArgumentException(comm, "receive too small", () => comm.Allgatherv(new byte[4], counts, new byte[3]));
        ExpectArgumentException(comm, "negative count", () =>
        {
            int[] negative = new int[comm.Size];
            negative[comm.Rank] = 4;
            negative[(comm.Rank + 1) % comm.Size] -= 5;
            comm.Allgatherv(new byte[4], negative, new byte[1000]);
        });
        ExpectArgumentException(comm, "allgather receive too small", () => comm.Allgather<int>([1, 2], new int[(2 * comm.Size) - 1]));
        ExpectArgumentException(comm, "broadcast root out of range", () => comm.Broadcast(new byte[1], comm.Size));
        ExpectArgumentException(comm, "nonblocking with bad counts", () => comm.StartAllgatherv(new byte[4], new int[comm.Size + 1], new byte[10]).Wait());
        comm.Barrier(); // nothing above communicated: the ranks are still in step
    }

    private static void ExpectArgumentException(ICommunicator comm, string what, Action action)
    {
        try
        {
            action();
        }
        catch (ArgumentException)
        {
            return;
        }

        Fail(comm, $"{what}: no ArgumentException.");
    }

    /// <summary>
    /// A managed null dereference must surface as <see cref="NullReferenceException"/>, not kill the rank: MPI
    /// transports (UCX in particular) must leave the runtime's SIGSEGV handling alone.
    /// </summary>
    public static void NullDereferenceIsCatchable(ICommunicator comm)
    {
        comm.Barrier();
        int[]? nothing = comm.Size > 0 ? null : [1];
        bool caught = false;
        try
        {
            _ = nothing![0];
        }
        catch (NullReferenceException)
        {
            caught = true;
        }

        Expect(comm, caught, "the null dereference was not turned into NullReferenceException.");
        comm.Barrier();
    }
}
