using System.Runtime.InteropServices;

namespace AtomoCollectives.ExternalTransportTests;

/// <summary>
/// A transport written outside the library, against its public API only: a decorator that counts the bytes each call
/// of this rank puts in and takes out, around any other <see cref="ICommunicator"/>. The nonblocking gather returns a
/// request of its own (derived from <see cref="CollectiveRequest"/>) that counts only when the gather completed, and
/// the watchdog's <see cref="IAbortableCommunicator.Abort"/> is forwarded to the communicator underneath.
/// </summary>
/// <remarks>
/// Bytes are the logical payloads: what this rank contributes (<see cref="BytesSent"/>) and what it receives from the
/// other ranks (<see cref="BytesReceived"/>); a sum counts its vector once each way; a broadcast counts at the root as
/// sent and elsewhere as received. Like every communicator it serves one call at a time, so plain fields suffice.
/// </remarks>
public sealed class CountingCommunicator(ICommunicator inner) : ICommunicator, IAbortableCommunicator
{
    private readonly ICommunicator _inner = inner ?? throw new ArgumentNullException(nameof(inner));

    public int Rank => _inner.Rank;

    public int Size => _inner.Size;

    /// <summary>Bytes this rank contributed to completed calls.</summary>
    public long BytesSent { get; private set; }

    /// <summary>Bytes this rank received from the other ranks in completed calls.</summary>
    public long BytesReceived { get; private set; }

    /// <summary>Collective calls that completed (a nonblocking gather when its request did).</summary>
    public int Calls { get; private set; }

    /// <summary>Whether <see cref="Abort"/> was called (by the watchdog).</summary>
    public bool AbortRequested { get; private set; }

    public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
    {
        _inner.Allgather(send, receive);
        long bytes = MemoryMarshal.AsBytes(send).Length;
        Count(bytes, bytes * (Size - 1));
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive)
    {
        _inner.Allgatherv(send, counts, receive);
        Count(send.Length, Total(counts) - send.Length);
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
    {
        _inner.Allgatherv(send, counts, receive);
        Count(send.Length, Total(counts) - send.Length);
    }

    public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
    {
        // Validate before starting (the inner transport does too): the total below must describe a legal call.
        long total = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        CollectiveRequest started = _inner.StartAllgatherv(send, counts, receive);
        return new CountingRequest(this, started, send.Length, total - send.Length);
    }

    public void AllreduceSum(Span<float> data)
    {
        _inner.AllreduceSum(data);
        long bytes = (long)data.Length * sizeof(float);
        Count(bytes, bytes);
    }

    public void Broadcast(Span<byte> data, int root)
    {
        _inner.Broadcast(data, root);
        Count(Rank == root ? data.Length : 0, Rank == root ? 0 : data.Length);
    }

    public void Barrier()
    {
        _inner.Barrier();
        Count(0, 0);
    }

    /// <summary>Forwarded: only the communicator underneath can end the other ranks; without one, end this process.</summary>
    public void Abort(string reason)
    {
        AbortRequested = true;
        if (_inner is IAbortableCommunicator abortable)
        {
            abortable.Abort(reason);
        }
        else
        {
            Environment.FailFast(reason);
        }
    }

    public void Dispose() => _inner.Dispose();

    private static long Total(ReadOnlySpan<int> counts)
    {
        long total = 0;
        foreach (int count in counts)
        {
            total += count;
        }

        return total;
    }

    private void Count(long sent, long received)
    {
        BytesSent += sent;
        BytesReceived += received;
        Calls++;
    }

    /// <summary>The inner request, counted once when it completes; a failed gather is not counted.</summary>
    private sealed class CountingRequest(CountingCommunicator owner, CollectiveRequest inner, long sent, long received) : CollectiveRequest
    {
        protected override bool TestCore()
        {
            if (!inner.Test())
            {
                return false;
            }

            Finish();
            return true;
        }

        protected override void WaitCore()
        {
            inner.Wait();
            Finish();
        }

        private void Finish()
        {
            inner.Dispose();
            owner.Count(sent, received);
        }
    }
}
