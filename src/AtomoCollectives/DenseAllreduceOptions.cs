namespace AtomoCollectives;

/// <summary>What <see cref="DenseAllreduce"/> does. Setters validate at once.</summary>
public sealed class DenseAllreduceOptions
{
    private TimeSpan _timeout = TimeSpan.FromMinutes(10);
    private NodeAwareMode _nodeAware = NodeAwareMode.Off;

    /// <summary>
    /// Whether <see cref="DenseAllreduce"/> sums within each node, allreduces between nodes on the rails (each of a node's
    /// k ranks carries 1/k of the data) and shares the sum within the node again, instead of one allreduce over every
    /// rank (docs/node-aware.md). Default <see cref="NodeAwareMode.Off"/>: the baseline is <c>MPI_Allreduce</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="NodeAwareMode"/>.</exception>
    public NodeAwareMode NodeAware
    {
        get => _nodeAware;
        set => _nodeAware = AtomoOptions.Defined(value);
    }

    /// <summary>
    /// The watchdog: a call that has not completed this long after it started aborts the whole job, as
    /// <see cref="AtomoOptions.Timeout"/> does. Default 10 minutes; <see cref="Timeout.InfiniteTimeSpan"/> disables it.
    /// Each rank uses its own value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    [RankLocal]
    public TimeSpan Timeout
    {
        get => _timeout;
        set => _timeout = CheckTimeout(value);
    }

    /// <summary>A copy that can be changed without affecting this one.</summary>
    public DenseAllreduceOptions Clone() => (DenseAllreduceOptions)MemberwiseClone();

    /// <summary>The watchdog timeouts' rule, shared by the options classes.</summary>
    internal static TimeSpan CheckTimeout(TimeSpan value) =>
        value <= TimeSpan.Zero && value != System.Threading.Timeout.InfiniteTimeSpan
            ? throw new ArgumentOutOfRangeException(nameof(value), value, "The timeout must be positive, or Timeout.InfiniteTimeSpan to disable the watchdog.")
            : value;
}
