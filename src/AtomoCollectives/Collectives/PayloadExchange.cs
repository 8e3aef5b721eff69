using System.Buffers;

namespace AtomoCollectives;

/// <summary>The allgatherv of encoded payloads, written once for the flat exchange (over every rank) and the node-aware one (over a rail).</summary>
internal static class PayloadExchange
{
    /// <summary>
    /// Packs the payloads of the tensors still routed to compression out of <paramref name="written"/> (in tensor order,
    /// tensor t's <paramref name="lengths"/>[t] bytes, 0 for those this rank did not encode) and allgathers them over
    /// <paramref name="group"/>, member r sending <paramref name="counts"/>[r] bytes, into <paramref name="received"/>
    /// (grown when too small). Returns the bytes this rank sent.
    /// </summary>
    public static int Allgather(ICommunicator group, ReadOnlySpan<byte> written, ReadOnlySpan<int> lengths, ReadOnlySpan<TensorRoute> routes, ReadOnlySpan<int> counts, ref byte[] received)
    {
        byte[] send = ArrayPool<byte>.Shared.Rent(Math.Max(1, counts[group.Rank]));
        try
        {
            int packed = 0, offset = 0;
            for (int t = 0; t < lengths.Length; t++)
            {
                if (routes[t] == TensorRoute.Compressed)
                {
                    written.Slice(offset, lengths[t]).CopyTo(send.AsSpan(packed));
                    packed += lengths[t];
                }

                offset += lengths[t];
            }

            long total = 0;
            foreach (int count in counts)
            {
                total += count;
            }

            if (received.Length < total)
            {
                received = new byte[total];
            }

            group.Allgatherv(send.AsSpan(0, packed), counts, received);
            return packed;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(send);
        }
    }

    /// <summary>Where each member's bytes start in what <see cref="Allgather"/> received: the sums of the <paramref name="counts"/> before it.</summary>
    public static long[] Starts(ReadOnlySpan<int> counts)
    {
        var starts = new long[counts.Length];
        for (int r = 1; r < counts.Length; r++)
        {
            starts[r] = starts[r - 1] + counts[r - 1];
        }

        return starts;
    }
}
