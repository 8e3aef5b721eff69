namespace AtomoCollectives;

/// <summary>
/// A transport that knows which of its ranks share a node (memory, and a fast link), so that collectives can reduce
/// within each node and send only between nodes (<see cref="NodeAwareMode"/>, docs/node-aware.md). The MPI and
/// in-process transports implement it; a transport of your own may, and a decorator forwards it.
/// </summary>
/// <remarks>
/// Kept apart from <see cref="ICommunicator"/>, which anyone implements: a transport without it is averaged flat.
/// </remarks>
public interface INodeAwareCommunicator
{
    /// <summary>
    /// Collective (every rank calls it, in step with its other collectives): groups the ranks by node and returns this
    /// rank's node and rail communicators. The environment variable <c>ATOMO_RANKS_PER_NODE</c>
    /// (<see cref="NodeTopology.RanksPerNodeVariable"/>) = k overrides the grouping, so that a contract or a bench runs
    /// several "nodes" on one machine: ranks [0, k) form node 0, [k, 2k) node 1, and so on; k must divide the size.
    /// </summary>
    /// <returns>The grouping; dispose it to free its communicators.</returns>
    /// <exception cref="InvalidOperationException"><c>ATOMO_RANKS_PER_NODE</c> is not a positive divisor of the size, or differs between ranks (raised on every rank).</exception>
    NodeTopology SplitByNode();
}
