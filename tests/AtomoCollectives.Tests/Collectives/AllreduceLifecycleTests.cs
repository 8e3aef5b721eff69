namespace AtomoCollectives.Tests.Collectives;

/// <summary>Misuse of one instance from several threads, and disposal racing asynchronous calls.</summary>
public sealed class AllreduceLifecycleTests
{
    private static readonly TensorShape Shape = TensorShape.Matrix(32, 32);

    private static AtomoOptions Options() => new() { Decomposition = Decomposition.Coordinate, Budget = 10, MinimumCompressedElements = 16 };

    /// <summary>
    /// Rank 0 is inside a call (waiting for rank 1 in the exchange) when a second thread calls the same instance: the
    /// second call is refused at once with InvalidOperationException, and the first completes normally.
    /// </summary>
    [Fact]
    public void A_second_synchronous_call_while_one_runs_is_refused()
    {
        using var inside = new ManualResetEventSlim();
        using var refused = new ManualResetEventSlim();
        Exception? second = null;
        InProcessCluster.Run(2, comm =>
        {
            using var allreduce = new AtomoAllreduce(comm, Options());
            var data = new float[Shape.ElementCount];
            data.AsSpan().Fill(comm.Rank + 1);
            if (comm.Rank == 0)
            {
                var intruder = new Thread(() =>
                {
                    inside.Wait();
                    Thread.Sleep(50);   // rank 0's call is by now blocked in the exchange, waiting for rank 1
                    second = Record(() => allreduce.Average(new float[Shape.ElementCount], Shape));
                    refused.Set();
                });
                intruder.Start();
                inside.Set();
                allreduce.Average(data, Shape);
                intruder.Join();
            }
            else
            {
                refused.Wait();   // rank 1 joins only after rank 0's intruder was turned away
                allreduce.Average(data, Shape);
            }

            Assert.Equal(1, allreduce.Step);
        });

        Assert.IsType<InvalidOperationException>(second);
        Assert.Contains("in progress", second!.Message, StringComparison.Ordinal);
    }

    /// <summary>A synchronous call while an asynchronous one has not completed is refused; after it completes, it is accepted.</summary>
    [Fact]
    public void A_synchronous_call_while_an_asynchronous_one_is_pending_is_refused()
    {
        using var release = new ManualResetEventSlim();
        InProcessCluster.Run(2, comm =>
        {
            using var allreduce = new AtomoAllreduce(comm, Options());
            Memory<float>[] tensors = [new float[Shape.ElementCount]];
            if (comm.Rank == 1)
            {
                release.Wait();   // keeps rank 0's asynchronous call waiting in the exchange
            }

            Task pending = allreduce.AverageAsync(tensors, [Shape]);
            if (comm.Rank == 0)
            {
                Exception? refused = Record(() => allreduce.Average(new float[Shape.ElementCount], Shape));
                Assert.IsType<InvalidOperationException>(refused);
                release.Set();
            }

            pending.GetAwaiter().GetResult();
            allreduce.Average(new float[Shape.ElementCount], Shape);
            Assert.Equal(2, allreduce.Step);
        });
    }

    /// <summary>
    /// Dispose racing AverageAsync, 2,000 times: each call either completes or reports ObjectDisposedException (at once
    /// or through its task), never another error; afterwards no worker thread is alive and new calls are refused with
    /// ObjectDisposedException.
    /// </summary>
    [Fact]
    public void Dispose_racing_AverageAsync_leaves_no_thread_and_refuses_later_calls()
    {
        InProcessCluster.Run(1, comm =>
        {
            for (int i = 0; i < 2000; i++)
            {
                var allreduce = new AtomoAllreduce(comm, Options());
                Memory<float>[] tensors = [new float[Shape.ElementCount]];
                using var start = new Barrier(2);
                Exception? asyncError = null;
                var caller = new Thread(() =>
                {
                    start.SignalAndWait();
                    asyncError = Record(() => allreduce.AverageAsync(tensors, [Shape]).GetAwaiter().GetResult());
                });
                caller.Start();
                start.SignalAndWait();
                allreduce.Dispose();
                caller.Join();
                Assert.True(asyncError is null or ObjectDisposedException, $"iteration {i}: {asyncError}");
                Assert.False(allreduce.HasLiveWorker, $"iteration {i}: a worker thread outlived Dispose");
                Assert.IsType<ObjectDisposedException>(Record(() => allreduce.AverageAsync(tensors, [Shape])));   // at once, not through a task
                Assert.Throws<ObjectDisposedException>(() => allreduce.Average(tensors[0].Span, Shape));
            }
        });
    }

    /// <summary>
    /// Rank 1 stops calling (it waits for rank 0's call to end, at most 30 s). With a 300 ms timeout, rank 0's
    /// watchdog fails the in-process job: rank 0's call raises RankFailedException whose cause, a TimeoutException,
    /// names the step and the rank; rank 1's late call raises RankFailedException too. Without the watchdog rank 0's
    /// call would complete when rank 1 arrives after 30 s, and the test fails.
    /// </summary>
    [Fact]
    public void A_rank_that_stops_calling_makes_the_watchdog_fail_every_rank()
    {
        using var released = new ManualResetEventSlim();
        Exception? first = null, late = null;
        Record(() => InProcessCluster.Run(2, comm =>
        {
            AtomoOptions options = Options();
            options.Timeout = TimeSpan.FromMilliseconds(300);
            using var allreduce = new AtomoAllreduce(comm, options);
            if (comm.Rank == 0)
            {
                first = Record(() => allreduce.Average(new float[Shape.ElementCount], Shape));
                released.Set();
            }
            else
            {
                released.Wait(TimeSpan.FromSeconds(30));
                late = Record(() => allreduce.Average(new float[Shape.ElementCount], Shape));
            }
        }));

        var failed = Assert.IsType<RankFailedException>(first);
        var cause = Assert.IsType<TimeoutException>(failed.InnerException);
        Assert.Contains("rank 0 of 2", cause.Message, StringComparison.Ordinal);
        Assert.Contains("step 0", cause.Message, StringComparison.Ordinal);
        Assert.IsType<RankFailedException>(late);
    }

    /// <summary>With the watchdog disabled a slow partner is waited for: the call completes.</summary>
    [Fact]
    public void An_infinite_timeout_waits_for_a_slow_rank()
    {
        InProcessCluster.Run(2, comm =>
        {
            AtomoOptions options = Options();
            options.Timeout = Timeout.InfiniteTimeSpan;
            using var allreduce = new AtomoAllreduce(comm, options);
            if (comm.Rank == 1)
            {
                Thread.Sleep(400);
            }

            allreduce.Average(new float[Shape.ElementCount], Shape);
            Assert.Equal(1, allreduce.Step);
        });
    }

    private static Exception? Record(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception error)
        {
            return error;
        }
    }
}
