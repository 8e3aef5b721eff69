using System.Buffers;
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
public sealed class AtomoAllreduce : IGradientAverager
{
    private readonly ICommunicator _communicator;
    private readonly AtomoOptions _options;
    private readonly AtomoCodec _codec;
    private readonly ILogger _logger;
    private readonly long _optionsHash;
    private readonly long _agreementHash;
    private readonly CallRunner _calls;
    private readonly ArrayBufferWriter<byte> _payloads = new();
    private readonly List<Decompositions.SpectralSketch> _sketches = [];
    private byte[] _received = [];
    private float[] _scratch = [];

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

        // Ranks must also decode Fourier atoms with the same kernel (FFTW build or managed), or their bits would differ.
        _agreementHash = _options.Decomposition == Decomposition.Fourier
            ? CallAgreement.HashValues([_optionsHash, CallAgreement.HashString(FourierTransformProvider.DecodeKernel)])
            : _optionsHash;
        _calls = new CallRunner(this, communicator, _options.Timeout, "AtomoOptions.Timeout", _logger);

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
        _calls.BeginSynchronous();
        try
        {
            AverageCore(new OneTensor(data, shape));
        }
        finally
        {
            _calls.EndSynchronous();
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
        _calls.BeginSynchronous();
        try
        {
            AverageCore(set);
        }
        finally
        {
            _calls.EndSynchronous();
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
        return _calls.Enqueue(() => AverageCore(set));
    }

    /// <summary>Finishes queued asynchronous calls and stops the dedicated thread; later calls get <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _calls.Dispose();

    /// <inheritdoc />
    /// <remarks>The state is the step and, with <see cref="AtomoOptions.SpectralWarmStart"/>, each tensor position's warm-start basis.</remarks>
    public void SaveState(Stream stream) => AveragerState.Save(_calls, stream, StateHeader, writer =>
    {
        writer.Write(_sketches.Count);
        foreach (Decompositions.SpectralSketch sketch in _sketches)
        {
            sketch.Save(writer);
        }
    });

    /// <inheritdoc />
    public void LoadState(Stream stream) => AveragerState.Load(
        _calls,
        stream,
        StateHeader,
        reader => Enumerable.Range(0, AveragerState.ReadCount(reader, AveragerState.MaxTensors, "warm-start bases")).Select(_ => Decompositions.SpectralSketch.Load(reader)).ToList(),
        (step, sketches) =>
        {
            Step = step;
            _sketches.Clear();
            _sketches.AddRange(sketches);
        });

    private AveragerState.Header StateHeader() => new(nameof(AtomoAllreduce), _optionsHash, _communicator.Rank, _communicator.Size, Step);

    /// <summary>Whether the dedicated thread of <see cref="AverageAsync"/> is running (tests: none is left after <see cref="Dispose"/>).</summary>
    internal bool HasLiveWorker => _calls.HasLiveWorker;

    private void AverageCore<TSet>(TSet tensors)
        where TSet : ITensorSet, allows ref struct
    {
        int size = _communicator.Size;
        int rank = _communicator.Rank;
        int count = tensors.Count;
        long step = Step;
        _calls.StartWatch(step);
        try
        {
            AveragePhases(tensors, size, rank, count, step);
        }
        finally
        {
            _calls.StopWatch();
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
        long shapesHash = CallAgreement.ShapesHashSeed;
        for (int t = 0; t < count && localError is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            try
            {
                shapesHash = CallAgreement.Mix(shapesHash, CallAgreement.HashShape(shape));
                routes[t] = RouteBeforeEncoding(shape, step);
                decompositions[t] = _codec.DecompositionFor(shape);
                Span<float> data = tensors.Get(t);
                if (data.Length != shape.ElementCount)
                {
                    localError = CallAgreement.LengthMismatch(t, data.Length, shape);
                }
                else if (routes[t] == TensorRoute.Compressed)
                {
                    TestHooks.BeforeEncode?.Invoke(step, t);
                    lengths[t] = _codec.Encode(data, shape, SeedSequence.Derive(_options.Seed, rank, step, t), SketchFor(t), _payloads);
                    atoms[t] = _codec.LastAtomCount;
                }
                else
                {
                    // Dense routes are summed as they are: a NaN would reach every rank's result.
                    localError = CallAgreement.NonFinite(t, shape, data, routes[t]);
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
        CallAgreement.Exchange(_communicator, localError, count, shapesHash, _agreementHash, step, $"{nameof(AtomoOptions)} or Fourier decode kernel ({nameof(FourierTransformProvider)}.{nameof(FourierTransformProvider.DecodeKernel)}: the same FFTW build, or {FourierTransformProvider.ProviderVariable}=managed, on every rank)");
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

                if ((size - 1) * meanPayload >= AllreduceStatistics.RingAllreduceBytes(elements, size))
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
        CallAgreement.CheckOutcome(decodeError, denseAndOutcome[^1], step, "decode the payloads");

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
        long denseShare = (long)AllreduceStatistics.RingAllreduceBytes(denseElements, size);
        var call = new AllreduceStatistics
        {
            Calls = 1,
            Tensors = count,
            CompressedTensors = routes.Count(r => r == TensorRoute.Compressed),
            BytesSent = bytesSentPayload + denseShare,
            BytesReceived = bytesReceivedPayload + denseShare,
            DenseEquivalentBytes = (long)AllreduceStatistics.RingAllreduceBytes(totalElements, size),
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

    private void Record(AllreduceStatistics call)
    {
        LastCall = call;
        Statistics += call;
        AtomoMetrics.Record(call, _logger, Step);
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
        return CallAgreement.HashValues([
            (long)options.Decomposition, BitConverter.DoubleToInt64Bits(options.Budget), (long)options.Sampling, (long)options.Seed,
            (long)options.BudgetRule, options.BucketSize, (long)options.SpectralMethod, options.Oversampling, options.PowerIterations,
            (long)options.SpectralPrecision, options.SpectralMinimumDimension, options.DenseWarmupSteps, options.MinimumCompressedElements,
            options.CompressVectors ? 1 : 0, options.DenseWhenCheaper ? 1 : 0, options.SpectralWarmStart ? 1 : 0]);
    }

    private readonly ref struct OneTensor(Span<float> data, TensorShape shape) : ITensorSet
    {
        private readonly Span<float> _data = data;

        public ArgumentException? Error => null;

        public int Count => 1;

        public Span<float> Get(int index) => _data;

        public TensorShape Shape(int index) => shape;
    }
}
