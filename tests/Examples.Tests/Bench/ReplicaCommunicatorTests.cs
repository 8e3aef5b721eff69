using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>The one-process stand-in for N identical ranks: its nonblocking gather works (it used to throw), and it checks arguments like every transport.</summary>
public sealed class ReplicaCommunicatorTests
{
    [Fact]
    public void StartAllgathervGathersNCopiesAndCompletesAtOnce()
    {
        using var comm = new ReplicaCommunicator(3);
        byte[] send = [1, 2, 3];
        byte[] receive = new byte[10];
        using CollectiveRequest request = comm.StartAllgatherv(send, [3, 3, 3], receive);
        Assert.True(request.IsCompleted);
        Assert.True(request.Test());
        request.Wait();
        Assert.Equal([1, 2, 3, 1, 2, 3, 1, 2, 3, 0], receive);
    }

    [Fact]
    public void BadArgumentsAreRejectedAsOnEveryTransport()
    {
        using var comm = new ReplicaCommunicator(2);
        Assert.Throws<ArgumentException>(() => comm.StartAllgatherv(new byte[2], [2, 2], new byte[3]));
        Assert.Throws<ArgumentException>(() => comm.Allgatherv(new byte[2], [2, 2, 2], new byte[6]));
        Assert.ThrowsAny<ArgumentException>(() => comm.Broadcast(new byte[1], 2));
    }
}
