namespace AtomoCollectives;

/// <summary>
/// The local argument checks every <see cref="ICommunicator"/> makes before any communication, so that the same bad
/// call fails on every rank with <see cref="ArgumentException"/> instead of hanging. The library's transports use
/// them; a transport of your own calls them first in each method to fail the same way (docs/transport.md).
/// </summary>
public static class CommunicatorArguments
{
    /// <summary>Checks <see cref="ICommunicator.Allgather{T}(ReadOnlySpan{T}, Span{T})"/>: the receive buffer holds
    /// <paramref name="size"/> × <paramref name="sendLength"/> values.</summary>
    /// <param name="size">The communicator's <see cref="ICommunicator.Size"/>.</param>
    /// <param name="sendLength">Values this rank sends.</param>
    /// <param name="receiveLength">Values the receive buffer holds.</param>
    /// <exception cref="ArgumentException">The receive buffer is too small.</exception>
    public static void ValidateAllgather(int size, int sendLength, int receiveLength)
    {
        if (receiveLength < (long)sendLength * size)
        {
            throw new ArgumentException(
                $"receive holds {receiveLength} values but Size × send.Length = {(long)sendLength * size} are needed.", "receive");
        }
    }

    /// <summary>Checks the contiguous <see cref="ICommunicator.Allgatherv(ReadOnlySpan{byte}, ReadOnlySpan{int}, Span{byte})"/>
    /// (and <see cref="ICommunicator.StartAllgatherv"/>): one non-negative count per rank, this rank's equal to the
    /// send length, and room for the total.</summary>
    /// <param name="rank">The communicator's <see cref="ICommunicator.Rank"/>.</param>
    /// <param name="size">The communicator's <see cref="ICommunicator.Size"/>.</param>
    /// <param name="sendLength">Bytes this rank sends.</param>
    /// <param name="counts">Every rank's byte count.</param>
    /// <param name="receiveLength">Bytes the receive buffer holds.</param>
    /// <returns>The total byte count (may exceed <see cref="int.MaxValue"/>).</returns>
    /// <exception cref="ArgumentException">Any of the above does not hold.</exception>
    public static long ValidateAllgatherv(int rank, int size, int sendLength, ReadOnlySpan<int> counts, long receiveLength)
    {
        if (counts.Length != size)
        {
            throw new ArgumentException($"counts must have one entry per rank ({size}); it has {counts.Length}.", nameof(counts));
        }

        long total = 0;
        for (int r = 0; r < counts.Length; r++)
        {
            if (counts[r] < 0)
            {
                throw new ArgumentException($"counts[{r}] is negative ({counts[r]}).", nameof(counts));
            }

            total += counts[r];
        }

        if (counts[rank] != sendLength)
        {
            throw new ArgumentException($"send has {sendLength} bytes but counts[{rank}] (this rank) is {counts[rank]}.", "send");
        }

        if (receiveLength < total)
        {
            throw new ArgumentException($"receive holds {receiveLength} bytes but the counts add up to {total}.", "receive");
        }

        return total;
    }

    /// <summary>Checks the per-rank-buffer <see cref="ICommunicator.Allgatherv(ReadOnlySpan{byte}, ReadOnlySpan{int}, ReadOnlySpan{Memory{byte}})"/>:
    /// as the contiguous form, plus one buffer per rank, each at least its count.</summary>
    /// <param name="rank">The communicator's <see cref="ICommunicator.Rank"/>.</param>
    /// <param name="size">The communicator's <see cref="ICommunicator.Size"/>.</param>
    /// <param name="sendLength">Bytes this rank sends.</param>
    /// <param name="counts">Every rank's byte count.</param>
    /// <param name="receive">The per-rank receive buffers.</param>
    /// <returns>The total byte count.</returns>
    /// <exception cref="ArgumentException">Any of the above does not hold.</exception>
    public static long ValidateAllgathervSegments(int rank, int size, int sendLength, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive)
    {
        if (receive.Length != size)
        {
            throw new ArgumentException($"receive must have one buffer per rank ({size}); it has {receive.Length}.", nameof(receive));
        }

        long total = ValidateAllgatherv(rank, size, sendLength, counts, long.MaxValue);
        for (int r = 0; r < size; r++)
        {
            if (receive[r].Length < counts[r])
            {
                throw new ArgumentException($"receive[{r}] holds {receive[r].Length} bytes but counts[{r}] is {counts[r]}.", nameof(receive));
            }
        }

        return total;
    }

    /// <summary>Checks <see cref="IReduceScatterCommunicator.ReduceScatterSum"/>: one non-negative count per rank, adding up to the send length, and room for this rank's block.</summary>
    internal static void ValidateReduceScatter(int rank, int size, int sendLength, ReadOnlySpan<int> counts, int receiveLength)
    {
        // The allgatherv's checks of the counts (this rank's "send" is its block, so that one holds by construction).
        long total = ValidateAllgatherv(rank, size, counts.Length == size ? counts[rank] : 0, counts, long.MaxValue);
        if (total != sendLength)
        {
            throw new ArgumentException($"send has {sendLength} values but the counts add up to {total}.", "send");
        }

        if (receiveLength < counts[rank])
        {
            throw new ArgumentException($"receive holds {receiveLength} values but counts[{rank}] (this rank) is {counts[rank]}.", "receive");
        }
    }

    /// <summary>Checks <see cref="ICommunicator.Broadcast"/>'s root: a rank in <c>[0, size)</c>.</summary>
    /// <param name="size">The communicator's <see cref="ICommunicator.Size"/>.</param>
    /// <param name="root">The root rank.</param>
    /// <exception cref="ArgumentOutOfRangeException">The root is not a rank.</exception>
    public static void ValidateRoot(int size, int root)
    {
        if ((uint)root >= (uint)size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"root must be a rank in [0, {size}).");
        }
    }
}
