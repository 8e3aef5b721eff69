namespace AtomoCollectives;

/// <summary>
/// Whether an averager reduces within each node and exchanges only between nodes (docs/node-aware.md). It needs a
/// communicator that implements <see cref="INodeAwareCommunicator"/>.
/// </summary>
public enum NodeAwareMode
{
    /// <summary>Node-aware when it can pay: the communicator groups its ranks into more than one node, every node holds the same number of ranks, and that number is more than one. Otherwise flat.</summary>
    Auto,

    /// <summary>Flat: every rank exchanges with every other as if each were its own node.</summary>
    Off,

    /// <summary>Node-aware whatever the grouping (one node, or one rank per node, too); an error when the communicator cannot group its ranks or the nodes hold different numbers of ranks.</summary>
    On,
}
