using System.Diagnostics;

namespace AtomoCollectives.Tests.Transport;

[Collection("Transport")]
public sealed class InProcessClusterTests
{
    [Fact]
    public void Run_ReturnsEachRanksResultInRankOrder()
    {
        int[] results = InProcessCluster.Run(5, comm => comm.Rank * 10 + comm.Size);
        Assert.Equal([5, 15, 25, 35, 45], results);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(16)]
    public void OneRankThrowing_ReleasesAllOthersPromptly_AndReportsTheOriginal(int ranks)
    {
        var released = new int[ranks];
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<AggregateException>(() => InProcessCluster.Run(ranks, comm =>
        {
            comm.Barrier();
            if (comm.Rank == 1)
            {
                throw new InvalidOperationException("rank 1 broke");
            }

            try
            {
                comm.Barrier(); // can never complete: rank 1 is gone
                comm.AllreduceSum(new float[10]);
            }
            catch (RankFailedException e)
            {
                Interlocked.Increment(ref released[comm.Rank]);
                Assert.Equal(1, e.FailedRank);
                throw;
            }
        }));
        clock.Stop();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Exception only = Assert.Single(error.InnerExceptions);
        Assert.Equal("rank 1 broke", Assert.IsType<InvalidOperationException>(only).Message);
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(r == 1 ? 0 : 1, released[r]);
        }
    }

    [Fact]
    public void RankThrowingWhileOthersWaitOnNonblockingRequest_ReleasesThem()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCluster.Run(4, comm =>
        {
            if (comm.Rank == 3)
            {
                throw new TimeoutException("rank 3 gave up");
            }

            int[] counts = [1, 1, 1, 1];
            using CollectiveRequest request = comm.StartAllgatherv(new byte[1], counts, new byte[4]);
            request.Wait();
        }));
        Assert.IsType<TimeoutException>(Assert.Single(error.InnerExceptions));
    }

    [Fact]
    public void RankReturningWithoutJoiningACollective_FailsTheWaitersInsteadOfHanging()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCluster.Run(3, comm =>
        {
            if (comm.Rank != 0)
            {
                comm.Barrier();
            }
        }));
        Assert.All(error.InnerExceptions, e => Assert.Contains("returned without calling collective", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void MismatchedCollectives_AreReportedNotHung()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCluster.Run(2, comm =>
        {
            if (comm.Rank == 0)
            {
                comm.Barrier();
            }
            else
            {
                comm.AllreduceSum(new float[1]);
            }
        }));
        Assert.Contains(error.InnerExceptions, e => e is InvalidOperationException && e.Message.Contains("same collective calls", StringComparison.Ordinal));
    }

    [Fact]
    public void MismatchedAllgathervCounts_FailOnEveryRank()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCluster.Run(2, comm =>
        {
            int[] counts = comm.Rank == 0 ? [1, 2] : [1, 3];
            comm.Allgatherv(new byte[counts[comm.Rank]], counts, new byte[10]);
        }));
        Assert.Equal(2, error.InnerExceptions.Count);
        Assert.All(error.InnerExceptions, e => Assert.Contains("counts must be identical", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Run_RejectsZeroRanks()
        => Assert.Throws<ArgumentOutOfRangeException>(() => InProcessCluster.Run(0, _ => { }));
}
