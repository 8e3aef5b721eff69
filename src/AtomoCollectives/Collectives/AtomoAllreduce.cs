using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AtomoCollectives;

/// <summary>
/// The drop-in replacement for <c>MPI_Allreduce</c> + divide by N: afterwards every rank's tensors hold the same
/// (bitwise identical) unbiased estimate of the mean of all ranks' inputs. Tensors are sparsified with ATOMO,
/// exchanged with one allgatherv, and reconstructed in rank order; small, 1-D, warm-up and not-worth-it tensors
/// take a dense allreduce instead, and every decision shows in <see cref="LastCall"/>.
/// </summary>
/// <remarks>
/// Every rank must make the same calls with the same shapes, in the same order. A mismatch, or a rank whose
/// tensors cannot be encoded (NaN, wrong length), is detected in the first exchange and raised on every rank as
/// <see cref="InvalidOperationException"/> (or, on the rank at fault, its own exception: <see cref="ArgumentException"/>
/// for bad arguments or NaN on any route, whatever a failed encode threw otherwise); every rank's next call starts in
/// step. On failure the caller's tensors are left untouched. Synchronous calls run on the caller's thread,
/// <see cref="AverageAsync"/> calls on one dedicated thread; calls on one instance never overlap, and a synchronous call
/// made while another call runs or is queued is refused with <see cref="InvalidOperationException"/>.
/// </remarks>
public sealed class AtomoAllreduce : IDisposable
{
    private const int HeaderLength = 5;
    private readonly ICommunicator _communicator;
    private readonly AtomoOptions _options;
    private readonly AtomoCodec _codec;
    private readonly ILogger _logger;
    private readonly long _optionsHash;
    private readonly object _gate = new();
    private readonly ArrayBufferWriter<byte> _payloads = new();
    private readonly List<Decompositions.SpectralSketch> _sketches = [];
    private byte[] _received = [];
    private float[] _scratch = [];
    private BlockingCollection<Action>? _queue;
    private Thread? _worker;
    private bool _disposed;
    private bool _running;
    private int _pendingAsync;
    private readonly Timer? _watchdog;
    private long _callStarted;   // Stopwatch timestamp of the running call's start; 0 between calls
    private long _callStep;
    private int _watchdogFired;

    /// <summary>A collective over <paramref name="communicator"/> with <paramref name="options"/> (copied).</summary>
    public AtomoAllreduce(ICommunicator communicator, AtomoOptions options, ILogger<AtomoAllreduce>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(options);
        _communicator = communicator;
        _options = options.Clone();
        _codec = new AtomoCodec(_options);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _optionsHash = HashOptions(_options);
        if (_options.Timeout != Timeout.InfiniteTimeSpan)
        {
            TimeSpan period = TimeSpan.FromTicks(Math.Clamp(_options.Timeout.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(5).Ticks));
            _watchdog = new Timer(_ => CheckProgress(), null, period, period);
        }

        _logger.LogInformation(
            "AtomoAllreduce on rank {Rank} of {Size}: {Decomposition} atoms, budget {Budget}, {Sampling} sampling, warm-up {Warmup} steps, dense below {Minimum} elements",
            communicator.Rank, communicator.Size, _options.Decomposition, _options.Budget, _options.Sampling, _options.DenseWarmupSteps, _options.MinimumCompressedElements);
    }

    /// <summary>Calls completed so far; the step used to derive each call's seeds.</summary>
    public long Step { get; private set; }

    /// <summary>Traffic, time and per-tensor decisions of the last completed call.</summary>
    public AllreduceStatistics LastCall { get; private set; } = new();

    /// <summary>Traffic and time summed over all completed calls.</summary>
    public AllreduceStatistics Statistics { get; private set; } = new();

    /// <summary>Replaces <paramref name="data"/> by the unbiased estimate of the mean of every rank's <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The length of <paramref name="data"/> is not the shape's element count, or it holds NaN or infinity.</exception>
    /// <exception cref="InvalidOperationException">Another rank called with different shapes or options, or failed before the exchange; or another call on this instance is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The collective was disposed.</exception>
    public void Average(Span<float> data, TensorShape shape)
    {
        BeginSynchronousCall();
        try
        {
            AverageCore(new OneTensor(data, shape));
        }
        finally
        {
            EndCall(asynchronous: false);
        }
    }

    /// <summary>
    /// The fused form: averages a whole set of tensors (a model's gradients) with one exchange of lengths, one
    /// allgatherv and at most one dense allreduce.
    /// </summary>
    /// <exception cref="ArgumentException">A list is null, the lists differ in length, a tensor's length is not its shape's element count, or a tensor holds NaN or infinity (raised on this rank; every other rank raises <see cref="InvalidOperationException"/>).</exception>
    /// <exception cref="InvalidOperationException">Another rank called with different shapes or options, or failed before the exchange; or another call on this instance is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The collective was disposed.</exception>
    public void Average(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        var set = new TensorList(tensors, shapes);
        BeginSynchronousCall();
        try
        {
            AverageCore(set);
        }
        finally
        {
            EndCall(asynchronous: false);
        }
    }

    /// <summary>
    /// Starts the fused average on this collective's dedicated thread and returns at once, so the caller can
    /// compute meanwhile. The tensors must not be touched, and the communicator not used, until the task completes.
    /// Calls run one at a time in the order they were made; make them from one thread, and make no synchronous call
    /// until they have completed (it is refused).
    /// </summary>
    /// <exception cref="InvalidOperationException">A synchronous call on this instance is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The collective was disposed.</exception>
    public Task AverageAsync(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        var set = new TensorList(tensors, shapes);
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
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

                    AverageCore(set);
                }
                catch (Exception error)
                {
                    failure = error;
                }
                finally
                {
                    EndCall(asynchronous: true);
                }

                // Completed only after the call counts as finished, so a continuation may call again at once.
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
    /// The watchdog's tick: a call running longer than <see cref="AtomoOptions.Timeout"/> ends the job, through the
    /// transport's abort where it has one (MPI_Abort; the in-process fabric's failure), else by ending this process.
    /// </summary>
    private void CheckProgress()
    {
        long started = Volatile.Read(ref _callStarted);
        if (started == 0 || Stopwatch.GetElapsedTime(started) < _options.Timeout || Interlocked.Exchange(ref _watchdogFired, 1) != 0)
        {
            return;
        }

        string reason = $"AtomoAllreduce watchdog on rank {_communicator.Rank} of {_communicator.Size}: the call at step {Volatile.Read(ref _callStep)} made no progress for {_options.Timeout} (AtomoOptions.Timeout); a rank has probably crashed, left early or stopped calling. Ending the job.";
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

    /// <summary>Whether the dedicated thread of <see cref="AverageAsync"/> is running (tests: none is left after <see cref="Dispose"/>).</summary>
    internal bool HasLiveWorker => _worker?.IsAlive == true;

    /// <summary>Refuses a synchronous call while any other call on this instance runs or is queued.</summary>
    private void BeginSynchronousCall()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running || _pendingAsync > 0)
            {
                throw ConcurrentCall();
            }

            _running = true;
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

    private static InvalidOperationException ConcurrentCall() => new(
        "Another call on this AtomoAllreduce is in progress (on another thread, or an AverageAsync that has not completed): calls on one instance must not overlap, because every rank must make the same calls in the same order. This call was refused; nothing was exchanged.");

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
            { IsBackground = true, Name = "AtomoAllreduce" };
            _worker.Start();
        }

        return _queue;
    }

    private void AverageCore<TSet>(TSet tensors)
        where TSet : ITensorSet, allows ref struct
    {
        int size = _communicator.Size;
        int rank = _communicator.Rank;
        int count = tensors.Count;
        long step = Step;
        Volatile.Write(ref _callStep, step);
        Volatile.Write(ref _callStarted, Stopwatch.GetTimestamp());
        try
        {
            AveragePhases(tensors, size, rank, count, step);
        }
        finally
        {
            Volatile.Write(ref _callStarted, 0);
        }
    }

    private void AveragePhases<TSet>(TSet tensors, int size, int rank, int count, long step)
        where TSet : ITensorSet, allows ref struct
    {
        var routes = new TensorRoute[count];
        var decompositions = new Decomposition[count];
        var lengths = new int[count];
        var atoms = new int[count];
        var clock = Stopwatch.StartNew();

        // Encode what the policy compresses. A local failure is reported through the header exchange,
        // so that every rank raises instead of waiting for this one.
        _payloads.ResetWrittenCount();
        Exception? localError = tensors.Error;
        long shapesHash = 17;  // HashCode is seeded per process; ranks are processes, so hash deterministically
        for (int t = 0; t < count && localError is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            try
            {
                shapesHash = Mix(shapesHash, HashShape(shape));
                routes[t] = RouteBeforeEncoding(shape, step);
                decompositions[t] = _codec.DecompositionFor(shape);
                Span<float> data = tensors.Get(t);
                if (data.Length != shape.ElementCount)
                {
                    localError = new ArgumentException($"Tensor {t} has {data.Length} elements but its shape {shape} has {shape.ElementCount}.", nameof(tensors));
                }
                else if (routes[t] == TensorRoute.Compressed)
                {
                    TestHooks.BeforeEncode?.Invoke(step, t);
                    lengths[t] = _codec.Encode(data, shape, SeedSequence.Derive(_options.Seed, rank, step, t), SketchFor(t), _payloads);
                    atoms[t] = _codec.LastAtomCount;
                }
                else if (FiniteValues.IndexOfNonFinite(data) is int bad and >= 0)
                {
                    // Dense routes are summed as they are: a NaN would reach every rank's result.
                    localError = new ArgumentException($"Tensor {t} {shape} holds {data[bad]} at index {bad} (route {routes[t]}): NaN and infinity cannot be averaged.", nameof(tensors));
                }
            }
            catch (ArgumentException error)
            {
                localError = new ArgumentException($"Tensor {t} {shape} cannot be compressed: {error.Message}", nameof(tensors), error);
            }
            catch (Exception error)
            {
                // Any other failure (a native library's, a bug's) is raised on every rank through the exchange too,
                // so that no rank pairs this call with the next one.
                localError = error;
            }
        }

        double encodeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // One small exchange checks that every rank makes the same call; a second carries the payload lengths.
        Span<long> header = [localError is null ? 0 : 1, count, shapesHash, _optionsHash, step];
        var headers = new long[HeaderLength * size];
        _communicator.Allgather<long>(header, headers);
        CheckAgreement(headers, size, localError);
        var allLengths = new int[count * size];
        _communicator.Allgather<int>(lengths, allLengths);

        // Dense where the payloads (averaged over ranks, so every rank decides alike) would not pay.
        long denseElements = 0, totalElements = 0;
        for (int t = 0; t < count; t++)
        {
            int elements = tensors.Shape(t).ElementCount;
            totalElements += elements;
            if (routes[t] == TensorRoute.Compressed && _options.DenseWhenCheaper)
            {
                double meanPayload = 0;
                for (int r = 0; r < size; r++)
                {
                    meanPayload += allLengths[(r * count) + t] / (double)size;
                }

                if ((size - 1) * meanPayload >= 2.0 * (size - 1) / size * 4.0 * elements)
                {
                    routes[t] = TensorRoute.DenseCheaper;
                }
            }

            if (routes[t] != TensorRoute.Compressed)
            {
                denseElements += elements;
            }
        }

        // The allgatherv carries, from each rank, the payloads of the still-compressed tensors in tensor order.
        var counts = new int[size];
        var sendOffsets = new int[count];
        for (int r = 0; r < size; r++)
        {
            for (int t = 0; t < count; t++)
            {
                if (routes[t] == TensorRoute.Compressed)
                {
                    counts[r] = checked(counts[r] + allLengths[(r * count) + t]);
                }
            }
        }

        byte[] send = ArrayPool<byte>.Shared.Rent(Math.Max(1, counts[rank]));
        try
        {
            ReadOnlySpan<byte> written = _payloads.WrittenSpan;
            int packed = 0, offset = 0;
            for (int t = 0; t < count; t++)
            {
                if (routes[t] == TensorRoute.Compressed)
                {
                    written.Slice(offset, lengths[t]).CopyTo(send.AsSpan(packed));
                    packed += lengths[t];
                }

                sendOffsets[t] = offset;
                offset += lengths[t];
            }

            long receivedTotal = counts.Sum(c => (long)c);
            if (_received.Length < receivedTotal)
            {
                _received = new byte[receivedTotal];
            }

            _communicator.Allgatherv(send.AsSpan(0, counts[rank]), counts, _received);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(send);
        }

        double exchangeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // Compressed tensors: every rank decodes every payload in rank order into scratch, so all end alike.
        // Nothing of the caller's is written until every payload has been validated and decoded. Scratch holds the
        // compressed tensors, then the dense ones, then one float for the decode's outcome (see below).
        long compressedElements = totalElements - denseElements;
        EnsureScratch(totalElements + 1);
        Span<float> compressedScratch = _scratch.AsSpan(0, (int)compressedElements);
        var rankOffsets = new long[size];
        for (int r = 1; r < size; r++)
        {
            rankOffsets[r] = rankOffsets[r - 1] + counts[r - 1];
        }

        int compressedOffset = 0;
        Exception? decodeError = null;
        try
        {
            TestHooks.BeforeDecode?.Invoke(step);
            for (int t = 0; t < count; t++)
            {
                if (routes[t] != TensorRoute.Compressed)
                {
                    continue;
                }

                // Summed in the coefficient domain (coordinate, Fourier) or stacked (spectral), so that the
                // reconstruction is one inverse transform or one GEMM over every rank's atoms.
                int elements = tensors.Shape(t).ElementCount;
                _codec.BeginAccumulate(elements);
                for (int r = 0; r < size; r++)
                {
                    int length = allLengths[(r * count) + t];
                    _codec.Accumulate(_received.AsSpan(checked((int)rankOffsets[r]), length), 1f);
                    rankOffsets[r] += length;
                }

                _codec.FinishAccumulate(compressedScratch.Slice(compressedOffset, elements), 1f / size, add: false);
                compressedOffset += elements;
            }
        }
        catch (Exception error)
        {
            decodeError = error;
        }

        double decodeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // Dense tensors: one allreduce over their concatenation, into scratch, with one more float: 1 from each rank
        // whose decode failed. So a rank that failed (a native library's error, a bug, memory) cannot leave the others
        // returning normally from the call, at no extra collective: every rank raises, nobody's tensors are written.
        Span<float> denseAndOutcome = _scratch.AsSpan((int)compressedElements, (int)denseElements + 1);
        Span<float> denseScratch = denseAndOutcome[..(int)denseElements];
        int denseOffset = 0;
        for (int t = 0; t < count; t++)
        {
            if (routes[t] != TensorRoute.Compressed)
            {
                Span<float> data = tensors.Get(t);
                data.CopyTo(denseScratch[denseOffset..]);
                denseOffset += data.Length;
            }
        }

        denseAndOutcome[^1] = decodeError is null ? 0f : 1f;
        _communicator.AllreduceSum(denseAndOutcome);
        TensorPrimitives.Multiply(denseScratch, 1f / size, denseScratch);
        exchangeSeconds += clock.Elapsed.TotalSeconds;
        clock.Restart();
        CheckDecodeOutcome(decodeError, denseAndOutcome[^1], step);

        // Commit.
        denseOffset = 0;
        compressedOffset = 0;
        var decisions = new TensorDecision[count];
        long atomsSent = 0, bytesSentPayload = counts[rank], bytesReceivedPayload = counts.Sum(c => (long)c) - counts[rank];
        for (int t = 0; t < count; t++)
        {
            Span<float> data = tensors.Get(t);
            bool compressed = routes[t] == TensorRoute.Compressed;
            if (compressed)
            {
                compressedScratch.Slice(compressedOffset, data.Length).CopyTo(data);
                compressedOffset += data.Length;
                atomsSent += atoms[t];
            }
            else
            {
                denseScratch.Slice(denseOffset, data.Length).CopyTo(data);
                denseOffset += data.Length;
            }

            decisions[t] = new TensorDecision(t, tensors.Shape(t), routes[t], decompositions[t], compressed ? lengths[t] : 0, compressed ? atoms[t] : 0);
        }

        decodeSeconds += clock.Elapsed.TotalSeconds;   // the commit: copying the results out
        long denseShare = size == 1 ? 0 : (long)(2.0 * (size - 1) / size * 4.0 * denseElements);
        var call = new AllreduceStatistics
        {
            Calls = 1,
            Tensors = count,
            CompressedTensors = routes.Count(r => r == TensorRoute.Compressed),
            BytesSent = bytesSentPayload + denseShare,
            BytesReceived = bytesReceivedPayload + denseShare,
            DenseEquivalentBytes = size == 1 ? 0 : (long)(2.0 * (size - 1) / size * 4.0 * totalElements),
            AtomsSent = atomsSent,
            EncodeSeconds = encodeSeconds,
            ExchangeSeconds = exchangeSeconds,
            DecodeSeconds = decodeSeconds,
            Decisions = decisions,
        };
        Record(call);
        Step = step + 1;
    }

    private TensorRoute RouteBeforeEncoding(TensorShape shape, long step)
    {
        if (step < _options.DenseWarmupSteps)
        {
            return TensorRoute.DenseWarmup;
        }

        if (shape.ElementCount < _options.MinimumCompressedElements)
        {
            return TensorRoute.DenseSmall;
        }

        return shape.Rank == 1 && !_options.CompressVectors ? TensorRoute.DenseVector : TensorRoute.Compressed;
    }

    private void CheckAgreement(long[] headers, int size, Exception? localError)
    {
        if (localError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(localError).Throw();
        }

        for (int r = 0; r < size; r++)
        {
            ReadOnlySpan<long> theirs = headers.AsSpan(r * HeaderLength, HeaderLength);
            ReadOnlySpan<long> mine = headers.AsSpan(_communicator.Rank * HeaderLength, HeaderLength);
            if (theirs[0] != 0)
            {
                throw new InvalidOperationException($"Rank {r} failed before the exchange at step {theirs[4]} (its arguments or its encode; see that rank's error); no rank averaged anything, and the next call starts in step.");
            }

            if (theirs[1] != mine[1])
            {
                throw new InvalidOperationException($"Rank {r} averages {theirs[1]} tensors but rank {_communicator.Rank} averages {mine[1]}: every rank must pass the same tensors.");
            }

            if (theirs[2] != mine[2])
            {
                throw new InvalidOperationException($"Rank {r} passed tensor shapes that differ from rank {_communicator.Rank}'s: every rank must pass the same shapes in the same order.");
            }

            if (theirs[3] != mine[3])
            {
                throw new InvalidOperationException($"Rank {r} uses different AtomoOptions from rank {_communicator.Rank}: every rank must use the same options.");
            }

            if (theirs[4] != mine[4])
            {
                throw new InvalidOperationException($"Rank {r} is at step {theirs[4]} but rank {_communicator.Rank} at step {mine[4]}: a rank skipped or repeated a call.");
            }
        }
    }

    /// <summary>Raises on every rank when any rank's decode failed: that rank its own error, the others one naming how many.</summary>
    private static void CheckDecodeOutcome(Exception? localError, float failedRanks, long step)
    {
        if (localError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(localError).Throw();
        }

        if (failedRanks != 0)
        {
            throw new InvalidOperationException($"{failedRanks:0} rank(s) failed to decode the payloads of step {step} (see their errors); no rank wrote its tensors, and the next call starts in step.");
        }
    }

    private void Record(AllreduceStatistics call)
    {
        LastCall = call;
        Statistics += call;
        AtomoMetrics.BytesSent.Add(call.BytesSent);
        AtomoMetrics.BytesReceived.Add(call.BytesReceived);
        AtomoMetrics.DenseEquivalentBytes.Add(call.DenseEquivalentBytes);
        AtomoMetrics.AtomsSent.Add(call.AtomsSent);
        AtomoMetrics.Tensors.Add(call.CompressedTensors, new KeyValuePair<string, object?>("route", "compressed"));
        AtomoMetrics.Tensors.Add(call.Tensors - call.CompressedTensors, new KeyValuePair<string, object?>("route", "dense"));
        AtomoMetrics.EncodeSeconds.Record(call.EncodeSeconds);
        AtomoMetrics.ExchangeSeconds.Record(call.ExchangeSeconds);
        AtomoMetrics.DecodeSeconds.Record(call.DecodeSeconds);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug(
                "Step {Step}: {Compressed}/{Tensors} tensors compressed, sent {Sent} B (dense {Dense} B, ratio {Ratio:F1}), encode {Encode:F4} s, exchange {Exchange:F4} s, decode {Decode:F4} s",
                Step, call.CompressedTensors, call.Tensors, call.BytesSent, call.DenseEquivalentBytes, call.CompressionRatio, call.EncodeSeconds, call.ExchangeSeconds, call.DecodeSeconds);
        }
    }

    private void EnsureScratch(long elements)
    {
        if (elements > Array.MaxLength)
        {
            throw new ArgumentException($"One call can average at most {Array.MaxLength} elements in total, not {elements}.");
        }

        if (_scratch.Length < elements)
        {
            _scratch = new float[elements];
        }
    }

    private static long Mix(long hash, long value) => (long)SeedSequence.Mix((ulong)hash ^ (ulong)value);

    private static long HashShape(TensorShape shape)
    {
        long hash = shape.Rank;
        foreach (int dimension in shape.Dimensions)
        {
            hash = Mix(hash, dimension);
        }

        return hash;
    }

    /// <summary>
    /// The warm start of the tensor at position <paramref name="tensor"/> of a call (fast spectral atoms only): kept
    /// across calls, ignored and replaced when that position's shape changes. Null when warm starts are off.
    /// </summary>
    private Decompositions.SpectralSketch? SketchFor(int tensor)
    {
        if (!_options.SpectralWarmStart || _options.SpectralMethod != SpectralMethod.Fast)
        {
            return null;
        }

        while (_sketches.Count <= tensor)
        {
            _sketches.Add(new Decompositions.SpectralSketch());
        }

        return _sketches[tensor];
    }

    private static long HashOptions(AtomoOptions options)
    {
        long hash = 0;
        foreach (long value in (ReadOnlySpan<long>)[
            (long)options.Decomposition, BitConverter.DoubleToInt64Bits(options.Budget), (long)options.Sampling, (long)options.Seed,
            (long)options.BudgetRule, options.BucketSize, (long)options.SpectralMethod, options.Oversampling, options.PowerIterations,
            (long)options.SpectralPrecision, options.SpectralMinimumDimension, options.DenseWarmupSteps, options.MinimumCompressedElements,
            options.CompressVectors ? 1 : 0, options.DenseWhenCheaper ? 1 : 0, options.SpectralWarmStart ? 1 : 0])
        {
            hash = Mix(hash, value);
        }

        return hash;
    }

    private interface ITensorSet
    {
        /// <summary>What is wrong with the arguments themselves (null lists, counts that differ), raised through the exchange.</summary>
        ArgumentException? Error { get; }

        int Count { get; }

        Span<float> Get(int index);

        TensorShape Shape(int index);
    }

    private readonly ref struct OneTensor(Span<float> data, TensorShape shape) : ITensorSet
    {
        private readonly Span<float> _data = data;

        public ArgumentException? Error => null;

        public int Count => 1;

        public Span<float> Get(int index) => _data;

        public TensorShape Shape(int index) => shape;
    }

    private readonly struct TensorList : ITensorSet
    {
        private readonly Memory<float>[] _tensors;
        private readonly TensorShape[] _shapes;

        /// <summary>Takes the lists as given; a null list or a count mismatch becomes <see cref="Error"/>, so every rank learns of it.</summary>
        public TensorList(IReadOnlyList<Memory<float>>? tensors, IReadOnlyList<TensorShape>? shapes)
        {
            _tensors = tensors is null ? [] : [.. tensors];
            _shapes = shapes is null ? [] : [.. shapes];
            Error = tensors is null ? new ArgumentNullException(nameof(tensors))
                : shapes is null ? new ArgumentNullException(nameof(shapes))
                : tensors.Count != shapes.Count ? new ArgumentException($"{tensors.Count} tensors but {shapes.Count} shapes.", nameof(shapes))
                : null;
        }

        public ArgumentException? Error { get; }

        public int Count => Error is null ? _tensors.Length : 0;

        public Span<float> Get(int index) => _tensors[index].Span;

        public TensorShape Shape(int index) => _shapes[index];
    }
}
