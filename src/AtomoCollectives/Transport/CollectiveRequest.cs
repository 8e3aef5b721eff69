using System.Runtime.ExceptionServices;

namespace AtomoCollectives;

/// <summary>
/// A nonblocking collective in flight, from <see cref="ICommunicator.StartAllgatherv"/>. Its buffers stay
/// pinned and in use until <see cref="Wait"/> returns or <see cref="Test"/> returns <see langword="true"/>.
/// </summary>
/// <remarks>
/// <para><b>Implementing a request</b> (a transport of your own): derive from this class and override
/// <see cref="TestCore"/> (poll once, without blocking) and <see cref="WaitCore"/> (block until done). The base
/// class keeps the state: a request completes exactly once, when <see cref="TestCore"/> returns
/// <see langword="true"/> or <see cref="WaitCore"/> returns; after that neither is called again. Release what the
/// request holds (pins, native handles) inside the core method that completes it. An exception from either core
/// method also completes the request: the base class records it and rethrows it from every later
/// <see cref="Test"/> and <see cref="Wait"/>, so a failed gather is never mistaken for a finished one.
/// A transport whose gather finishes inside <see cref="ICommunicator.StartAllgatherv"/> returns
/// <see cref="Completed"/>. The rules every transport keeps are in <c>docs/transport.md</c>.</para>
/// <para>Like the communicator, a request is used by one thread at a time.</para>
/// </remarks>
public abstract class CollectiveRequest : IDisposable
{
    private ExceptionDispatchInfo? _failure;

    /// <summary>Creates a request that is in flight until <see cref="TestCore"/> or <see cref="WaitCore"/> says otherwise.</summary>
    protected CollectiveRequest()
    {
    }

    /// <summary>
    /// A request that has already completed, for transports whose gather finished before
    /// <see cref="ICommunicator.StartAllgatherv"/> returned (a blocking library underneath, or totals too large for
    /// its nonblocking call). Shared and stateless: <see cref="Test"/> is <see langword="true"/>, <see cref="Wait"/>
    /// and <see cref="Dispose"/> do nothing.
    /// </summary>
    public static CollectiveRequest Completed { get; } = new CompletedRequest();

    /// <summary>
    /// Whether the collective has completed (as last observed by <see cref="Test"/> or <see cref="Wait"/>),
    /// successfully or with an error that <see cref="Wait"/> rethrows.
    /// </summary>
    public bool IsCompleted { get; private set; }

    /// <summary>Checks once, without blocking, whether the collective has completed; drives MPI progress.</summary>
    /// <returns><see langword="true"/> once the receive buffer holds the result.</returns>
    /// <exception cref="Exception">Whatever the transport raised for this collective (e.g. <see cref="MpiException"/>,
    /// <see cref="RankFailedException"/>), now and on every later call.</exception>
    public bool Test()
    {
        if (IsCompleted)
        {
            _failure?.Throw();
            return true;
        }

        bool done;
        try
        {
            done = TestCore();
        }
        catch (Exception error)
        {
            Fail(error);
            throw;
        }

        IsCompleted = done;
        return done;
    }

    /// <summary>Blocks until the collective has completed; afterwards the receive buffer holds the result.</summary>
    /// <exception cref="Exception">Whatever the transport raised for this collective, now and on every later call.</exception>
    public void Wait()
    {
        if (IsCompleted)
        {
            _failure?.Throw();
            return;
        }

        try
        {
            WaitCore();
        }
        catch (Exception error)
        {
            Fail(error);
            throw;
        }

        IsCompleted = true;
    }

    /// <summary>
    /// Waits for completion if needed (so buffers are never released while the transport still writes them)
    /// and releases the pins. Call <see cref="Wait"/> explicitly to see errors: Dispose raises one only if its own
    /// wait is the first to observe it.
    /// </summary>
    public void Dispose()
    {
        if (!IsCompleted)
        {
            Wait();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Polls the transport once without blocking. Return <see langword="true"/> when the receive buffer holds the
    /// result (release the request's resources first); throw if the collective failed. Never called again after it
    /// returned <see langword="true"/> or threw, or after <see cref="WaitCore"/> returned or threw.
    /// </summary>
    /// <returns>Whether the collective has completed.</returns>
    protected abstract bool TestCore();

    /// <summary>
    /// Blocks until the collective has completed (release the request's resources before returning) or throws if
    /// it failed. Never called again after it returned or threw, or after <see cref="TestCore"/> returned
    /// <see langword="true"/> or threw.
    /// </summary>
    protected abstract void WaitCore();

    private void Fail(Exception error)
    {
        _failure = ExceptionDispatchInfo.Capture(error);
        IsCompleted = true;
    }

    private sealed class CompletedRequest : CollectiveRequest
    {
        public CompletedRequest()
        {
            IsCompleted = true;
        }

        protected override bool TestCore() => true;

        protected override void WaitCore()
        {
        }
    }
}
