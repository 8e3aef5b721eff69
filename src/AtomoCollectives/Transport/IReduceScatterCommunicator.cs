namespace AtomoCollectives;

/// <summary>
/// A sum whose result each rank needs only a block of (<c>MPI_Reduce_scatter</c>): half the bytes of an allreduce. The
/// library's transports have it; the node-aware collectives use it within a node when the node's communicator has it,
/// and an allreduce otherwise (<see cref="NodeAllreduce.ReduceScatter"/>).
/// </summary>
internal interface IReduceScatterCommunicator
{
    /// <summary>
    /// Sums <paramref name="send"/> element-wise over all ranks and leaves rank r's block, the <paramref name="counts"/>[r]
    /// elements after those of ranks 0 … r−1, in its <paramref name="receive"/>. <paramref name="send"/> holds the sum of
    /// the counts (the same on every rank); <paramref name="receive"/> must not overlap it.
    /// </summary>
    void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts);
}
