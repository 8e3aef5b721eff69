using System.Runtime.InteropServices;

namespace AtomoCollectives.MpiNetTests;

/// <summary>
/// The benchmark's reference for what <see cref="MpiNet.MpiNetCommunicator"/> avoids: an <see cref="ICommunicator"/>
/// written on MPI.NET 1.4.0's public collectives only. They take and return arrays whose length is the count, so every
/// call copies the caller's span into an exact-size array and the result back (arrays are kept per length, so the
/// benchmark measures the copies, not allocation); <see cref="StartAllgatherv"/> completes before it returns (MPI.NET
/// has no nonblocking collectives); totals above 2 GiB are refused (MPI.NET computes its gather offsets as checked
/// <c>int</c>). Not a product: the benchmark only.
/// </summary>
internal sealed class MpiNetArrayCommunicator(MPI.Intracommunicator comm) : ICommunicator
{
    private readonly Dictionary<int, byte[]> _sent = [];
    private readonly Dictionary<int, byte[]> _received = [];
    private readonly Dictionary<int, float[]> _floats = [];
    private readonly Dictionary<int, float[]> _sums = [];

    public int Rank { get; } = comm.Rank;

    public int Size { get; } = comm.Size;

    public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive)
        where T : unmanaged
    {
        CommunicatorArguments.ValidateAllgather(Size, send.Length, receive.Length);
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(send);
        byte[] array = Exact(_sent, bytes.Length);
        bytes.CopyTo(array);
        byte[] all = Exact(_received, bytes.Length * Size);
        comm.AllgatherFlattened(array, bytes.Length, ref all);
        all.CopyTo(MemoryMarshal.AsBytes(receive));
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive)
    {
        long total = CommunicatorArguments.ValidateAllgatherv(Rank, Size, send.Length, counts, receive.Length);
        Gather(send, counts, total).AsSpan(0, (int)total).CopyTo(receive);
    }

    public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
    {
        long total = CommunicatorArguments.ValidateAllgathervSegments(Rank, Size, send.Length, counts, receive);
        byte[] all = Gather(send, counts, total);
        int offset = 0;
        for (int r = 0; r < Size; r++)
        {
            all.AsSpan(offset, counts[r]).CopyTo(receive[r].Span);
            offset += counts[r];
        }
    }

    public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive)
    {
        Allgatherv(send.Span, counts, receive.Span);
        return CollectiveRequest.Completed;
    }

    public void AllreduceSum(Span<float> data)
    {
        float[] array = Exact(_floats, data.Length);
        float[] sums = Exact(_sums, data.Length);
        data.CopyTo(array);
        comm.Allreduce(array, MPI.Operation<float>.Add, ref sums);
        sums.CopyTo(data);
    }

    public void Broadcast(Span<byte> data, int root)
    {
        CommunicatorArguments.ValidateRoot(Size, root);
        byte[] array = Exact(_sent, data.Length);
        data.CopyTo(array);
        comm.Broadcast(ref array, root);
        array.CopyTo(data);
    }

    public void Barrier() => comm.Barrier();

    public void Dispose()
    {
    }

    private static T[] Exact<T>(Dictionary<int, T[]> cache, int length)
    {
        if (!cache.TryGetValue(length, out T[]? array))
        {
            array = new T[length];
            cache[length] = array;
        }

        return array;
    }

    private byte[] Gather(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, long total)
    {
        if (total > Array.MaxLength)
        {
            throw new NotSupportedException($"MPI.NET gathers into one array with int offsets: {total} bytes do not fit.");
        }

        byte[] array = Exact(_sent, send.Length);
        send.CopyTo(array);
        byte[] all = Exact(_received, (int)total);
        comm.AllgatherFlattened(array, counts.ToArray(), ref all);
        return all;
    }
}
