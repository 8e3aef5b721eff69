using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives;

/// <summary>
/// How the averagers run their calls, written once: synchronous calls on the caller's thread, asynchronous ones queued
/// in order on one dedicated thread, never two at a time (an overlapping synchronous call is refused), and a watchdog
/// that ends the job when one call makes no progress for the timeout. The averager owns one and forwards to it.
/// </summary>
internal sealed class CallRunner : IDisposable
{
    private readonly object _owner;
    private readonly string _ownerName;
    private readonly string _timeoutSetting;
    private readonly ICommunicator _communicator;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Timer? _watchdog;
    private BlockingCollection<Action>? _queue;
    private Thread? _worker;
    private bool _disposed;
    private bool _running;
    private int _pendingAsync;
    private long _callStarted;   // Stopwatch timestamp of the running call's start; 0 between calls
    private long _callStep;
    private int _watchdogFired;

    /// <summary>
    /// Runs the calls of <c>owner</c> (the averager, named in <see cref="ObjectDisposedException"/> and messages);
    /// <c>timeoutSetting</c> says where the timeout was set, for the watchdog's message, e.g. <c>AtomoOptions.Timeout</c>.
    /// </summary>
    public CallRunner(object owner, ICommunicator communicator, TimeSpan timeout, string timeoutSetting, ILogger logger)
    {
        _owner = owner;
        _ownerName = owner.GetType().Name;
        _communicator = communicator;
        _timeout = timeout;
        _timeoutSetting = timeoutSetting;
        _logger = logger;
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            TimeSpan period = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(5).Ticks));
            _watchdog = new Timer(_ => CheckProgress(), null, period, period);
        }
    }

    /// <summary>Whether the dedicated thread of asynchronous calls is running (tests: none is left after <see cref="Dispose"/>).</summary>
    public bool HasLiveWorker => _worker?.IsAlive == true;

    /// <summary>Refuses a synchronous call while any other call on this instance runs or is queued; pair with <see cref="EndSynchronous"/>.</summary>
    public void BeginSynchronous()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, _owner);
            if (_running || _pendingAsync > 0)
            {
                throw ConcurrentCall();
            }

            _running = true;
        }
    }

    public void EndSynchronous() => EndCall(asynchronous: false);

    /// <summary>Runs <paramref name="action"/> (a call, or saving or loading state) as a synchronous call: refused while another runs or is queued.</summary>
    public void RunSynchronous(Action action)
    {
        BeginSynchronous();
        try
        {
            action();
        }
        finally
        {
            EndSynchronous();
        }
    }

    /// <summary>
    /// Queues <paramref name="call"/> on the dedicated thread and returns its task, completed (or faulted with what the
    /// call threw) only after the call counts as finished, so a continuation may call again at once.
    /// </summary>
    public Task Enqueue(Action call)
    {
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, _owner);
            if (_running && _pendingAsync == 0)
            {
                throw ConcurrentCall();
            }

            // Under the lock that Dispose takes first: no call is queued after the queue was closed.
            _pendingAsync++;
            EnsureWorker().Add(() =>
            {
                Exception? failure = null;
                try
                {
                    lock (_gate)
                    {
                        _running = true;
                    }

                    call();
                }
                catch (Exception error)
                {
                    failure = error;
                }
                finally
                {
                    EndCall(asynchronous: true);
                }

                if (failure is null)
                {
                    completion.SetResult();
                }
                else
                {
                    completion.SetException(failure);
                }
            });
        }

        return completion.Task;
    }

    /// <summary>Marks the start of a call's collective work at <paramref name="step"/>, for the watchdog.</summary>
    public void StartWatch(long step)
    {
        Volatile.Write(ref _callStep, step);
        Volatile.Write(ref _callStarted, Stopwatch.GetTimestamp());
    }

    public void StopWatch() => Volatile.Write(ref _callStarted, 0);

    /// <summary>Finishes queued asynchronous calls and stops the dedicated thread; later calls get <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _queue?.CompleteAdding();
        _worker?.Join();
        _queue?.Dispose();
        _watchdog?.Dispose();
    }

    /// <summary>
    /// The watchdog's tick: a call running longer than the timeout ends the job, through the transport's abort where
    /// it has one (MPI_Abort; the in-process fabric's failure), else by ending this process.
    /// </summary>
    private void CheckProgress()
    {
        long started = Volatile.Read(ref _callStarted);
        if (started == 0 || Stopwatch.GetElapsedTime(started) < _timeout || Interlocked.Exchange(ref _watchdogFired, 1) != 0)
        {
            return;
        }

        string reason = $"{_ownerName} watchdog on rank {_communicator.Rank} of {_communicator.Size}: the call at step {Volatile.Read(ref _callStep)} made no progress for {_timeout} ({_timeoutSetting}); a rank has probably crashed, left early or stopped calling. Ending the job.";
        _logger.LogError("{Reason}", reason);
        if (_communicator is IAbortableCommunicator abortable)
        {
            abortable.Abort(reason);
        }
        else
        {
            Environment.FailFast(reason);
        }
    }

    private void EndCall(bool asynchronous)
    {
        lock (_gate)
        {
            _running = false;
            if (asynchronous)
            {
                _pendingAsync--;
            }
        }
    }

    private InvalidOperationException ConcurrentCall() => new(
        $"Another call on this {_ownerName} is in progress (on another thread, or an AverageAsync that has not completed): calls on one instance must not overlap, because every rank must make the same calls in the same order. This call was refused; nothing was exchanged.");

    /// <summary>The dedicated thread and its queue, made on first use; call with <c>_gate</c> held.</summary>
    private BlockingCollection<Action> EnsureWorker()
    {
        if (_queue is null)
        {
            _queue = [];
            BlockingCollection<Action> queue = _queue;
            _worker = new Thread(() =>
            {
                foreach (Action work in queue.GetConsumingEnumerable())
                {
                    work();
                }
            })
            { IsBackground = true, Name = _ownerName };
            _worker.Start();
        }

        return _queue;
    }
}
