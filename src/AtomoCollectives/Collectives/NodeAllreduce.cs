using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace AtomoCollectives;

/// <summary>
/// The node-aware dense allreduce (docs/node-aware.md), in the steps that <see cref="DenseAllreduce"/> runs in a row and
/// <see cref="NodeAwareExchange"/> interleaves with its compressed tensors: a reduce-scatter over the node leaves each of
/// its k ranks the node's sum of its 1/k slice; each sums its slice over its rail (the one rank per node with its
/// node-local rank); the node's ranks share their slices. Every element is summed by one rail, whose members get the
/// same bits (the transport's allreduce contract), and copied from there, so every rank ends with the same bits.
/// </summary>
internal static class NodeAllreduce
{
    /// <summary>The most bytes one sharing round gathers, so that any total fits the contiguous allgatherv (tests lower it).</summary>
    internal static int ShareRoundBytes { get; set; } = 1 << 30;

    /// <summary>
    /// The slice <c>[Start, Start + Length)</c> of <paramref name="elements"/> that node-local rank <paramref name="part"/>
    /// of <paramref name="parts"/> carries on its rail: contiguous, in node-rank order, sizes differing by at most one.
    /// </summary>
    public static (int Start, int Length) Slice(long elements, int parts, int part)
    {
        long start = elements * part / parts;
        long end = elements * (part + 1) / parts;
        return ((int)start, (int)(end - start));
    }

    /// <summary>Every node rank's <see cref="Slice"/> length, in node-rank order.</summary>
    public static int[] SliceCounts(long elements, int parts) => [.. Enumerable.Range(0, parts).Select(l => Slice(elements, parts, l).Length)];

    /// <summary>
    /// Replaces <paramref name="data"/> (the same length on every rank) by its sum over every rank of
    /// <paramref name="topology"/> times <paramref name="scale"/>, the same bits on every rank.
    /// </summary>
    public static void Sum(NodeTopology topology, Span<float> data, float scale, NodeTraffic traffic) =>
        Sum(topology, new ContiguousBlocks(data, SliceCounts(data.Length, topology.Node.Size)), data, scale, traffic);

    /// <summary>
    /// Writes into <paramref name="sum"/> the sum over every rank of <paramref name="topology"/> of what
    /// <paramref name="blocks"/> reads (the same length on every rank, <see cref="SliceCounts"/> of it per node rank),
    /// times <paramref name="scale"/>, the same bits on every rank. The blocks are read, all of them, before
    /// <paramref name="sum"/> is written, so they may lie in it.
    /// </summary>
    public static void Sum<TBlocks>(NodeTopology topology, TBlocks blocks, Span<float> sum, float scale, NodeTraffic traffic)
        where TBlocks : INodeBlocks, allows ref struct
    {
        ICommunicator node = topology.Node;
        int[] counts = SliceCounts(sum.Length, node.Size);

        float[] mine = ArrayPool<float>.Shared.Rent(Math.Max(1, counts[node.Rank]));
        try
        {
            Span<float> slice = mine.AsSpan(0, counts[node.Rank]);
            ReduceScatter(node, blocks, counts, slice, traffic);
            SumOnRail(topology, slice, scale, traffic);
            Share(node, slice, counts, sum, traffic);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(mine);
        }
    }

    /// <summary>
    /// The node-aware dense sum of every tensor times <paramref name="scale"/> (<c>DenseAllreduce</c> with <c>NodeAware</c>,
    /// and <c>AtomoAllreduce</c>'s <see cref="Exchange.DenseNode"/> way), read where the tensors lie: through the node's
    /// shared memory where it has it for the call, else the collectives into <paramref name="scratch"/> (grown to the
    /// <paramref name="total"/> elements). Nothing of the caller's is written: <see cref="NodeSums.CopyTo"/> does that.
    /// </summary>
    public static NodeSums SumTensors<TSet>(NodeTopology topology, NodeSharedBlocks? shared, TSet tensors, long total, float scale, NodeTraffic traffic, ref float[] scratch)
        where TSet : ITensorSet, allows ref struct
    {
        int[] slices = SliceCounts(total, topology.Node.Size);
        if (shared?.Reserve(slices) == true)
        {
            Sum(topology, shared, new ConcatenatedBlocks<TSet>(tensors, slices), slices, scale, traffic);
            return new NodeSums(slices, shared, null);
        }

        if (scratch.Length < total)
        {
            scratch = new float[total];
        }

        Sum(topology, new ConcatenatedBlocks<TSet>(tensors, slices), scratch.AsSpan(0, (int)total), scale, traffic);
        return new NodeSums(slices, null, scratch);
    }

    /// <summary>
    /// <see cref="Sum{TBlocks}(NodeTopology, TBlocks, Span{float}, float, NodeTraffic)"/> through the node's shared
    /// memory (reserved for <paramref name="counts"/>, <see cref="SliceCounts"/> of the total): the results stay there,
    /// node rank l's slice in <see cref="NodeSharedBlocks.Result"/>(l), for the caller to read out.
    /// </summary>
    public static void Sum<TBlocks>(NodeTopology topology, NodeSharedBlocks shared, TBlocks blocks, ReadOnlySpan<int> counts, float scale, NodeTraffic traffic)
        where TBlocks : INodeBlocks, allows ref struct
    {
        long total = 0;
        foreach (int count in counts)
        {
            total += count;
        }

        float[] mine = ArrayPool<float>.Shared.Rent(Math.Max(1, counts[topology.Node.Rank]));
        try
        {
            Span<float> slice = mine.AsSpan(0, counts[topology.Node.Rank]);
            shared.ReduceScatter(blocks, counts, slice, traffic);
            SumOnRail(topology, slice, scale, traffic);
            shared.Share(slice, total, traffic);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(mine);
        }
    }

    /// <summary>This rank's slice of the node's sum, summed over its rail (the same bits on every member) and scaled.</summary>
    private static void SumOnRail(NodeTopology topology, Span<float> slice, float scale, NodeTraffic traffic)
    {
        Pieces.AllreduceSum(topology.Rail, slice);
        traffic.BetweenNodes(AllreduceStatistics.RingAllreduceBytes(slice.Length, topology.Rail.Size));
        TensorPrimitives.Multiply(slice, scale, slice);
    }

    /// <summary>
    /// The node's sum of every rank's blocks (<paramref name="counts"/>[l] elements for node rank l, read from
    /// <paramref name="blocks"/>), of which this rank keeps its own in <paramref name="mine"/>. Where the node's
    /// communicator has a reduce-scatter (the library's transports), it runs in rounds of
    /// <see cref="Pieces.ReduceScatterRoundFloats"/>, each staged straight from <paramref name="blocks"/>: each round's
    /// reads, sums and copies then stay in cache (a whole-buffer reduce-scatter took 2–3× as long, docs/node-aware.md),
    /// and the whole send buffer is never written. Otherwise an allreduce of a copy of every block.
    /// </summary>
    public static void ReduceScatter<TBlocks>(ICommunicator node, TBlocks blocks, ReadOnlySpan<int> counts, Span<float> mine, NodeTraffic traffic)
        where TBlocks : INodeBlocks, allows ref struct
    {
        long total = 0;
        foreach (int count in counts)
        {
            total += count;
        }

        int block = counts[node.Rank];
        if (node is IReduceScatterCommunicator reduceScatter)
        {
            ReduceScatterInRounds(reduceScatter, node.Rank, blocks, counts, mine[..block]);
            traffic.WithinNode(sizeof(float) * (double)(total - block), sizeof(float) * (double)(node.Size - 1) * block);
            return;
        }

        float[] sum = ArrayPool<float>.Shared.Rent((int)Math.Max(1, total));
        try
        {
            int offset = 0, myOffset = 0;
            for (int l = 0; l < counts.Length; l++)
            {
                blocks.Read(l, 0, sum.AsSpan(offset, counts[l]));
                myOffset = l == node.Rank ? offset : myOffset;
                offset += counts[l];
            }

            Pieces.AllreduceSum(node, sum.AsSpan(0, offset));
            traffic.WithinNode(AllreduceStatistics.RingAllreduceBytes(offset, node.Size));
            sum.AsSpan(myOffset, block).CopyTo(mine);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(sum);
        }
    }

    /// <summary>
    /// Round i reduce-scatters the i-th piece of every block (at most <see cref="Pieces.ReduceScatterRoundFloats"/> / k
    /// elements of each), staged in node-rank order, into the i-th piece of <paramref name="mine"/>.
    /// </summary>
    private static void ReduceScatterInRounds<TBlocks>(IReduceScatterCommunicator node, int rank, TBlocks blocks, ReadOnlySpan<int> counts, Span<float> mine)
        where TBlocks : INodeBlocks, allows ref struct
    {
        int largest = 0;
        foreach (int count in counts)
        {
            largest = Math.Max(largest, count);
        }

        int piece = Math.Max(1, Pieces.ReduceScatterRoundFloats / counts.Length);
        int[] roundCounts = new int[counts.Length];
        float[] staging = ArrayPool<float>.Shared.Rent(piece * counts.Length);
        try
        {
            for (int done = 0; done < largest; done += piece)
            {
                int staged = 0;
                for (int l = 0; l < counts.Length; l++)
                {
                    roundCounts[l] = Math.Clamp(counts[l] - done, 0, piece);
                    blocks.Read(l, done, staging.AsSpan(staged, roundCounts[l]));
                    staged += roundCounts[l];
                }

                node.ReduceScatterSum(staging.AsSpan(0, staged), mine.Slice(Math.Min(done, mine.Length), roundCounts[rank]), roundCounts);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(staging);
        }
    }

    /// <summary>
    /// Gathers every node rank's floats into every node rank, in node-rank order and packed: <paramref name="counts"/>[l]
    /// floats from node rank l (<paramref name="mine"/> for this one). Totals beyond <see cref="ShareRoundBytes"/> go in
    /// rounds, each rank sending the next piece of its floats, so any size passes the contiguous allgatherv.
    /// <paramref name="receive"/> must not overlap <paramref name="mine"/>.
    /// </summary>
    public static void Share(ICommunicator node, ReadOnlySpan<float> mine, ReadOnlySpan<int> counts, Span<float> receive, NodeTraffic traffic)
    {
        long total = 0;
        int largest = 0;
        foreach (int count in counts)
        {
            total += count;
            largest = Math.Max(largest, count);
        }

        traffic.WithinNode(sizeof(float) * (double)mine.Length, sizeof(float) * (double)(total - mine.Length));
        int[] byteCounts = new int[counts.Length];
        if (total * sizeof(float) <= ShareRoundBytes)
        {
            for (int l = 0; l < counts.Length; l++)
            {
                byteCounts[l] = counts[l] * sizeof(float);
            }

            node.Allgatherv(MemoryMarshal.AsBytes(mine), byteCounts, MemoryMarshal.AsBytes(receive[..(int)total]));
            return;
        }

        int piece = Math.Max(1, ShareRoundBytes / sizeof(float) / counts.Length);
        float[] round = ArrayPool<float>.Shared.Rent(piece * counts.Length);
        try
        {
            for (long done = 0; done < largest; done += piece)
            {
                for (int l = 0; l < counts.Length; l++)
                {
                    byteCounts[l] = (int)Math.Clamp(counts[l] - done, 0, piece) * sizeof(float);
                }

                ReadOnlySpan<float> send = mine.Slice((int)Math.Min(done, mine.Length), byteCounts[node.Rank] / sizeof(float));
                node.Allgatherv(MemoryMarshal.AsBytes(send), byteCounts, MemoryMarshal.AsBytes(round.AsSpan()));
                long destination = 0, source = 0;
                for (int l = 0; l < counts.Length; l++)
                {
                    int floats = byteCounts[l] / sizeof(float);
                    if (floats > 0)
                    {
                        round.AsSpan((int)source, floats).CopyTo(receive.Slice((int)(destination + done), floats));
                    }

                    source += floats;
                    destination += counts[l];
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(round);
        }
    }
}

/// <summary>The blocks a node's ranks reduce-scatter (<see cref="NodeAllreduce.ReduceScatter"/>), read piece by piece from where they are.</summary>
internal interface INodeBlocks
{
    /// <summary>Copies elements <c>[from, from + destination.Length)</c> of node rank <paramref name="block"/>'s block into <paramref name="destination"/>.</summary>
    void Read(int block, int from, Span<float> destination);
}

/// <summary>Blocks laid out one after the other in one span, <paramref name="counts"/>[l] elements for node rank l.</summary>
internal readonly ref struct ContiguousBlocks(ReadOnlySpan<float> data, ReadOnlySpan<int> counts) : INodeBlocks
{
    private readonly ReadOnlySpan<float> _data = data;
    private readonly ReadOnlySpan<int> _counts = counts;

    public void Read(int block, int from, Span<float> destination)
    {
        int start = 0;
        for (int l = 0; l < block; l++)
        {
            start += _counts[l];
        }

        _data.Slice(start + from, destination.Length).CopyTo(destination);
    }
}

/// <summary>
/// Where <see cref="NodeAllreduce.SumTensors"/> left a call's sums: node rank l's slice of the tensors' concatenation,
/// <paramref name="Slices"/>[l] floats, in the node's <paramref name="Shared"/> memory, or else the whole concatenation in
/// <paramref name="Scratch"/>.
/// </summary>
internal readonly record struct NodeSums(int[] Slices, NodeSharedBlocks? Shared, float[]? Scratch)
{
    /// <summary>Copies the sums into <paramref name="tensors"/>, each its part of the concatenation.</summary>
    public void CopyTo<TSet>(TSet tensors)
        where TSet : ITensorSet, allows ref struct
    {
        int block = 0, inBlock = 0, offset = 0;
        for (int t = 0; t < tensors.Count; t++)
        {
            Span<float> data = tensors.Get(t);
            if (Scratch is not null)
            {
                Scratch.AsSpan(offset, data.Length).CopyTo(data);
                offset += data.Length;
                continue;
            }

            for (int filled = 0; filled < data.Length;)
            {
                while (inBlock == Slices[block])
                {
                    block++;
                    inBlock = 0;
                }

                int length = Math.Min(Slices[block] - inBlock, data.Length - filled);
                Shared!.Result(block, Slices[block]).Slice(inBlock, length).CopyTo(data.Slice(filled, length));
                filled += length;
                inBlock += length;
            }
        }
    }
}

/// <summary>
/// A call's tensors read as if concatenated in tensor order, then cut into node-rank blocks of <paramref name="counts"/>
/// elements: <c>NodeAllreduce.Sum</c> reduce-scatters them where they lie, without a staging copy of the
/// whole model.
/// </summary>
internal readonly ref struct ConcatenatedBlocks<TSet>(TSet tensors, ReadOnlySpan<int> counts) : INodeBlocks
    where TSet : ITensorSet, allows ref struct
{
    private readonly TSet _tensors = tensors;
    private readonly ReadOnlySpan<int> _counts = counts;

    public void Read(int block, int from, Span<float> destination)
    {
        long position = from;   // in the concatenation
        for (int l = 0; l < block; l++)
        {
            position += _counts[l];
        }

        int t = 0;
        for (; t < _tensors.Count && position >= _tensors.Get(t).Length; t++)
        {
            position -= _tensors.Get(t).Length;
        }

        for (int written = 0; written < destination.Length; t++, position = 0)
        {
            ReadOnlySpan<float> tensor = _tensors.Get(t);
            int count = Math.Min(tensor.Length - (int)position, destination.Length - written);
            tensor.Slice((int)position, count).CopyTo(destination[written..]);
            written += count;
        }
    }
}

/// <summary>What a node-aware call moved from this rank: within its node (shared memory) and between nodes (the rails).</summary>
internal sealed class NodeTraffic
{
    public double SentWithinNode { get; private set; }

    public double ReceivedWithinNode { get; private set; }

    public double SentBetweenNodes { get; private set; }

    public double ReceivedBetweenNodes { get; private set; }

    /// <summary>An exchange within the node: <paramref name="sent"/> bytes out and <paramref name="received"/> in (an allreduce: the same both ways).</summary>
    public void WithinNode(double sent, double? received = null)
    {
        SentWithinNode += sent;
        ReceivedWithinNode += received ?? sent;
    }

    /// <summary>An exchange on the rail, between nodes.</summary>
    public void BetweenNodes(double sent, double? received = null)
    {
        SentBetweenNodes += sent;
        ReceivedBetweenNodes += received ?? sent;
    }

    /// <summary>
    /// The statistics of a call that moved this traffic, with <paramref name="call"/>'s other fields: bytes sent and
    /// received in all, and the part of them within the node.
    /// </summary>
    public AllreduceStatistics Into(AllreduceStatistics call) => call with
    {
        BytesSent = (long)(SentWithinNode + SentBetweenNodes),
        BytesReceived = (long)(ReceivedWithinNode + ReceivedBetweenNodes),
        BytesSentWithinNode = (long)SentWithinNode,
        BytesReceivedWithinNode = (long)ReceivedWithinNode,
    };
}
