using System.Globalization;

namespace AtomoCollectives;

/// <summary>
/// How a communicator's ranks are grouped into nodes, from one rank's point of view: its <see cref="Node"/> (the ranks
/// of its node) and its <see cref="Rail"/> (one rank per node: those with its node-local rank). A node-aware collective
/// reduces over the node, exchanges over the rails (each rail carries a share of the data between nodes) and shares
/// the result over the node again. Made by <see cref="INodeAwareCommunicator.SplitByNode"/>; disposing it disposes
/// both communicators (under MPI, <c>MPI_Comm_free</c>).
/// </summary>
public sealed class NodeTopology : IDisposable
{
    /// <summary>
    /// The environment variable that overrides the grouping for tests and benchmarks on one machine: k ranks per node,
    /// ranks [0, k) being node 0, [k, 2k) node 1, and so on.
    /// </summary>
    public const string RanksPerNodeVariable = "ATOMO_RANKS_PER_NODE";

    /// <summary>
    /// A grouping made by a transport. Nodes are numbered by their lowest rank; <paramref name="rail"/> must order its
    /// ranks by node index (its <see cref="ICommunicator.Rank"/> is <paramref name="nodeIndex"/> when every node holds
    /// this rank's node-local rank) and <paramref name="node"/> by rank.
    /// </summary>
    /// <param name="node">The ranks of this rank's node, in rank order.</param>
    /// <param name="rail">The ranks whose node-local rank equals this rank's, one per node, in node order.</param>
    /// <param name="nodeCount">How many nodes there are.</param>
    /// <param name="nodeIndex">This rank's node, in <c>[0, nodeCount)</c>.</param>
    /// <param name="isUniform">Whether every node holds the same number of ranks.</param>
    /// <exception cref="ArgumentNullException">A communicator is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The counts do not fit together.</exception>
    public NodeTopology(ICommunicator node, ICommunicator rail, int nodeCount, int nodeIndex, bool isUniform)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(rail);
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(nodeIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(nodeIndex, nodeCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rail.Size, nodeCount);
        if (isUniform && (rail.Size != nodeCount || rail.Rank != nodeIndex))
        {
            throw new ArgumentOutOfRangeException(nameof(rail), $"With uniform nodes the rail holds one rank per node in node order: size {nodeCount} and rank {nodeIndex}, not size {rail.Size} and rank {rail.Rank}.");
        }

        Node = node;
        Rail = rail;
        NodeCount = nodeCount;
        NodeIndex = nodeIndex;
        IsUniform = isUniform;
    }

    /// <summary>The ranks of this rank's node, in rank order; its <see cref="ICommunicator.Rank"/> is this rank's node-local rank.</summary>
    public ICommunicator Node { get; }

    /// <summary>The ranks with this rank's node-local rank, one per node, in node order.</summary>
    public ICommunicator Rail { get; }

    /// <summary>How many nodes there are.</summary>
    public int NodeCount { get; }

    /// <summary>This rank's node, in <c>[0, NodeCount)</c>; nodes are numbered by their lowest rank.</summary>
    public int NodeIndex { get; }

    /// <summary>Whether every node holds the same number of ranks (<see cref="Node"/>'s size).</summary>
    public bool IsUniform { get; }

    /// <summary>Disposes <see cref="Node"/> and <see cref="Rail"/>.</summary>
    public void Dispose()
    {
        Rail.Dispose();
        Node.Dispose();
    }

    /// <summary>
    /// The grouping of <paramref name="world"/> that <paramref name="splitter"/> (the same transport) makes: the
    /// <see cref="RanksPerNodeVariable"/> override when set, else the transport's own idea of a node. Collective.
    /// </summary>
    internal static NodeTopology Split(ICommunicator world, ICommunicatorSplitter splitter)
    {
        int? ranksPerNode = AgreedRanksPerNode(world);
        ICommunicator node = ranksPerNode is int k ? splitter.Split(world.Rank / k, world.Rank) : splitter.SplitShared();
        try
        {
            // Nodes are numbered by their lowest rank: node rank 0 (the split orders by rank) tells its node.
            Span<byte> leader = stackalloc byte[sizeof(int)];
            BitConverter.TryWriteBytes(leader, world.Rank);
            node.Broadcast(leader, root: 0);
            var nodes = new int[2 * world.Size];
            world.Allgather<int>([BitConverter.ToInt32(leader), node.Size], nodes);
            int[] leaders = [.. Enumerable.Range(0, world.Size).Select(r => nodes[2 * r]).Distinct().Order()];
            int nodeIndex = Array.IndexOf(leaders, BitConverter.ToInt32(leader));
            bool uniform = Enumerable.Range(0, world.Size).All(r => nodes[(2 * r) + 1] == node.Size);
            ICommunicator rail = splitter.Split(node.Rank, nodeIndex);
            return new NodeTopology(node, rail, leaders.Length, nodeIndex, uniform);
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The topology a collective with <paramref name="mode"/> uses over <paramref name="world"/>, or null for flat.
    /// Collective when it splits (every rank decides alike: the grouping is the same everywhere). <c>setting</c> names
    /// the option, for the messages, e.g. <c>AtomoOptions.NodeAware</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="NodeAwareMode.On"/> over a communicator that cannot group its ranks by node, or over nodes of different sizes.</exception>
    internal static NodeTopology? ForMode(ICommunicator world, NodeAwareMode mode, string setting)
    {
        if (mode == NodeAwareMode.Off || world.Size == 1)
        {
            return null;
        }

        if (world is not INodeAwareCommunicator splittable)
        {
            return mode == NodeAwareMode.On
                ? throw new InvalidOperationException($"{setting} = On needs a communicator that implements {nameof(INodeAwareCommunicator)}; {world.GetType().Name} does not. Use Auto to fall back to the flat exchange.")
                : null;
        }

        NodeTopology topology = splittable.SplitByNode();
        if (mode == NodeAwareMode.On && !topology.IsUniform)
        {
            topology.Dispose();
            throw new InvalidOperationException($"{setting} = On needs the same number of ranks on every node, but this rank's node holds {topology.Node.Size} and another node a different number. Use Auto to fall back to the flat exchange, or {RanksPerNodeVariable} to group the ranks evenly.");
        }

        if (mode == NodeAwareMode.Auto && !(topology.IsUniform && topology.NodeCount > 1 && topology.Node.Size > 1))
        {
            topology.Dispose();
            return null;
        }

        return topology;
    }

    /// <summary>The override's ranks per node (null when unset on every rank), the same on every rank (<see cref="AgreedSetting"/>).</summary>
    private static int? AgreedRanksPerNode(ICommunicator world)
    {
        int? k = AgreedSetting(world, RanksPerNodeVariable, TestHooks.RanksPerNode, "ranks per node; set it to a divisor of the world's ranks");
        return k is int perNode && world.Size % perNode != 0
            ? throw new InvalidOperationException($"{RanksPerNodeVariable}={perNode} does not divide the {world.Size} ranks into whole nodes; set it to a divisor of {world.Size}, or unset it.")
            : k;
    }

    /// <summary>
    /// A positive whole number from the environment variable <paramref name="variable"/> (or <paramref name="testValue"/>
    /// in its place), null when unset on every rank, checked on every rank alike: every rank gathers every rank's value,
    /// so a bad or differing setting raises the same error everywhere instead of splitting unevenly. Collective.
    /// <paramref name="meaning"/> says what it is, for the message.
    /// </summary>
    internal static int? AgreedSetting(ICommunicator world, string variable, int? testValue, string meaning)
    {
        string? text = testValue?.ToString(CultureInfo.InvariantCulture) ?? Environment.GetEnvironmentVariable(variable);
        int mine = string.IsNullOrWhiteSpace(text) ? 0
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k > 0 ? k
            : -1;
        var all = new int[world.Size];
        world.Allgather<int>([mine], all);
        for (int r = 0; r < all.Length; r++)
        {
            if (all[r] != all[0])
            {
                throw new InvalidOperationException($"{variable} differs between ranks (rank 0: {Describe(all[0])}, rank {r}: {Describe(all[r])}); set it alike on every rank, or on none.");
            }
        }

        return mine < 0
            ? throw new InvalidOperationException($"{variable}='{text}' is not a positive whole number of {meaning}, or unset it.")
            : mine == 0 ? null : mine;

        static string Describe(int value) => value switch
        {
            0 => "unset",
            < 0 => "not a positive number",
            _ => value.ToString(CultureInfo.InvariantCulture),
        };
    }
}

/// <summary>The two splits a transport makes for <see cref="NodeTopology.Split"/>; both collective, both ordering the new ranks by key, then rank.</summary>
internal interface ICommunicatorSplitter
{
    /// <summary>A communicator of the ranks that passed the same <paramref name="color"/>, ordered by <paramref name="key"/>, then rank.</summary>
    ICommunicator Split(int color, int key);

    /// <summary>A communicator of the ranks that share memory with this one (<c>MPI_COMM_TYPE_SHARED</c>), in rank order.</summary>
    ICommunicator SplitShared();
}
