namespace AtomoCollectives;

/// <summary>
/// A way of averaging every rank's gradients over the ranks, so that a training loop swaps compressors by changing the
/// line that creates one: <see cref="DenseAllreduce"/> (exact, the baseline), <see cref="AtomoAllreduce"/> (unbiased
/// ATOMO sparsification) and <see cref="PowerSgdAllreduce"/> (low rank, biased, with error feedback). After a call every
/// rank's tensors hold the same bits.
/// </summary>
/// <remarks>
/// The contract all of them keep (docs/reliability.md): every rank makes the same calls with the same shapes in the
/// same order; bad arguments or NaN/infinity on one rank are raised on every rank (that rank
/// <see cref="ArgumentException"/>, the others <see cref="InvalidOperationException"/>) with every rank's tensors
/// untouched and the next call in step; calls on one instance never overlap.
/// </remarks>
public interface IGradientAverager : IDisposable
{
    /// <summary>Calls completed so far.</summary>
    long Step { get; }

    /// <summary>Traffic, time and per-tensor decisions of the last completed call.</summary>
    AllreduceStatistics LastCall { get; }

    /// <summary>Traffic and time summed over all completed calls.</summary>
    AllreduceStatistics Statistics { get; }

    /// <summary>Replaces each tensor by the (estimated) average over the ranks of that tensor, in one fused exchange.</summary>
    /// <param name="tensors">The tensors, e.g. a model's gradients; the same count and shapes on every rank; each its own memory (slices of one buffer that do not overlap are fine).</param>
    /// <param name="shapes">Their shapes, in the same order.</param>
    /// <exception cref="ArgumentException">A list is null, the lists differ in length, two tensors overlap in one array, a tensor's length is not its shape's element count, or a tensor holds NaN or infinity (raised on this rank; every other rank raises <see cref="InvalidOperationException"/>).</exception>
    /// <exception cref="InvalidOperationException">Another rank called with different shapes or options, or failed; or another call on this instance is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The averager was disposed.</exception>
    void Average(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes);

    /// <summary>
    /// Starts <see cref="Average"/> on the averager's own thread and returns at once, so the caller can compute
    /// meanwhile. The tensors must not be touched, and the communicator not used, until the task completes. Calls run
    /// one at a time in the order they were made.
    /// </summary>
    /// <exception cref="InvalidOperationException">A synchronous call on this instance is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The averager was disposed.</exception>
    Task AverageAsync(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes);

    /// <summary>
    /// Writes what a resumed run needs to continue exactly where this one is: the step that seeds the next call's draws,
    /// and whatever the averager carries between calls (warm-start bases, error feedback). Each rank saves its own
    /// state (it follows that rank's gradients). The format is versioned and checksummed; statistics are not part of it.
    /// </summary>
    /// <exception cref="InvalidOperationException">A call on this instance is in progress or queued.</exception>
    /// <exception cref="ObjectDisposedException">The averager was disposed.</exception>
    void SaveState(Stream stream);

    /// <summary>
    /// Replaces this averager's state by one that <see cref="SaveState"/> wrote on the same rank, with the same number of
    /// ranks, the same kind of averager and the same options. Everything is checked before anything is replaced: a
    /// refused state leaves the averager as it was. Every rank loads its own before the next call (a rank at another
    /// step makes that call fail on every rank).
    /// </summary>
    /// <exception cref="InvalidDataException">The stream is not such a state, is truncated or corrupted, or was saved elsewhere (the message names what differs).</exception>
    /// <exception cref="InvalidOperationException">A call on this instance is in progress or queued.</exception>
    /// <exception cref="ObjectDisposedException">The averager was disposed.</exception>
    void LoadState(Stream stream);
}
