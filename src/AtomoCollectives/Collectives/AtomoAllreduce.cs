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
/// take a dense allreduce instead, and every decision shows in <see cref="LastCall"/>. Over several nodes
/// (<see cref="AtomoOptions.NodeAware"/>) it sums within each node and compresses only what goes between nodes.
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
    private readonly string _agreementName;
    private readonly ArrayBufferWriter<byte> _payloads = new();
    private readonly List<Decompositions.SpectralSketch> _sketches = [];
    private TimeRouting? _timeRouting;
    private byte[] _received = [];
    private float[] _scratch = [];
    private NodeAwareExchange? _nodeExchange;
    private ExchangeChoices? _exchangeChoices;
    private bool _nodeExchangeResolved;

    /// <summary>A collective over <paramref name="communicator"/> with <paramref name="options"/> (copied).</summary>
    public AtomoAllreduce(ICommunicator communicator, AtomoOptions options, ILogger<AtomoAllreduce>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(options);
        _communicator = communicator;
        _options = options.Clone();
        _codec = new AtomoCodec(_options);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _optionsHash = OptionsHash.Of(_options);

        // Ranks must also decode Fourier atoms with the same kernel (ours on blocks; FFTW build or managed on whole
        // tensors), or their bits would differ.
        _agreementHash = _options.Decomposition == Decomposition.Fourier
            ? CallAgreement.Mix(_optionsHash, CallAgreement.HashString(_options.FourierBlockLength == 0 ? FourierTransformProvider.DecodeKernel : Decompositions.BlockCosineTransform.DecodeKernel))
            : _optionsHash;
        _agreementName = $"{nameof(AtomoOptions)} or Fourier decode kernel ({nameof(FourierTransformProvider)}.{nameof(FourierTransformProvider.DecodeKernel)}: the same FFTW build, or {FourierTransformProvider.ProviderVariable}=managed, on every rank)";
        _calls = new CallRunner(this, communicator, _options.Timeout, "AtomoOptions.Timeout", _logger);
        _timeRouting = UsesTimeRouting ? new TimeRouting(communicator.Size) : null;

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
    /// <exception cref="ArgumentException">A list is null, the lists differ in length, two tensors overlap in one array, a tensor's length is not its shape's element count, or a tensor holds NaN or infinity (raised on this rank; every other rank raises <see cref="InvalidOperationException"/>).</exception>
    /// <exception cref="InvalidOperationException">Another rank called with different shapes or options, or failed before the exchange; or another call on this instance is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The collective was disposed.</exception>
    public void Average(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        var set = new TensorList(tensors, shapes);
        _calls.RunSynchronous(() => AverageCore(set));
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
    public void Dispose()
    {
        _calls.Dispose();
        _nodeExchange?.Dispose();
    }

    /// <inheritdoc />
    /// <remarks>
    /// The state is the step, with <see cref="AtomoOptions.SpectralWarmStart"/> each tensor position's warm-start basis,
    /// and with <see cref="RoutingRule.Time"/> the agreed time-routing model, so that a resumed run routes on from it.
    /// </remarks>
    public void SaveState(Stream stream) => AveragerState.Save(_calls, stream, StateHeader, writer =>
    {
        writer.Write(_sketches.Count);
        foreach (Decompositions.SpectralSketch sketch in _sketches)
        {
            sketch.Save(writer);
        }

        _timeRouting?.Save(writer);
        _exchangeChoices?.Save(writer);   // last and optional: states saved before it existed still load
    });

    /// <inheritdoc />
    public void LoadState(Stream stream) => AveragerState.Load(
        _calls,
        stream,
        StateHeader,
        reader =>
        {
            List<Decompositions.SpectralSketch> sketches = [.. Enumerable.Range(0, AveragerState.ReadCount(reader, AveragerState.MaxTensors, "warm-start bases")).Select(_ => Decompositions.SpectralSketch.Load(reader))];
            TimeRouting? routing = _timeRouting is null ? null : TimeRouting.Load(reader, _communicator.Size);
            ExchangeChoices? choice = reader.BaseStream.Position < reader.BaseStream.Length ? ExchangeChoices.Load(reader, _options.DenseWarmupSteps) : null;
            return (Sketches: sketches, Routing: routing, Choice: choice);
        },
        (step, state) =>
        {
            Step = step;
            _sketches.Clear();
            _sketches.AddRange(state.Sketches);
            _timeRouting = state.Routing;

            // Before the first call, a saved choice waits for the exchange to be resolved; without one, the schedule starts again.
            _exchangeChoices = !_nodeExchangeResolved ? state.Choice
                : _exchangeChoices is null ? null
                : state.Choice is { } saved && saved.HasNodeAware == _exchangeChoices.HasNodeAware ? saved
                : new ExchangeChoices(_options.DenseWarmupSteps, _exchangeChoices.HasNodeAware);
        });

    private AveragerState.Header StateHeader() => new(nameof(AtomoAllreduce), _optionsHash, _communicator.Rank, _communicator.Size, Step);

    /// <summary><see cref="RoutingRule.Time"/> applies: the dense route is allowed, and there is more than one rank to exchange with.</summary>
    private bool UsesTimeRouting => _options.DenseWhenCheaper && _options.Routing == RoutingRule.Time && _communicator.Size > 1;

    /// <summary>Whether the dedicated thread of <see cref="AverageAsync"/> is running (tests: none is left after <see cref="Dispose"/>).</summary>
    internal bool HasLiveWorker => _calls.HasLiveWorker;

    /// <summary>Whether calls may take the node-aware exchange (known from the first call on; tests).</summary>
    internal bool IsNodeAware => _nodeExchange is not null;

    /// <summary>Whether the node-aware calls sum within the node through its shared memory (tests).</summary>
    internal bool SharesNodeMemory => _nodeExchange?.SharesMemory == true;

    /// <summary>The way the calls go between trials of the others (tests; null: no choice by time).</summary>
    internal Exchange? ChosenExchange => _exchangeChoices?.Last?.Winner;

    /// <summary>The choice of exchange in words, for the bench: the way kept and each way's median call at the last decision, or what the watch handed over.</summary>
    internal string? DescribeExchangeChoice() => _exchangeChoices?.Last is { } choice ? $"exchange {choice.Winner} ({ExchangeChoiceInWords(choice)})" : null;

    /// <summary>
    /// What <paramref name="choice"/> last decided, for the log and the bench: each way's median call at the decision
    /// (the ways it compared), or what the watch handed over; and in how many calls each other way is tried next.
    /// </summary>
    private static string ExchangeChoiceInWords(ExchangeChoice choice)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        if (choice.LastComparison is not { } means)
        {
            return "not decided yet";
        }

        string decided = choice.HandedOverFrom is { } from
            ? string.Create(culture, $"handed over from {from}: its median call {means[(int)from] * 1e3:F1} ms, {(from.IsDense() ? $"{choice.Winner}'s median" : "the dense route's fastest")} at the decision {means[(int)choice.Winner] * 1e3:F1} ms")
            : "median call ms at the last decision: " + string.Join(", ", Enum.GetValues<Exchange>().Where(w => !double.IsNaN(means[(int)w])).Select(w => string.Create(culture, $"{w} {means[(int)w] * 1e3:F1}")));
        var next = Enum.GetValues<Exchange>().Select(w => (Way: w, Calls: choice.CallsUntilTrial(w))).Where(n => n.Calls is not null).Select(n => string.Create(culture, $"{n.Way} in {n.Calls} calls"));
        return $"{decided}; tried next: {string.Join(", ", next)}";
    }

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
            long start = Stopwatch.GetTimestamp();
            NodeAwareExchange? node = NodeExchange(tensors, step);
            long shapesHash = CallAgreement.ShapesHash(tensors);   // the call's kind: the header's check and the choice of exchange
            Exchange unchosen = node is null ? Exchange.Flat : Exchange.NodeAware;
            Exchange way = _exchangeChoices?.At(shapesHash, step, unchosen) ?? unchosen;
            if (way == Exchange.NodeAware)
            {
                Record(node!.Average(tensors, step, shapesHash, SketchFor, PolicyRouteOrCompressed));
                Step = step + 1;
            }
            else if (way == Exchange.DenseNode)
            {
                Record(node!.AverageDense(tensors, step, shapesHash, PolicyRouteOrDenseFaster));
                Step = step + 1;
            }
            else
            {
                AveragePhases(tensors, size, rank, count, step, shapesHash, allDense: way == Exchange.Dense);
            }

            ChoiceCompleted(shapesHash, step, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        finally
        {
            _calls.StopWatch();
        }
    }

    /// <summary>
    /// One call, as its phases: encode, agree, route, gather, decode, reduce the dense tensors, commit. Nothing of the
    /// caller's is written before the commit, and every failure before it is raised on every rank.
    /// </summary>
    private void AveragePhases<TSet>(TSet tensors, int size, int rank, int count, long step, long shapesHash, bool allDense)
        where TSet : ITensorSet, allows ref struct
    {
        var call = new CallPlan(count, size, rank, step) { AllDense = allDense, Routing = allDense ? null : _timeRouting };
        var clock = Stopwatch.StartNew();
        Exception? localError = Encode(tensors, call);
        double encodeSeconds = Lap(clock);

        Agree(call, localError, shapesHash);
        RouteDenseWhereCheaper(tensors, call);
        Gather(call);
        double exchangeSeconds = Lap(clock);

        Exception? decodeError = Decode(tensors, call);
        double decodeSeconds = Lap(clock);

        ReduceDense(tensors, call, decodeError);
        exchangeSeconds += Lap(clock);

        TensorDecision[] decisions = Commit(tensors, call);
        decodeSeconds += Lap(clock);   // the commit: copying the results out
        Record(CallStatistics(call, decisions, encodeSeconds, exchangeSeconds, decodeSeconds) with { Link = call.Link });
        Step = step + 1;
    }

    /// <summary>
    /// The node-aware exchange (docs/node-aware.md), chosen at the first call that succeeds in choosing; null: flat. Under
    /// <see cref="RoutingRule.Time"/> (and not <see cref="NodeAwareMode.On"/>), calls then choose between it, the flat
    /// exchange and the dense route by time (<see cref="ExchangeChoice"/>).
    /// </summary>
    private NodeAwareExchange? NodeExchange<TSet>(TSet tensors, long step)
        where TSet : ITensorSet, allows ref struct
    {
        if (!_nodeExchangeResolved)
        {
            _nodeExchange = NodeAwareExchange.Resolve(tensors, step, _communicator, _options, _codec, _agreementHash, _agreementName, _logger);
            // Tests that inject the time rule's timings test the rule alone: the whole calls' times would mean nothing.
            bool chooses = UsesTimeRouting && _options.NodeAware != NodeAwareMode.On && TestHooks.Timings is null;
            bool nodeAware = _nodeExchange is not null;
            _exchangeChoices = !chooses ? null
                : _exchangeChoices is { } loaded && loaded.HasNodeAware == nodeAware ? loaded   // a loaded state goes on
                : new ExchangeChoices(_options.DenseWarmupSteps, nodeAware);
            _nodeExchangeResolved = true;
            if (_nodeExchange is not null)
            {
                _logger.LogInformation("AtomoAllreduce: node-aware exchange over {Topology}", _nodeExchange.Description);
            }
        }

        return _nodeExchange;
    }

    /// <summary>Tells the choice of exchange that the call at <paramref name="step"/> succeeded, and logs its decisions.</summary>
    private void ChoiceCompleted(long shapesHash, long step, double seconds)
    {
        if (_exchangeChoices is not { } choices)
        {
            return;
        }

        if (!choices.Completed(_communicator, shapesHash, step, seconds) || choices.Last is not { } choice)
        {
            return;
        }

        _logger.LogInformation("AtomoAllreduce step {Step}: {Way} {Until} ({Choice})",
            step, choice.Winner, choice.HandedOverFrom is null ? "from now on" : "until the next trials", ExchangeChoiceInWords(choice));
    }

    /// <summary>
    /// Encodes what the policy compresses into <c>_payloads</c>. A local failure is returned, not thrown: it travels in the
    /// header exchange, so that every rank raises instead of waiting for this one.
    /// </summary>
    private Exception? Encode<TSet>(TSet tensors, CallPlan call)
        where TSet : ITensorSet, allows ref struct
    {
        _payloads.ResetWrittenCount();
        call.Routing?.BeginCall(call.Count);
        call.Link = call.Routing?.Link;
        Exception? localError = tensors.Error;
        for (int t = 0; t < call.Count && localError is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            try
            {
                call.Routes[t] = RouteBeforeEncoding(t, shape, call);
                call.Decompositions[t] = _codec.DecompositionFor(shape);
                Span<float> data = tensors.Get(t);
                if (data.Length != shape.ElementCount)
                {
                    localError = CallAgreement.LengthMismatch(t, data.Length, shape);
                }
                else if (call.Routes[t] == TensorRoute.Compressed)
                {
                    TestHooks.BeforeEncode?.Invoke(call.Step, t);
                    long start = Stopwatch.GetTimestamp();
                    call.Lengths[t] = _codec.Encode(data, shape, RandomStreams.Encoder(_options.Seed, call.Rank, call.Step, t), SketchFor(t), _payloads);
                    call.Timings.Encode[t] = CallTimings.Since(start);
                    call.Atoms[t] = _codec.LastAtomCount;
                }
                else
                {
                    // Dense routes are summed as they are: a NaN would reach every rank's result. Checked before the
                    // header, so that the check travels in it; an all-dense call then sums where the tensors lie.
                    long start = Stopwatch.GetTimestamp();
                    localError = CallAgreement.NonFinite(t, shape, data, call.Routes[t]);
                    call.Timings.DenseLocal += CallTimings.Since(start);
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

        return localError;
    }

    /// <summary>
    /// One small exchange checks that every rank makes the same call (or raises everywhere); a second carries the payload
    /// lengths and, with <see cref="RoutingRule.Time"/>, the previous call's timings, which plan the next call's routes.
    /// Where every tensor went dense before encoding, on every rank alike (the routes are agreed), and no timings travel,
    /// every length is 0 and the second is skipped: an all-dense call then adds only the header to the dense allreduce.
    /// </summary>
    private void Agree(CallPlan call, Exception? localError, long shapesHash)
    {
        CallAgreement.Exchange(_communicator, localError, call.Count, shapesHash, _agreementHash, call.Step, _agreementName);
        if (call.Routing is not null)
        {
            call.Routing.ExchangeLengths(_communicator, call.Lengths, call.AllLengths, call.Step, call.Timings);   // with the last call's timings
            return;
        }

        if (!call.AnyCompressed)
        {
            return;
        }

        long start = Stopwatch.GetTimestamp();
        _communicator.Allgather<int>(call.Lengths, call.AllLengths);
        call.Timings.Lengths = CallTimings.Since(start);
    }

    /// <summary>Dense where the payloads (averaged over ranks, so every rank decides alike) would not pay; sizes the two groups.</summary>
    private void RouteDenseWhereCheaper<TSet>(TSet tensors, CallPlan call)
        where TSet : ITensorSet, allows ref struct
    {
        for (int t = 0; t < call.Count; t++)
        {
            int elements = tensors.Shape(t).ElementCount;
            call.TotalElements += elements;
            if (call.Routes[t] == TensorRoute.Compressed && _options.DenseWhenCheaper)
            {
                double meanPayload = 0;
                for (int r = 0; r < call.Size; r++)
                {
                    meanPayload += call.LengthOf(r, t) / (double)call.Size;
                }

                if ((call.Size - 1) * meanPayload >= AllreduceStatistics.RingAllreduceBytes(elements, call.Size))
                {
                    call.Routes[t] = TensorRoute.DenseCheaper;
                }
            }

            if (call.Routes[t] != TensorRoute.Compressed)
            {
                call.DenseElements += elements;
            }
        }
    }

    /// <summary>
    /// The allgatherv: from each rank, the payloads of the still-compressed tensors in tensor order, into <c>_received</c>.
    /// Skipped where nothing is compressed, unless the time rule wants the (empty) gather's time for its link model.
    /// </summary>
    private void Gather(CallPlan call)
    {
        if (call.Routing is null && !call.AnyCompressed)
        {
            return;
        }

        for (int r = 0; r < call.Size; r++)
        {
            for (int t = 0; t < call.Count; t++)
            {
                if (call.Routes[t] == TensorRoute.Compressed)
                {
                    call.Counts[r] = checked(call.Counts[r] + call.LengthOf(r, t));
                }
            }
        }

        long start = Stopwatch.GetTimestamp();
        _ = PayloadExchange.Allgather(_communicator, _payloads.WrittenSpan, call.Lengths, call.Routes, call.Counts, ref _received);
        call.Timings.Gather = CallTimings.Since(start);
    }

    /// <summary>
    /// Every rank decodes every payload in rank order into scratch, so all end alike. Scratch holds the compressed
    /// tensors, then the dense ones, then one float for the decode's outcome (<see cref="ReduceDense"/>). A failure is
    /// returned, to be raised on every rank after the dense allreduce.
    /// </summary>
    private Exception? Decode<TSet>(TSet tensors, CallPlan call)
        where TSet : ITensorSet, allows ref struct
    {
        // Every tensor and the outcome float, sized once here: the ways the choice of exchange tries in turn do not
        // reallocate (a first call that did took 880 ms instead of about 95, ResNet-18 on 4 ranks).
        EnsureScratch(call.TotalElements + 1);
        if (call.CompressedElements == 0)
        {
            return null;   // nothing to decode, so nothing can fail here
        }

        Span<float> compressedScratch = _scratch.AsSpan(0, (int)call.CompressedElements);
        long[] rankOffsets = PayloadExchange.Starts(call.Counts);

        int compressedOffset = 0;
        try
        {
            TestHooks.BeforeDecode?.Invoke(call.Step);
            for (int t = 0; t < call.Count; t++)
            {
                if (call.Routes[t] != TensorRoute.Compressed)
                {
                    continue;
                }

                int elements = tensors.Shape(t).ElementCount;
                long start = Stopwatch.GetTimestamp();
                _codec.DecodeSum(_received, rankOffsets, call.AllLengths.AsSpan(t), call.Count, compressedScratch.Slice(compressedOffset, elements), 1f / call.Size);
                call.Timings.Decode[t] = CallTimings.Since(start);
                compressedOffset += elements;
            }
        }
        catch (Exception error)
        {
            return error;
        }

        return null;
    }

    /// <summary>
    /// Dense tensors: one allreduce over their concatenation, into scratch, with one more float: 1 from each rank whose
    /// decode failed. So a rank that failed (a native library's error, a bug, memory) cannot leave the others returning
    /// normally from the call, at no extra collective: every rank raises here, nobody's tensors are written. The sums
    /// are divided by N as the commit copies them out (one pass over them fewer). An all-dense call has nothing to
    /// decode, and sums its tensors where they lie (<see cref="SumInPlace"/>).
    /// </summary>
    private void ReduceDense<TSet>(TSet tensors, CallPlan call, Exception? decodeError)
        where TSet : ITensorSet, allows ref struct
    {
        if (call.AllDense)
        {
            Debug.Assert(call.CompressedElements == 0 && decodeError is null, "an all-dense call decodes nothing");
            SumInPlace(tensors, call);
            return;
        }

        long start = Stopwatch.GetTimestamp();

        Span<float> denseAndOutcome = _scratch.AsSpan((int)call.CompressedElements, (int)call.DenseElements + 1);
        Span<float> denseScratch = denseAndOutcome[..(int)call.DenseElements];
        int denseOffset = 0;
        for (int t = 0; t < call.Count; t++)
        {
            if (call.Routes[t] != TensorRoute.Compressed)
            {
                Span<float> data = tensors.Get(t);
                data.CopyTo(denseScratch[denseOffset..]);
                denseOffset += data.Length;
            }
        }

        denseAndOutcome[^1] = decodeError is null ? 0f : 1f;
        long reduce = Stopwatch.GetTimestamp();
        Pieces.AllreduceSum(_communicator, denseAndOutcome);
        call.Timings.Dense = CallTimings.Since(reduce);
        call.Timings.DenseLocal += CallTimings.Since(start) - call.Timings.Dense;
        CallAgreement.CheckOutcome(decodeError, denseAndOutcome[^1], call.Step, "decode the payloads");
    }

    /// <summary>
    /// An all-dense call's mean, where the tensors lie, as <c>MPI_Allreduce</c> per tensor would: every rank checked its
    /// tensors for NaN and infinity before the header, so all are known finite. A tensor of at least a quarter of an
    /// allreduce piece is summed in place, piece by piece, each piece divided by N at once while it is still in cache.
    /// The smaller tensors, wherever they lie in the list, are packed into pieces of scratch, summed there and copied
    /// back divided by N: one collective for many of them (ResNet-18's 62 tensors take 17 collectives). So the dense way
    /// costs no staging copy of the model and no commit pass over it. The price: a transport failure during the sum (a
    /// rank or link lost) can leave tensors partly summed (docs/reliability.md).
    /// </summary>
    private void SumInPlace<TSet>(TSet tensors, CallPlan call)
        where TSet : ITensorSet, allows ref struct
    {
        long start = Stopwatch.GetTimestamp();
        int piece = Pieces.AllreducePiece(call.Size);
        int packBelow = piece / 4;
        float mean = 1f / call.Size;
        for (int t = 0; t < call.Count; t++)
        {
            if (tensors.Get(t).Length >= packBelow)
            {
                Pieces.AllreduceSum(_communicator, tensors.Get(t), mean);
            }
        }

        int from = 0, packed = 0;
        for (int t = 0; t < call.Count; t++)
        {
            int length = tensors.Get(t).Length;
            if (length >= packBelow)
            {
                continue;
            }

            if (packed + length > piece)
            {
                SumPacked(tensors, from, t, packed, packBelow, mean);
                (from, packed) = (t, 0);
            }

            tensors.Get(t).CopyTo(_scratch.AsSpan(packed, length));
            packed += length;
        }

        SumPacked(tensors, from, call.Count, packed, packBelow, mean);
        call.Timings.Dense = CallTimings.Since(start);
    }

    /// <summary>Sums the first <paramref name="packed"/> floats of scratch, the tensors below <paramref name="packBelow"/> floats from <paramref name="from"/> up to <paramref name="to"/> one after another, and copies them back times <paramref name="mean"/>.</summary>
    private void SumPacked<TSet>(TSet tensors, int from, int to, int packed, int packBelow, float mean)
        where TSet : ITensorSet, allows ref struct
    {
        if (packed == 0)
        {
            return;
        }

        Span<float> sums = _scratch.AsSpan(0, packed);
        _communicator.AllreduceSum(sums);
        for (int t = from, offset = 0; t < to; t++)
        {
            Span<float> data = tensors.Get(t);
            if (data.Length < packBelow)
            {
                TensorPrimitives.Multiply(sums.Slice(offset, data.Length), mean, data);
                offset += data.Length;
            }
        }
    }

    /// <summary>
    /// Copies the results from scratch into the caller's tensors (the dense sums divided by N; an all-dense call's means
    /// are there already) and says what each tensor took (and keeps this rank's timings for the next call's plan).
    /// </summary>
    private TensorDecision[] Commit<TSet>(TSet tensors, CallPlan call)
        where TSet : ITensorSet, allows ref struct
    {
        ReadOnlySpan<float> compressedScratch = _scratch.AsSpan(0, (int)call.CompressedElements);
        ReadOnlySpan<float> denseScratch = _scratch.AsSpan((int)call.CompressedElements, (int)call.DenseElements);
        int denseOffset = 0, compressedOffset = 0;
        var decisions = new TensorDecision[call.Count];
        for (int t = 0; t < call.Count; t++)
        {
            Span<float> data = tensors.Get(t);
            bool compressed = call.Routes[t] == TensorRoute.Compressed;
            if (compressed)
            {
                compressedScratch.Slice(compressedOffset, data.Length).CopyTo(data);
                compressedOffset += data.Length;
            }
            else if (!call.AllDense)
            {
                TensorPrimitives.Multiply(denseScratch.Slice(denseOffset, data.Length), 1f / call.Size, data);   // the sums' mean
                denseOffset += data.Length;
            }

            decisions[t] = new TensorDecision(t, tensors.Shape(t), call.Routes[t], call.Decompositions[t], compressed ? call.Lengths[t] : 0, compressed ? call.Atoms[t] : 0)
            {
                Prediction = call.Predictions[t],
            };
        }

        call.Routing?.Complete(decisions, call.Timings, call.AllLengths, call.Counts.Sum(c => (long)c), call.DenseElements, call.Step);
        return decisions;
    }

    /// <summary>This call's traffic (the payloads as moved, the dense tensors as a ring allreduce) and times.</summary>
    private static AllreduceStatistics CallStatistics(CallPlan call, TensorDecision[] decisions, double encodeSeconds, double exchangeSeconds, double decodeSeconds)
    {
        long denseShare = (long)AllreduceStatistics.RingAllreduceBytes(call.DenseElements, call.Size);
        long sent = call.Counts[call.Rank], received = call.Counts.Sum(c => (long)c) - sent;
        return new AllreduceStatistics
        {
            Calls = 1,
            Tensors = call.Count,
            CompressedTensors = decisions.Count(d => d.Route == TensorRoute.Compressed),
            BytesSent = sent + denseShare,
            BytesReceived = received + denseShare,
            DenseEquivalentBytes = (long)AllreduceStatistics.RingAllreduceBytes(call.TotalElements, call.Size),
            AtomsSent = decisions.Sum(d => (long)d.Atoms),
            EncodeSeconds = encodeSeconds,
            ExchangeSeconds = exchangeSeconds,
            DecodeSeconds = decodeSeconds,
            Decisions = decisions,
        };
    }

    /// <summary>Seconds since the last lap, and restarts the clock (the node-aware call's phases too).</summary>
    internal static double Lap(Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return seconds;
    }

    /// <summary>The policy's dense routes, then (<see cref="RoutingRule.Time"/>) the planned one; the byte rule comes after encoding.</summary>
    private TensorRoute RouteBeforeEncoding(int tensor, TensorShape shape, CallPlan call) =>
        PolicyRoute(shape, call.Step) ?? (call.AllDense ? TensorRoute.DenseFaster : (TensorRoute?)null)
        ?? call.Routing?.Route(tensor, shape, call.Step, out call.Predictions[tensor]) ?? TensorRoute.Compressed;

    /// <summary>
    /// The policy's dense routes alone, for the node-aware exchange: it routes between nodes by bytes (its payloads are
    /// node sums, which the time model of the flat exchange does not describe).
    /// </summary>
    private TensorRoute PolicyRouteOrCompressed(TensorShape shape, long step) => PolicyRoute(shape, step) ?? TensorRoute.Compressed;

    /// <summary>A tensor's route in an all-dense call: the policy's dense route, else <see cref="TensorRoute.DenseFaster"/>.</summary>
    private TensorRoute PolicyRouteOrDenseFaster(TensorShape shape, long step) => PolicyRoute(shape, step) ?? TensorRoute.DenseFaster;

    /// <summary>The dense route the policy gives a tensor whatever the link (warm-up, small, vector); null: none.</summary>
    private TensorRoute? PolicyRoute(TensorShape shape, long step)
    {
        if (step < _options.DenseWarmupSteps)
        {
            return TensorRoute.DenseWarmup;
        }

        if (shape.ElementCount < _options.MinimumCompressedElements)
        {
            return TensorRoute.DenseSmall;
        }

        return shape.Rank == 1 && !_options.CompressVectors ? TensorRoute.DenseVector : null;
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
            throw CallAgreement.TooManyElements(elements);
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

    /// <summary>What one call carries from phase to phase.</summary>
    private sealed class CallPlan(int count, int size, int rank, long step)
    {
        public int Count { get; } = count;

        public int Size { get; } = size;

        public int Rank { get; } = rank;

        public long Step { get; } = step;

        /// <summary>Every tensor takes the dense route (<see cref="Exchange.Dense"/>), summed where it lies (<see cref="SumInPlace"/>).</summary>
        public bool AllDense { get; init; }

        /// <summary>
        /// The time rule this call routes with and reports to; null for an all-dense call, whose routes are the choice
        /// of exchange's and must not become the time rule's plans for the flat calls.
        /// </summary>
        public TimeRouting? Routing { get; init; }

        /// <summary>Each tensor's route: set before encoding, and made dense where compression would not pay.</summary>
        public TensorRoute[] Routes { get; } = new TensorRoute[count];

        /// <summary>Whether a tensor is still routed to compression (the same on every rank once the header is through).</summary>
        public bool AnyCompressed => Routes.AsSpan().Contains(TensorRoute.Compressed);

        public Decomposition[] Decompositions { get; } = new Decomposition[count];

        /// <summary>This rank's payload length per tensor (0 for dense routes).</summary>
        public int[] Lengths { get; } = new int[count];

        public int[] Atoms { get; } = new int[count];

        /// <summary>What the time rule predicted for each tensor it routed (null where it did not decide).</summary>
        public RoutePrediction?[] Predictions { get; } = new RoutePrediction?[count];

        public CallTimings Timings { get; } = new(count);

        /// <summary>The link model the time rule routed this call with.</summary>
        public LinkEstimate? Link { get; set; }

        /// <summary>Every rank's <see cref="Lengths"/>, rank by rank.</summary>
        public int[] AllLengths { get; } = new int[count * size];

        /// <summary>Bytes each rank contributes to the allgatherv.</summary>
        public int[] Counts { get; } = new int[size];

        public long TotalElements { get; set; }

        public long DenseElements { get; set; }

        public long CompressedElements => TotalElements - DenseElements;

        public int LengthOf(int rank, int tensor) => AllLengths[(rank * Count) + tensor];
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
