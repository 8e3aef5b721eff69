namespace AtomoCollectives;

/// <summary>
/// The node-aware exchange's groups of nodes (<see cref="AtomoOptions.NodeGroupSize"/>, docs/node-aware.md): nodes
/// [0, G) are group 0, [G, 2G) group 1, and so on, the last group holding what is left. One home for the rule that sizes
/// them, which the exchange and the cost model share.
/// </summary>
internal static class NodeGroups
{
    /// <summary>
    /// The environment variable that sets the group size where <see cref="AtomoOptions.NodeGroupSize"/> leaves it to the
    /// library (0): for tests and benchmarks of groups over few nodes on one machine, and to try groups without a
    /// rebuild. Every rank must set it alike (checked).
    /// </summary>
    public const string SizeVariable = "ATOMO_NODE_GROUP_SIZE";

    /// <summary>From this many nodes on, <see cref="AtomoOptions.NodeGroupSize"/> = 0 groups them.</summary>
    public const int AutomaticFromNodes = 32;

    /// <summary>
    /// Nodes per group over <paramref name="nodeCount"/> nodes with the option <paramref name="option"/>: 1 (no groups)
    /// when grouping would leave one group or groups of one node; 0 chooses round(√M) from <see cref="AutomaticFromNodes"/> on.
    /// </summary>
    public static int SizeFor(int nodeCount, int option)
    {
        int size = option == 0 ? (nodeCount >= AutomaticFromNodes ? (int)Math.Round(Math.Sqrt(nodeCount)) : 1) : option;
        return size > 1 && size < nodeCount ? size : 1;
    }

    /// <summary>
    /// The group size over <paramref name="topology"/>: the option when set, else <see cref="SizeVariable"/> when set,
    /// else the automatic rule. Collective over <paramref name="world"/> (the variable is checked alike on every rank).
    /// </summary>
    public static int SizeFor(ICommunicator world, NodeTopology topology, int option)
    {
        int? variable = NodeTopology.AgreedSetting(world, SizeVariable, TestHooks.NodeGroupSize, "nodes per group");
        return SizeFor(topology.NodeCount, option != 0 ? option : variable ?? 0);
    }

    /// <summary>How many groups <paramref name="nodeCount"/> nodes make in groups of <paramref name="groupSize"/>.</summary>
    public static int CountFor(int nodeCount, int groupSize) => (nodeCount + groupSize - 1) / groupSize;

    /// <summary>
    /// How many payloads of a tensor a node receives between nodes: M − 1 without groups; with them, those of the
    /// other nodes of its group (at most G − 1) and those of the other groups.
    /// </summary>
    public static int PayloadsReceived(int nodeCount, int groupSize) =>
        groupSize <= 1 ? nodeCount - 1 : (groupSize - 1) + (CountFor(nodeCount, groupSize) - 1);
}
