namespace AtomoCollectives;

/// <summary>
/// A nonblocking collective in flight, from <see cref="ICommunicator.StartAllgatherv"/>. Its buffers stay
/// pinned and in use until <see cref="Wait"/> returns or <see cref="Test"/> returns <see langword="true"/>.
/// </summary>
public abstract class CollectiveRequest : IDisposable
{
    private protected CollectiveRequest()
    {
    }

    /// <summary>Whether the collective has completed (as last observed by <see cref="Test"/> or <see cref="Wait"/>).</summary>
    public bool IsCompleted { get; private protected set; }

    /// <summary>Checks once, without blocking, whether the collective has completed; drives MPI progress.</summary>
    /// <returns><see langword="true"/> once the receive buffer holds the result.</returns>
    public abstract bool Test();

    /// <summary>Blocks until the collective has completed; afterwards the receive buffer holds the result.</summary>
    public abstract void Wait();

    /// <summary>
    /// Waits for completion if needed (so buffers are never released while the transport still writes them)
    /// and releases the pins. Call <see cref="Wait"/> explicitly to see errors; Dispose rethrows them too.
    /// </summary>
    public void Dispose()
    {
        if (!IsCompleted)
        {
            Wait();
        }

        GC.SuppressFinalize(this);
    }
}
