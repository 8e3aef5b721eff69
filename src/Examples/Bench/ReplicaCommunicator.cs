namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// A one-process stand-in for N ranks that all send what this one sends: every gather returns N copies of this
/// rank's data and a sum is N times it. An <see cref="AtomoAllreduce"/> over it encodes once and decodes N payloads of
/// the real sizes without any communication or other ranks competing for the cores, so its encode and decode times
/// are the compute of one rank of an N-rank job. Only for timing: the result is not an average of anything new.
/// </summary>
internal sealed class ReplicaCommunicator(int size) : ICommunicator
{
    public int Rank => 0;

    public int Size { get; } = size >= 1 ? size : throw new ArgumentOutOfRangeException(nameof(size));

    public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
    {
        CommunicatorArguments.ValidateAllgather(Size, send.Length, receive.Length);
        for (int r = 0; r < Size; r++)
        {
            send.CopyTo(receive.Slice(r * send.Length, send.Length));
        }
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive)
    {
        _ = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        int offset = 0;
        for (int r = 0; r < Size; r++)
        {
            send.CopyTo(receive[offset..]);
            offset += counts[r];
        }
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
    {
        _ = CommunicatorArguments.ValidateAllgathervSegments(Rank, Size, send.Length, counts, receive);
        for (int r = 0; r < Size; r++)
        {
            send.CopyTo(receive[r].Span);
        }
    }

    /// <summary>Nothing moves between processes here, so the gather is done before this returns.</summary>
    public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
    {
        Allgatherv(send.Span, counts, receive.Span);
        return CollectiveRequest.Completed;
    }

    public void AllreduceSum(Span<float> data) => System.Numerics.Tensors.TensorPrimitives.Multiply(data, Size, data);

    public void Broadcast(Span<byte> data, int root) => CommunicatorArguments.ValidateRoot(Size, root);

    public void Barrier()
    {
    }

    public void Dispose()
    {
    }
}
