using AtomoCollectives.Tests.Collectives;
using AtomoCollectives.Tests.Transport;

namespace AtomoCollectives.ExternalTransportTests;

/// <summary>
/// The transport contract measures retained memory across 1,000 calls; tests running in parallel in the same process
/// would allocate into that measurement, so this collection runs alone.
/// </summary>
[CollectionDefinition("ExternalTransport", DisableParallelization = true)]
public sealed class ExternalTransportCollection;

/// <summary>
/// <see cref="CountingCommunicator"/>, implemented outside the library, meets the same collective contracts as the
/// library's own transports (the cases of <see cref="CommunicatorContract"/> and <see cref="AllreduceContract"/>,
/// unchanged), and its counts and its own <see cref="CollectiveRequest"/> behave as documented.
/// </summary>
[Collection("ExternalTransport")]
public sealed class ExternalTransportTests
{
    public static TheoryData<string, int> TransportCases() => Cross(CommunicatorContract.Cases, [1, 2, 4]);

    public static TheoryData<string, int> AllreduceCases() => Cross(AllreduceContract.Cases, [2, 4]);

    [Theory]
    [MemberData(nameof(TransportCases))]
    public void Transport_contract_holds(string name, int ranks)
        => RunCounted(ranks, comm => CommunicatorContract.Run(name, comm));

    [Theory]
    [MemberData(nameof(AllreduceCases))]
    public void Allreduce_contract_holds(string name, int ranks)
        => RunCounted(ranks, AllreduceContract.Cases.Single(c => c.Name == name).Run);

    /// <summary>The counts of a known sequence, with the nonblocking gather counted only once its request completed.</summary>
    [Fact]
    public void Counts_are_the_logical_payloads_and_a_request_counts_on_completion()
    {
        InProcessCluster.Run(3, world =>
        {
            using var comm = new CountingCommunicator(world);
            int[] counts = [1, 2, 3];
            comm.Allgatherv(new byte[counts[comm.Rank]], counts, new byte[6]);
            Assert.Equal(((long)counts[comm.Rank], (long)(6 - counts[comm.Rank]), 1), (comm.BytesSent, comm.BytesReceived, comm.Calls));

            CollectiveRequest request = comm.StartAllgatherv(new byte[counts[comm.Rank]], counts, new byte[6]);
            Assert.Equal(1, comm.Calls);   // started, not complete: nothing counted yet
            request.Wait();
            Assert.True(request.IsCompleted && request.Test());
            request.Wait();                 // a completed request waits no more and counts no more
            request.Dispose();
            Assert.Equal((2L * counts[comm.Rank], 2L * (6 - counts[comm.Rank]), 2), (comm.BytesSent, comm.BytesReceived, comm.Calls));

            comm.AllreduceSum(new float[5]);
            comm.Broadcast(new byte[7], root: 1);
            comm.Allgather<long>([comm.Rank], new long[3]);
            long sent = (2L * counts[comm.Rank]) + 20 + (comm.Rank == 1 ? 7 : 0) + 8;
            long received = (2L * (6 - counts[comm.Rank])) + 20 + (comm.Rank == 1 ? 0 : 7) + 16;
            Assert.Equal((sent, received, 5), (comm.BytesSent, comm.BytesReceived, comm.Calls));
        });
    }

    /// <summary>
    /// A rank that fails while the others wait on the decorator's request: they see the failure from Wait, again from
    /// every later Test and Wait (never a result), the request counts as completed, Dispose does not throw a second
    /// time, and nothing is counted.
    /// </summary>
    [Fact]
    public void A_failed_request_is_completed_rethrows_and_is_not_counted()
    {
        using var started = new CountdownEvent(2);
        var error = Assert.Throws<AggregateException>(() => InProcessCluster.Run(3, world =>
        {
            if (world.Rank == 2)
            {
                started.Wait(TimeSpan.FromSeconds(30));   // fail only once the others' requests are in flight
                throw new TimeoutException("rank 2 gave up");
            }

            using var comm = new CountingCommunicator(world);
            CollectiveRequest request = comm.StartAllgatherv(new byte[1], [1, 1, 1], new byte[3]);
            started.Signal();
            Exception first = Assert.ThrowsAny<OperationCanceledException>(request.Wait);
            Assert.True(request.IsCompleted);
            Assert.Same(first, Assert.ThrowsAny<OperationCanceledException>(() => request.Test()));
            Assert.Same(first, Assert.ThrowsAny<OperationCanceledException>(request.Wait));
            request.Dispose();
            Assert.Equal((0L, 0L, 0), (comm.BytesSent, comm.BytesReceived, comm.Calls));
        }));
        Assert.IsType<TimeoutException>(Assert.Single(error.InnerExceptions));
    }

    /// <summary>
    /// The watchdog (<see cref="AtomoOptions.Timeout"/>) finds <see cref="IAbortableCommunicator"/> on the decorator and
    /// its forwarded abort fails the in-process job: rank 0, whose partner stopped calling, fails within the timeout
    /// instead of waiting 30 s.
    /// </summary>
    [Fact]
    public void The_watchdog_aborts_through_the_decorator()
    {
        using var released = new ManualResetEventSlim();
        Exception? first = null;
        bool aborted = false;
        _ = Record(() => InProcessCluster.Run(2, world =>
        {
            using var comm = new CountingCommunicator(world);
            var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 10, MinimumCompressedElements = 16, Timeout = TimeSpan.FromMilliseconds(300) };
            using var allreduce = new AtomoAllreduce(comm, options);
            if (comm.Rank == 0)
            {
                first = Record(() => allreduce.Average(new float[64 * 32], TensorShape.Matrix(64, 32)));
                aborted = comm.AbortRequested;
                released.Set();
            }
            else
            {
                released.Wait(TimeSpan.FromSeconds(30));
            }
        }));

        Assert.True(aborted, "the watchdog did not call Abort on the decorator");
        var failed = Assert.IsType<RankFailedException>(first);
        Assert.Contains("watchdog", Assert.IsType<TimeoutException>(failed.InnerException).Message, StringComparison.Ordinal);
    }

    private static void RunCounted(int ranks, Action<ICommunicator> body)
    {
        long[] moved = new long[ranks];
        InProcessCluster.Run(ranks, world =>
        {
            using var comm = new CountingCommunicator(world);
            body(comm);
            moved[comm.Rank] = comm.Calls;
        });
        Assert.All(moved, calls => Assert.True(calls > 0, "the case ran without a single call through the decorator"));
    }

    private static TheoryData<string, int> Cross(IEnumerable<(string Name, Action<ICommunicator> Run)> cases, int[] sizes)
    {
        var data = new TheoryData<string, int>();
        foreach ((string name, _) in cases)
        {
            foreach (int ranks in sizes)
            {
                data.Add(name, ranks);
            }
        }

        return data;
    }

    private static Exception? Record(Action action)
    {
        try
        {
            action();
            return null;
        }
#pragma warning disable CA1031 // the test inspects whatever was thrown
        catch (Exception error)
#pragma warning restore CA1031
        {
            return error;
        }
    }
}
