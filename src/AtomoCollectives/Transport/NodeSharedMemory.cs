namespace AtomoCollectives;

/// <summary>
/// A communicator whose ranks may share memory (one node): the library's transports. The node-aware collectives sum
/// and share within a node through it where they can (<see cref="NodeSharedBlocks"/>), and through the node's
/// collectives otherwise.
/// </summary>
internal interface ISharedMemoryCommunicator
{
    /// <summary>
    /// Collective over this communicator: one segment of <paramref name="floatsPerRank"/> floats per rank, which every
    /// rank maps and may read and write. Null, on every rank alike, where its ranks do not all share memory (ranks on
    /// other hosts) or the memory could not be had (a small <c>/dev/shm</c>): the caller then uses the collectives.
    /// </summary>
    /// <param name="floatsPerRank">Floats in each rank's segment (the same on every rank), at least 1.</param>
    /// <param name="reason">Why there is none, when null is returned.</param>
    NodeSharedMemory? AllocateShared(long floatsPerRank, out string? reason);
}

/// <summary>
/// Memory every rank of a node's communicator maps: one segment per rank, each readable and writable by all. Writes are
/// ordered by <see cref="Fence"/>; what a rank writes before a fence, every rank reads after it.
/// </summary>
internal abstract unsafe class NodeSharedMemory : IDisposable
{
    private readonly float*[] _segments;
    private bool _disposed;

    /// <param name="segments">Every rank's segment, as this rank maps it, in rank order.</param>
    /// <param name="floatsPerRank">Floats in each segment.</param>
    protected NodeSharedMemory(float*[] segments, long floatsPerRank)
    {
        _segments = segments;
        FloatsPerRank = floatsPerRank;
    }

    /// <summary>Floats in each rank's segment.</summary>
    public long FloatsPerRank { get; }

    /// <summary>Ranks, one segment each.</summary>
    public int Ranks => _segments.Length;

    /// <summary>Floats <c>[offset, offset + length)</c> of <paramref name="rank"/>'s segment.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rank or the range lies outside the segments.</exception>
    /// <exception cref="ObjectDisposedException">The memory is freed.</exception>
    public Span<float> Segment(int rank, long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, Ranks);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + length, FloatsPerRank, nameof(length));
        return new Span<float>(_segments[rank] + offset, length);
    }

    /// <summary>Collective: returns when every rank has reached it, its writes before it visible to every rank after it.</summary>
    public abstract void Fence();

    /// <summary>Collective: frees the memory (every rank, in step with its other collectives).</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Free();
        }
    }

    /// <summary>Frees the memory, once.</summary>
    protected abstract void Free();
}
