namespace AtomoCollectives;

/// <summary>
/// A group of ranks that run the same collectives in the same order: the transport under
/// compressed collectives (allgather of payload lengths, allgatherv of the
/// payload bytes, dense allreduce for tensors that go uncompressed).
/// </summary>
/// <remarks>
/// <para>Every call is a collective: all ranks must make the same calls, in the same order, with matching
/// arguments (same counts, same root). Calls block until the local part is complete; data are copied, so the
/// caller's buffers are free to reuse on return.</para>
/// <para>A communicator is not thread-safe: make one call at a time (any thread may make it, one after the
/// other). The MPI transport requests <c>MPI_THREAD_SERIALIZED</c> for exactly this.</para>
/// <para>Arguments are validated locally before any communication, so the same bad call on every rank fails
/// on every rank with <see cref="ArgumentException"/> instead of hanging (<see cref="CommunicatorArguments"/>).</para>
/// <para>Anyone may implement it: the library's collectives use nothing else. What a transport of your own must
/// keep (identical results on every rank, ordering, buffer ownership, errors raised and never a partial result,
/// <see cref="IAbortableCommunicator"/> for the watchdog) is in <c>docs/transport.md</c>; the nonblocking part
/// derives from <see cref="CollectiveRequest"/>.</para>
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This rank, in <c>[0, Size)</c>.</summary>
    int Rank { get; }

    /// <summary>Number of ranks.</summary>
    int Size { get; }

    /// <summary>
    /// Gathers the same number of values from every rank into every rank:
    /// <paramref name="receive"/>[r·n .. (r+1)·n) holds rank r's <paramref name="send"/> (n = send.Length).
    /// </summary>
    /// <param name="send">This rank's values; the same length on every rank (may be empty).</param>
    /// <param name="receive">At least <see cref="Size"/> × send.Length values; only that prefix is written.</param>
    void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    /// <summary>
    /// Gathers variable-length byte payloads from every rank into every rank, in rank order, packed without gaps:
    /// rank r's bytes start at <c>counts[0] + … + counts[r-1]</c>. The total is limited by what one span can
    /// hold (2 GiB − 1); for more, use <see cref="Allgatherv(ReadOnlySpan{byte}, ReadOnlySpan{int}, ReadOnlySpan{Memory{byte}})"/>.
    /// </summary>
    /// <param name="send">This rank's payload; its length must equal <c>counts[Rank]</c> (may be empty).</param>
    /// <param name="counts">Every rank's payload length, identical on every rank (usually from a prior
    /// <see cref="Allgather{T}(ReadOnlySpan{T}, Span{T})"/> of the lengths).</param>
    /// <param name="receive">At least the sum of <paramref name="counts"/> bytes; only that prefix is written.</param>
    void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive);

    /// <summary>
    /// Gathers variable-length byte payloads into one buffer per rank: <paramref name="receive"/>[r] gets rank r's
    /// payload. The total has no 2 GiB limit (each payload is at most 2 GiB − 1). The MPI transport uses the
    /// large-count <c>MPI_Allgatherv_c</c> where the library has it (MPICH 4), else one chunked broadcast per rank
    /// (Open MPI 4.1), so for totals that fit one span the contiguous overload is faster.
    /// </summary>
    /// <param name="send">This rank's payload; its length must equal <c>counts[Rank]</c> (may be empty).</param>
    /// <param name="counts">Every rank's payload length, identical on every rank.</param>
    /// <param name="receive">One buffer per rank, <c>receive[r]</c> at least <c>counts[r]</c> bytes; only that
    /// prefix is written. <c>receive[Rank]</c> gets a copy of <paramref name="send"/>.</param>
    void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive);

    /// <summary>
    /// Starts the same gather as <see cref="Allgatherv(ReadOnlySpan{byte}, ReadOnlySpan{int}, Span{byte})"/> and
    /// returns at once, so the caller can compute while the bytes move. The buffers are pinned and must not be
    /// touched until <see cref="CollectiveRequest.Wait"/> returns. Several requests may be outstanding; they are
    /// matched across ranks in the order they were started, and other collectives may be called meanwhile.
    /// </summary>
    /// <returns>A request to <see cref="CollectiveRequest.Wait"/> on (or <see cref="CollectiveRequest.Test"/>).</returns>
    CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive);

    /// <summary>Sums <paramref name="data"/> element-wise over all ranks, in place; every rank gets the sum.</summary>
    /// <param name="data">The same length on every rank (may be empty).</param>
    void AllreduceSum(Span<float> data);

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="data"/> into every other rank's.</summary>
    /// <param name="data">The same length on every rank.</param>
    /// <param name="root">The rank whose data are sent.</param>
    void Broadcast(Span<byte> data, int root);

    /// <summary>Returns only when every rank has called it.</summary>
    void Barrier();
}
