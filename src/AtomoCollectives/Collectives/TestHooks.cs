namespace AtomoCollectives;

/// <summary>
/// Fault injection for the tests of failure handling: a failure of any kind, on one rank, in a given phase; and
/// timings of the tests' choosing for <see cref="RoutingRule.Time"/>. The hooks are
/// flow-local (<see cref="AsyncLocal{T}"/>): set inside one in-process rank's body it affects that rank only, and
/// tests running in parallel do not see it. Never set outside tests.
/// </summary>
internal static class TestHooks
{
    private static readonly AsyncLocal<Action<long, int>?> BeforeEncodeHook = new();
    private static readonly AsyncLocal<Action<long>?> BeforeDecodeHook = new();
    private static readonly AsyncLocal<int?> RanksPerNodeOverride = new();
    private static readonly AsyncLocal<int?> NodeGroupSizeOverride = new();
    private static readonly AsyncLocal<Action<long, CallTimings>?> TimingsHook = new();
    private static readonly AsyncLocal<bool?> NodeSharedMemoryOverride = new();

    /// <summary>Called with (step, tensor) just before a tensor is encoded; may throw.</summary>
    public static Action<long, int>? BeforeEncode
    {
        get => BeforeEncodeHook.Value;
        set => BeforeEncodeHook.Value = value;
    }

    /// <summary>Called with the step just before a call decodes the received payloads; may throw.</summary>
    public static Action<long>? BeforeDecode
    {
        get => BeforeDecodeHook.Value;
        set => BeforeDecodeHook.Value = value;
    }

    /// <summary>
    /// Ranks per node for <see cref="NodeTopology"/>'s grouping, in place of <c>ATOMO_RANKS_PER_NODE</c>: set before
    /// <see cref="InProcessCluster.Run(int, Action{ICommunicator})"/>, it reaches every rank's thread, and tests running in
    /// parallel keep their own (the environment variable is the whole process's).
    /// </summary>
    public static int? RanksPerNode
    {
        get => RanksPerNodeOverride.Value;
        set => RanksPerNodeOverride.Value = value;
    }

    /// <summary>Nodes per group for <see cref="NodeGroups"/>, in place of <c>ATOMO_NODE_GROUP_SIZE</c>, as <see cref="RanksPerNode"/>.</summary>
    public static int? NodeGroupSize
    {
        get => NodeGroupSizeOverride.Value;
        set => NodeGroupSizeOverride.Value = value;
    }

    /// <summary>Called with the step and this rank's measurements of a completed call, before they are kept to send; may overwrite them.</summary>
    public static Action<long, CallTimings>? Timings
    {
        get => TimingsHook.Value;
        set => TimingsHook.Value = value;
    }

    /// <summary>
    /// Whether the node-aware collectives sum within a node through shared memory (<see cref="NodeSharedBlocks"/>), as
    /// <c>ATOMO_NODE_SHARED_MEMORY</c> says; tests run the contracts both ways.
    /// </summary>
    public static bool? NodeSharedMemory
    {
        get => NodeSharedMemoryOverride.Value;
        set => NodeSharedMemoryOverride.Value = value;
    }
}
