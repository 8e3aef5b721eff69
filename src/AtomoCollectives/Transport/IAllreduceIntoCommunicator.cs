namespace AtomoCollectives;

/// <summary>
/// An allreduce whose sum goes into another buffer (<c>MPI_Allreduce</c> with a send buffer): the caller's data are read
/// where they are, with no copy first, and stay untouched. The library's transports have it; the collectives use it for
/// an all-dense call (<see cref="Pieces.AllreduceSum(ICommunicator, ReadOnlySpan{float}, Span{float})"/>) and copy then
/// sum in place otherwise.
/// </summary>
internal interface IAllreduceIntoCommunicator
{
    /// <summary>
    /// Sums <paramref name="send"/> element-wise over all ranks into <paramref name="sum"/>, the same length on every rank;
    /// the two must not overlap.
    /// </summary>
    void AllreduceSum(ReadOnlySpan<float> send, Span<float> sum);
}
