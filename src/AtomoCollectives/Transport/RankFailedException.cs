namespace AtomoCollectives;

/// <summary>
/// Thrown from a pending collective of an <see cref="InProcessCluster"/> rank when another rank has failed,
/// so no rank waits forever for a partner that will never arrive.
/// </summary>
public sealed class RankFailedException : OperationCanceledException
{
    /// <summary>Creates the exception for the failure of rank <paramref name="failedRank"/>.</summary>
    public RankFailedException(int failedRank, Exception? cause)
        : base($"Rank {failedRank} failed, so this collective can never complete: {cause?.GetType().Name}: {cause?.Message}", cause)
    {
        FailedRank = failedRank;
    }

    /// <summary>Creates the exception with a message.</summary>
    public RankFailedException(string message)
        : base(message)
    {
        FailedRank = -1;
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public RankFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
        FailedRank = -1;
    }

    /// <summary>Creates an empty exception (for serializers and tooling).</summary>
    public RankFailedException()
    {
        FailedRank = -1;
    }

    /// <summary>The rank whose failure released this one, or -1 when unknown.</summary>
    public int FailedRank { get; }
}
