namespace AtomoCollectives;

/// <summary>Local argument checks shared by every transport, made before any communication.</summary>
internal static class CommunicatorArguments
{
    public static void ValidateAllgather(int size, int sendLength, int receiveLength)
    {
        if (receiveLength < (long)sendLength * size)
        {
            throw new ArgumentException(
                $"receive holds {receiveLength} values but Size × send.Length = {(long)sendLength * size} are needed.", "receive");
        }
    }

    /// <summary>Checks allgatherv arguments and returns the total byte count.</summary>
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

    /// <summary>Checks per-rank-buffer allgatherv arguments and returns the total byte count.</summary>
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

    public static void ValidateRoot(int size, int root)
    {
        if ((uint)root >= (uint)size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"root must be a rank in [0, {size}).");
        }
    }
}
