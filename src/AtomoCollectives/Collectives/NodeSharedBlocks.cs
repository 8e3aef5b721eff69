using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives;

/// <summary>
/// The node's sum and share of the node-aware collectives (docs/node-aware.md) through memory the node's ranks share
/// (<see cref="ISharedMemoryCommunicator"/>), in place of a reduce-scatter and an allgather through MPI: each rank lays
/// its blocks out in its own segment; each sums its own block over every segment, in node-rank order; each writes its
/// result back into its own segment, and every rank reads every result from there (into its tensors). So each block is
/// read once by the rank that sums it and each result once by each rank, where the collectives copy both through
/// MPI's buffers as well; and every element is summed by one rank, in one order, whose bits every rank then reads.
/// Node rank l's block lies at the same offset in every segment, with one float after it to spare (the node-aware
/// exchange's outcome of the rank's decodes).
/// </summary>
internal sealed class NodeSharedBlocks : IDisposable
{
    /// <summary>The environment variable that turns the shared memory off: <c>0</c> (the collectives instead), <c>1</c> or unset (on).</summary>
    public const string Variable = "ATOMO_NODE_SHARED_MEMORY";

    /// <summary>Floats summed at a time: a chunk of the sum stays in cache while every segment's part is added to it.</summary>
    private const int SumChunk = 16 * 1024;

    private readonly ICommunicator _node;
    private readonly ISharedMemoryCommunicator _source;
    private readonly ILogger _logger;
    private NodeSharedMemory? _memory;
    private long _refused;   // the floats per rank the memory was last refused for: layouts as large are not tried again
    private long[] _offsets = [];
    private long _end;   // the floats of the reserved layout: node rank l's block runs from _offsets[l] to the next's, or here

    private NodeSharedBlocks(ICommunicator node, ISharedMemoryCommunicator source, ILogger logger)
    {
        _node = node;
        _source = source;
        _logger = logger;
    }

    /// <summary>
    /// Collective over <paramref name="world"/> (the ranks agree on <see cref="Variable"/>): the shared sums of
    /// <paramref name="node"/>, or null where they are off or its communicator has no shared memory (the collectives then).
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="Variable"/> is not 0 or 1, or differs between ranks (raised on every rank).</exception>
    public static NodeSharedBlocks? Open(ICommunicator world, ICommunicator node, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(logger);
        if (!AgreedOn(world))
        {
            logger.LogInformation("Node sums through MPI's collectives: {Variable}=0", Variable);
            return null;
        }

        if (node is not ISharedMemoryCommunicator source)
        {
            logger.LogInformation("Node sums through the transport's collectives: {Communicator} has no shared memory", node.GetType().Name);
            return null;
        }

        return new NodeSharedBlocks(node, source, logger);
    }

    /// <summary>
    /// Collective over the node, before a call's sums: whether its shared memory holds blocks of
    /// <paramref name="counts"/> (node rank l's, the same on every rank), getting more where it must. False on every
    /// rank alike where the memory is not to be had; that call then sums through the collectives.
    /// </summary>
    public bool Reserve(ReadOnlySpan<int> counts)
    {
        long needed = 0;
        if (_offsets.Length != counts.Length)
        {
            _offsets = new long[counts.Length];
        }

        for (int l = 0; l < counts.Length; l++)
        {
            _offsets[l] = needed;
            needed += counts[l] + 1L;
        }

        _end = needed;

        if (_memory is { } held && held.FloatsPerRank >= needed)
        {
            return true;
        }

        if (_refused > 0 && needed >= _refused)
        {
            return false;
        }

        _memory?.Dispose();
        _memory = _source.AllocateShared(needed, out string? reason);
        if (_memory is null)
        {
            _refused = needed;
            _logger.LogWarning("Node sums through the collectives for calls of this size and larger: no shared memory of {Bytes} bytes per rank ({Reason})", needed * sizeof(float), reason);
        }

        return _memory is not null;
    }

    /// <summary>
    /// Collective over the node, after <see cref="Reserve"/> of <paramref name="counts"/>: this rank's node sum of its
    /// block (its <paramref name="counts"/>[rank] floats) into <paramref name="mine"/>, summed over the ranks in node order.
    /// </summary>
    public void ReduceScatter<TBlocks>(TBlocks blocks, ReadOnlySpan<int> counts, Span<float> mine, NodeTraffic traffic)
        where TBlocks : INodeBlocks, allows ref struct
    {
        NodeSharedMemory memory = Reserved(counts.Length);
        int rank = _node.Rank;

        // Every rank has read the last call's results: its segment may be written again.
        memory.Fence();
        long total = 0;
        for (int l = 0; l < counts.Length; l++)
        {
            blocks.Read(l, 0, memory.Segment(rank, _offsets[l], counts[l]));
            total += counts[l];
        }

        memory.Fence();
        int block = counts[rank];
        for (int at = 0; at < block; at += SumChunk)
        {
            int length = Math.Min(SumChunk, block - at);
            Span<float> sum = mine.Slice(at, length);
            memory.Segment(0, _offsets[rank] + at, length).CopyTo(sum);
            for (int l = 1; l < counts.Length; l++)
            {
                TensorPrimitives.Add(sum, memory.Segment(l, _offsets[rank] + at, length), sum);
            }
        }

        // As a reduce-scatter counts it: the other ranks' blocks out, k − 1 contributions to this one in.
        traffic.WithinNode(sizeof(float) * (double)(total - block), sizeof(float) * (double)(counts.Length - 1) * block);
    }

    /// <summary>
    /// Collective over the node, after <see cref="ReduceScatter"/>: writes <paramref name="result"/> (at most this
    /// rank's count and the float after it) as this rank's result; every rank then reads every one through <see cref="Result"/>.
    /// <paramref name="total"/> is every rank's result floats together, for the traffic.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="result"/> is longer than this rank's block and the float after it.</exception>
    public void Share(ReadOnlySpan<float> result, long total, NodeTraffic traffic)
    {
        NodeSharedMemory memory = Reserved(_offsets.Length);
        int rank = _node.Rank;
        long capacity = (rank + 1 < _offsets.Length ? _offsets[rank + 1] : _end) - _offsets[rank];
        ArgumentOutOfRangeException.ThrowIfGreaterThan(result.Length, capacity, nameof(result));
        result.CopyTo(memory.Segment(rank, _offsets[rank], result.Length));
        memory.Fence();
        traffic.WithinNode(sizeof(float) * (double)result.Length, sizeof(float) * (double)(total - result.Length));
    }

    /// <summary>The first <paramref name="length"/> floats of node rank <paramref name="rank"/>'s result (after <see cref="Share"/>, until the next call's <see cref="ReduceScatter"/>).</summary>
    public ReadOnlySpan<float> Result(int rank, int length) => Reserved(_offsets.Length).Segment(rank, _offsets[rank], length);

    /// <summary>Collective over the node: frees the shared memory.</summary>
    public void Dispose()
    {
        _memory?.Dispose();
        _memory = null;
    }

    private NodeSharedMemory Reserved(int blocks) =>
        _memory is { } memory && blocks == _offsets.Length && blocks == _node.Size
            ? memory
            : throw new InvalidOperationException("The node's shared memory is used before it was reserved for the call's blocks.");

    /// <summary><see cref="Variable"/>'s value: 1 (on; also unset or blank), 0 (off), or −1 (neither).</summary>
    internal static int ParseSwitch(string? text) => string.IsNullOrWhiteSpace(text) ? 1 : text.Trim() switch { "1" => 1, "0" => 0, _ => -1 };

    /// <summary>Whether <see cref="Variable"/> (or the test hook) leaves the shared memory on, agreed by every rank of <paramref name="world"/>.</summary>
    private static bool AgreedOn(ICommunicator world)
    {
        string? text = TestHooks.NodeSharedMemory is bool forced ? (forced ? "1" : "0") : Environment.GetEnvironmentVariable(Variable);
        int mine = ParseSwitch(text);
        var all = new int[world.Size];
        world.Allgather<int>([mine], all);
        if (Array.IndexOf(all, -1) is int bad and >= 0)
        {
            throw new InvalidOperationException($"{Variable} is '{(bad == world.Rank ? text : "not 0 or 1")}' on rank {bad}; set it to 0 (sum within nodes through MPI's collectives) or 1, or unset it.");
        }

        if (all.Any(a => a != all[0]))
        {
            throw new InvalidOperationException($"{Variable} differs between ranks; set it alike on every rank, or on none.");
        }

        return mine == 1;
    }
}
