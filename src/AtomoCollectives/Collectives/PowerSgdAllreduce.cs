using System.Diagnostics;
using System.Numerics.Tensors;
using AtomoCollectives.Decompositions;
using AtomoCollectives.LinearAlgebra;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AtomoCollectives;

/// <summary>
/// PowerSGD (Vogels, Karimireddy and Jaggi, NeurIPS 2019), as PyTorch's <c>powerSGD_hook</c> does it: each tensor's
/// matrix view M (m×n; a conv weight is out × in·kh·kw) is replaced on every rank by the same rank-r approximation
/// <c>P·Qᵀ</c> of the ranks' mean, found by one step of power iteration shared by all ranks. Biased, so with error
/// feedback: what a step leaves out is added to the rank's next gradient. Exchanged by allreduce, so the traffic per
/// rank does not grow with the number of ranks.
/// </summary>
/// <remarks>
/// <para>One call: M += this rank's error; P = M·Q; allreduce-mean of every tensor's P, fused with the dense tensors
/// into one allreduce; orthonormalise P; Q = Mᵀ·P; allreduce-mean of every Q (one allreduce); output P·Qᵀ; error =
/// M − P·Qᵀ. Q starts from Gaussian draws of <see cref="PowerSgdOptions.Seed"/>, the same on every rank, and with
/// <see cref="PowerSgdOptions.WarmStart"/> from the previous step's Q of that tensor (orthonormalised first, as the hook
/// does). Everything after an allreduce reads only values identical on every rank, with deterministic kernels, so
/// every rank ends with the same bits.</para>
/// <para>Policy (the hook's): 1-D tensors, tensors with <c>(m + n)·r·MinimumCompressionRate ≥ m·n</c> and every tensor
/// in the first <see cref="PowerSgdOptions.DenseWarmupSteps"/> steps are averaged densely, in the same allreduce as the
/// P factors. Decisions show in <see cref="LastCall"/>.</para>
/// <para>Errors as for <see cref="AtomoAllreduce"/>: bad arguments, NaN or infinity in a gradient (or in gradient plus
/// error feedback) on one rank are raised on every rank before anything is exchanged; a failure between the two
/// allreduces rides on the second; the caller's tensors, the error feedback and the warm starts change only when the
/// whole call succeeded. Only the last local product P·Qᵀ runs after the last exchange; it reads values bounded before
/// it (so its output is finite) and allocates nothing.</para>
/// </remarks>
public sealed class PowerSgdAllreduce : IGradientAverager
{
    private readonly ICommunicator _communicator;
    private readonly PowerSgdOptions _options;
    private readonly ILogger _logger;
    private readonly long _optionsHash;
    private readonly CallRunner _calls;
    private readonly List<TensorState?> _states = [];
    private float[] _first = [];     // dense tensors, then every P: the first allreduce
    private float[] _second = [];    // every Q, then one float for the outcome of the work between: the second allreduce
    private float[] _product = [];   // one tensor's P·Qᵀ

    /// <summary>A PowerSGD averager over <paramref name="communicator"/> with <paramref name="options"/> (copied).</summary>
    public PowerSgdAllreduce(ICommunicator communicator, PowerSgdOptions options, ILogger<PowerSgdAllreduce>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(options);
        _communicator = communicator;
        _options = options.Clone();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _optionsHash = OptionsHash.Of(_options);
        _calls = new CallRunner(this, communicator, _options.Timeout, "PowerSgdOptions.Timeout", _logger);
        _logger.LogInformation(
            "PowerSgdAllreduce on rank {Rank} of {Size}: rank {MatrixRank}, warm start {WarmStart}, error feedback {ErrorFeedback}, warm-up {Warmup} steps, minimum compression rate {Rate}",
            communicator.Rank, communicator.Size, _options.Rank, _options.WarmStart, _options.ErrorFeedback, _options.DenseWarmupSteps, _options.MinimumCompressionRate);
    }

    /// <inheritdoc />
    public long Step { get; private set; }

    /// <inheritdoc />
    public AllreduceStatistics LastCall { get; private set; } = new();

    /// <inheritdoc />
    public AllreduceStatistics Statistics { get; private set; } = new();

    /// <summary>
    /// Replaces each tensor by the rank-r PowerSGD approximation of the ranks' mean (exactly the mean for the tensors
    /// that go dense), the same bits on every rank; with error feedback, keeps what was left out for the next call.
    /// </summary>
    /// <inheritdoc />
    public void Average(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        var set = new TensorList(tensors, shapes);
        _calls.RunSynchronous(() => AverageCore(set));
    }

    /// <inheritdoc />
    public Task AverageAsync(IReadOnlyList<Memory<float>> tensors, IReadOnlyList<TensorShape> shapes)
    {
        var set = new TensorList(tensors, shapes);
        return _calls.Enqueue(() => AverageCore(set));
    }

    /// <summary>Finishes queued asynchronous calls and stops the dedicated thread; later calls get <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _calls.Dispose();

    /// <inheritdoc />
    /// <remarks>The state is the step and, per tensor position, its shape, rank, error feedback and warm-start Q.</remarks>
    public void SaveState(Stream stream) => AveragerState.Save(_calls, stream, StateHeader, writer =>
    {
        writer.Write(_states.Count);
        foreach (TensorState? state in _states)
        {
            writer.Write(state is not null);
            if (state is null)
            {
                continue;
            }

            AveragerState.WriteShape(writer, state.Shape);
            writer.Write(state.Rank);
            AveragerState.WriteFloats(writer, state.Error);
            writer.Write(state.Q is not null);
            AveragerState.WriteFloats(writer, state.Q ?? []);
        }
    });

    /// <inheritdoc />
    public void LoadState(Stream stream) => AveragerState.Load(
        _calls,
        stream,
        StateHeader,
        reader => Enumerable.Range(0, AveragerState.ReadCount(reader, AveragerState.MaxTensors, "tensor states")).Select(_ => ReadTensorState(reader)).ToList(),
        (step, states) =>
        {
            Step = step;
            _states.Clear();
            _states.AddRange(states);
        });

    private AveragerState.Header StateHeader() => new(nameof(PowerSgdAllreduce), _optionsHash, _communicator.Rank, _communicator.Size, Step);

    /// <summary>One position's saved state, checked against what this averager's options give its shape.</summary>
    private TensorState? ReadTensorState(BinaryReader reader)
    {
        if (!reader.ReadBoolean())
        {
            return null;
        }

        TensorShape shape = AveragerState.ReadShape(reader);
        (int rows, int columns) = shape.MatrixView;
        int rank = reader.ReadInt32();
        if (rank != Math.Min(_options.Rank, Math.Min(rows, columns)))
        {
            throw new InvalidDataException($"The averager state holds rank {rank} for a {shape} tensor; these options give rank {Math.Min(_options.Rank, Math.Min(rows, columns))}.");
        }

        var state = new TensorState(shape, rank, 0)
        {
            Error = AveragerState.ReadFloats(reader, _options.ErrorFeedback ? rows * columns : 0, "error feedback"),
            Spare = new float[_options.ErrorFeedback ? rows * columns : 0],
        };
        bool hasQ = reader.ReadBoolean();
        float[] q = AveragerState.ReadFloats(reader, hasQ ? columns * rank : 0, "warm-start Q");
        state.Q = hasQ ? q : null;
        return state;
    }

    /// <summary>This rank's error feedback for the tensor at <paramref name="tensor"/> (a copy; null when it has none). Tests.</summary>
    internal float[]? ErrorOf(int tensor) => tensor < _states.Count && _states[tensor] is { } state && _options.ErrorFeedback ? (float[])state.Error.Clone() : null;

    /// <summary>The Q the next call starts from for the tensor at <paramref name="tensor"/> (a copy; null when none). Tests.</summary>
    internal float[]? WarmStartOf(int tensor) => tensor < _states.Count && _states[tensor]?.Q is { } q ? (float[])q.Clone() : null;

    /// <summary>The seed of the initial Q of <paramref name="tensor"/> at <paramref name="step"/>, the same on every rank (<see cref="Gaussian.Fill"/>).</summary>
    internal static ulong InitialQSeed(ulong seed, long step, int tensor) => RandomStreams.Shared(seed, step, tensor);

    /// <summary>
    /// The route of a tensor and its matrix view with the rank used, by the hook's policy: warm-up steps and 1-D tensors
    /// dense; a matrix only when its factors are at least MinimumCompressionRate times smaller than it.
    /// </summary>
    internal static (TensorRoute Route, int Rows, int Columns, int Rank) Plan(TensorShape shape, long step, PowerSgdOptions options)
    {
        (int rows, int columns) = shape.MatrixView;
        int rank = Math.Min(options.Rank, Math.Min(rows, columns));
        if (step < options.DenseWarmupSteps)
        {
            return (TensorRoute.DenseWarmup, rows, columns, rank);
        }

        if (shape.Rank == 1)
        {
            return (TensorRoute.DenseVector, rows, columns, rank);
        }

        // In double: (m + n)·r·rate can exceed int and long ranges only as a double would.
        bool pays = (double)(rows + (long)columns) * rank * options.MinimumCompressionRate < (double)rows * columns;
        return (pays ? TensorRoute.Compressed : TensorRoute.DenseCheaper, rows, columns, rank);
    }

    private void AverageCore(TensorList tensors)
    {
        long step = Step;
        _calls.StartWatch(step);
        try
        {
            AveragePhases(tensors, step);
        }
        finally
        {
            _calls.StopWatch();
        }
    }

    private void AveragePhases(TensorList tensors, long step)
    {
        int size = _communicator.Size;
        int count = tensors.Count;
        ILinearAlgebraProvider provider = LinearAlgebraProvider.Current;
        var plans = new (TensorRoute Route, int Rows, int Columns, int Rank)[count];
        var pOffsets = new long[count];
        var qOffsets = new long[count];
        var pending = new TensorState?[count];   // each compressed tensor's state for this call; installed on success
        long denseElements = 0, pElements = 0, qElements = 0, totalElements = 0;
        var clock = Stopwatch.StartNew();

        // Check and route every tensor first: the sizes of both allreduces follow from the routes.
        Exception? localError = tensors.Error;
        long shapesHash = CallAgreement.ShapesHashSeed;
        for (int t = 0; t < count && localError is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            shapesHash = CallAgreement.Mix(shapesHash, CallAgreement.HashShape(shape));
            plans[t] = Plan(shape, step, _options);
            totalElements += shape.ElementCount;
            Span<float> data = tensors.Get(t);
            localError = data.Length != shape.ElementCount
                ? CallAgreement.LengthMismatch(t, data.Length, shape)
                : CallAgreement.NonFinite(t, shape, data, plans[t].Route);
            (TensorRoute route, int rows, int columns, int rank) = plans[t];
            if (route == TensorRoute.Compressed)
            {
                pOffsets[t] = pElements;
                qOffsets[t] = qElements;
                pElements += (long)rows * rank;
                qElements += (long)columns * rank;
            }
            else
            {
                denseElements += shape.ElementCount;
            }
        }

        if (localError is null && (denseElements + pElements > Array.MaxLength || qElements + 1 > Array.MaxLength))
        {
            localError = CallAgreement.TooManyElements(totalElements);
        }

        // This rank's P factors, written after the dense tensors. A failure of any kind is raised on every rank through
        // the header exchange below, so that no rank pairs this call with the next one.
        if (localError is null)
        {
            try
            {
                Grow(ref _first, denseElements + pElements);
                Grow(ref _second, qElements + 1);
                Span<float> first = _first.AsSpan(0, (int)(denseElements + pElements));
                Span<float> ps = first[(int)denseElements..];
                int denseOffset = 0;
                for (int t = 0; t < count && localError is null; t++)
                {
                    Span<float> data = tensors.Get(t);
                    (TensorRoute route, int rows, int columns, int rank) = plans[t];
                    if (route != TensorRoute.Compressed)
                    {
                        data.CopyTo(first[denseOffset..]);
                        denseOffset += data.Length;
                        continue;
                    }

                    TestHooks.BeforeEncode?.Invoke(step, t);
                    TensorState state = pending[t] = StateFor(t, tensors.Shape(t), rows, columns, rank);
                    ReadOnlySpan<float> matrix = Input(state, data);
                    if (_options.ErrorFeedback && CallAgreement.NonFinite(t, tensors.Shape(t), matrix, route) is { } overflow)
                    {
                        localError = new ArgumentException($"{overflow.Message} That is the gradient plus this rank's error feedback (the gradient itself is finite): values near float's limit.", nameof(tensors));
                        break;
                    }

                    // The start of the power iteration, the same on every rank: last step's Q or a fresh draw, orthonormalised.
                    Span<float> q = _second.AsSpan((int)qOffsets[t], columns * rank);
                    if (_options.WarmStart && state.Q is { } warm)
                    {
                        warm.CopyTo(q);
                    }
                    else
                    {
                        Gaussian.Fill(q, InitialQSeed(_options.Seed, step, t));
                    }

                    Orthonormalise(provider, q, columns, rank);
                    Span<float> p = ps.Slice((int)pOffsets[t], rows * rank);
                    provider.Gemm(false, false, rows, rank, columns, 1, matrix, columns, q, rank, 0, p, rank);
                    if (FiniteValues.IndexOfNonFinite(p) >= 0)
                    {
                        localError = new ArgumentException($"Tensor {t} {tensors.Shape(t)}: its product with Q overflows float (values near float's limit); it cannot be compressed.", nameof(tensors));
                    }
                }
            }
            catch (Exception error)
            {
                localError = error;
            }
        }

        double encodeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        CallAgreement.Exchange(_communicator, localError, count, shapesHash, _optionsHash, step, nameof(PowerSgdOptions));

        // First allreduce: the dense tensors and every P, summed, then the mean. From here on P is the same on every rank.
        Span<float> exchanged = _first.AsSpan(0, (int)(denseElements + pElements));
        Pieces.AllreduceSum(_communicator, exchanged);
        TensorPrimitives.Multiply(exchanged, 1f / size, exchanged);
        Span<float> meanPs = exchanged[(int)denseElements..];
        double exchangeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        bool anyCompressed = pElements > 0;
        if (anyCompressed)
        {
            // The same values on every rank, so every rank decides alike and raises together.
            RefuseNonFinite(meanPs, plans, pOffsets, isP: true, step);

            // Orthonormalise every P, then this rank's Q = Mᵀ·P. A failure here rides on the second allreduce.
            Span<float> qs = _second.AsSpan(0, (int)qElements + 1);
            Exception? between = null;
            try
            {
                TestHooks.BeforeDecode?.Invoke(step);
                for (int t = 0; t < count; t++)
                {
                    (TensorRoute route, int rows, int columns, int rank) = plans[t];
                    if (route != TensorRoute.Compressed)
                    {
                        continue;
                    }

                    Span<float> p = meanPs.Slice((int)pOffsets[t], rows * rank);
                    Orthonormalise(provider, p, rows, rank);
                    ReadOnlySpan<float> matrix = Input(pending[t]!, tensors.Get(t));
                    provider.Gemm(true, false, columns, rank, rows, 1, matrix, columns, p, rank, 0, qs.Slice((int)qOffsets[t], columns * rank), rank);
                }
            }
            catch (Exception error)
            {
                between = error;
            }

            encodeSeconds += clock.Elapsed.TotalSeconds;
            clock.Restart();
            qs[^1] = between is null ? 0f : 1f;
            Pieces.AllreduceSum(_communicator, qs);
            exchangeSeconds += clock.Elapsed.TotalSeconds;
            clock.Restart();
            CallAgreement.CheckOutcome(between, qs[^1], step, "compute its Q factors");
            Span<float> meanQs = qs[..^1];
            TensorPrimitives.Multiply(meanQs, 1f / size, meanQs);
            RefuseNonFinite(meanQs, plans, qOffsets, isP: false, step);
            Grow(ref _product, plans.Where(p => p.Route == TensorRoute.Compressed).Max(p => (long)p.Rows * p.Columns));
        }

        // Commit: nothing below can fail (the bounds were checked on values every rank shares).
        var decisions = new TensorDecision[count];
        long atomsSent = 0;
        int dense = 0;
        for (int t = 0; t < count; t++)
        {
            Span<float> data = tensors.Get(t);
            TensorShape shape = tensors.Shape(t);
            (TensorRoute route, int rows, int columns, int rank) = plans[t];
            if (route != TensorRoute.Compressed)
            {
                exchanged.Slice(dense, data.Length).CopyTo(data);
                dense += data.Length;
                decisions[t] = new TensorDecision(t, shape, route, default, 0, 0);
                if (t < _states.Count)
                {
                    _states[t] = null;   // a position that goes dense keeps no error or warm start
                }

                continue;
            }

            TensorState state = pending[t]!;
            ReadOnlySpan<float> p = meanPs.Slice((int)pOffsets[t], rows * rank);
            ReadOnlySpan<float> q = _second.AsSpan((int)qOffsets[t], columns * rank);
            Span<float> product = _product.AsSpan(0, rows * columns);
            provider.Gemm(false, true, rows, columns, rank, 1, p, rank, q, rank, 0, product, columns);
            if (_options.ErrorFeedback)
            {
                // Spare holds this call's M = gradient + old error; M − P·Qᵀ is the new error.
                TensorPrimitives.Subtract(state.Spare, product, state.Spare);
                (state.Error, state.Spare) = (state.Spare, state.Error);
            }

            product.CopyTo(data);
            if (_options.WarmStart)
            {
                state.Q ??= new float[columns * rank];
                q.CopyTo(state.Q);
            }

            while (_states.Count <= t)
            {
                _states.Add(null);
            }

            _states[t] = state;
            atomsSent += rank;
            decisions[t] = new TensorDecision(t, shape, route, Decomposition.Spectral, (int)Math.Min(int.MaxValue, 4L * (rows + columns) * rank), rank);
        }

        long firstBytes = (long)AllreduceStatistics.RingAllreduceBytes(denseElements + pElements, size);
        long secondBytes = (long)AllreduceStatistics.RingAllreduceBytes(qElements, size);
        var call = new AllreduceStatistics
        {
            Calls = 1,
            Tensors = count,
            CompressedTensors = plans.Count(p => p.Route == TensorRoute.Compressed),
            BytesSent = firstBytes + secondBytes,
            BytesReceived = firstBytes + secondBytes,
            DenseEquivalentBytes = (long)AllreduceStatistics.RingAllreduceBytes(totalElements, size),
            AtomsSent = atomsSent,
            EncodeSeconds = encodeSeconds,
            ExchangeSeconds = exchangeSeconds,
            DecodeSeconds = clock.Elapsed.TotalSeconds,
            Decisions = decisions,
        };
        LastCall = call;
        Statistics += call;
        AtomoMetrics.Record(call, _logger, step);
        Step = step + 1;
    }

    /// <summary>
    /// The state the tensor at <paramref name="tensor"/> uses in this call: its own when its shape is unchanged, else a
    /// new one (zero error, no warm start). Nothing is installed here; the call installs it when it succeeds.
    /// </summary>
    private TensorState StateFor(int tensor, TensorShape shape, int rows, int columns, int rank)
    {
        TensorState? state = tensor < _states.Count ? _states[tensor] : null;
        if (state is null || state.Shape != shape || state.Rank != rank)
        {
            state = new TensorState(shape, rank, _options.ErrorFeedback ? rows * columns : 0);
        }

        state.SpareHoldsInput = false;
        return state;
    }

    /// <summary>This call's M: the gradient plus the error feedback (computed into the state's spare buffer once), or the gradient itself.</summary>
    private ReadOnlySpan<float> Input(TensorState state, ReadOnlySpan<float> gradient)
    {
        if (!_options.ErrorFeedback)
        {
            return gradient;
        }

        if (!state.SpareHoldsInput)
        {
            TensorPrimitives.Add(gradient, state.Error, state.Spare);
            state.SpareHoldsInput = true;
        }

        return state.Spare;
    }

    /// <summary>Orthonormal columns spanning those of the rows×rank <paramref name="matrix"/> (Householder in double for small ranks: deterministic).</summary>
    private static void Orthonormalise(ILinearAlgebraProvider provider, Span<float> matrix, int rows, int rank)
    {
        Span<float> r = rank <= 16 ? stackalloc float[rank * rank] : new float[rank * rank];
        ThinQR.Factor(provider, matrix, rows, rank, r);
    }

    /// <summary>
    /// Raises when a mean factor, the same on every rank, is not finite, or (for Q) so large that P·Qᵀ could overflow:
    /// every rank raises here together, with nothing written.
    /// </summary>
    private static void RefuseNonFinite(ReadOnlySpan<float> factors, (TensorRoute Route, int Rows, int Columns, int Rank)[] plans, long[] offsets, bool isP, long step)
    {
        for (int t = 0; t < plans.Length; t++)
        {
            (TensorRoute route, int rows, int columns, int rank) = plans[t];
            if (route != TensorRoute.Compressed)
            {
                continue;
            }

            int length = isP ? rows : columns;
            ReadOnlySpan<float> factor = factors.Slice((int)offsets[t], length * rank);
            bool bad = FiniteValues.IndexOfNonFinite(factor) >= 0;

            // |P·Qᵀ|ᵢⱼ ≤ Σₖ |Qⱼₖ| because P's columns are orthonormal: bounding each row of Q keeps the product finite.
            for (int j = 0; j < length && !bad && !isP; j++)
            {
                bad = TensorPrimitives.SumOfMagnitudes(factor.Slice(j * rank, rank)) > float.MaxValue / 2;
            }

            if (bad)
            {
                throw new InvalidOperationException($"Tensor {t}: the ranks' mean {(isP ? "P = M·Q" : "Q = Mᵀ·P")} at step {step} is not finite or too large for float (gradients near float's limit); every rank raises, no rank wrote its tensors, and the next call starts in step.");
            }
        }
    }

    private static void Grow(ref float[] buffer, long length)
    {
        if (buffer.Length < length)
        {
            buffer = new float[length];
        }
    }

    /// <summary>What PowerSGD keeps for one tensor position between calls.</summary>
    private sealed class TensorState(TensorShape shape, int rank, int errorElements)
    {
        public TensorShape Shape { get; } = shape;

        public int Rank { get; } = rank;

        /// <summary>This rank's M − P·Qᵀ of the last call (zeros before the first).</summary>
        public float[] Error { get; set; } = new float[errorElements];

        /// <summary>This call's M = gradient + error; becomes the error when the call succeeds.</summary>
        public float[] Spare { get; set; } = new float[errorElements];

        /// <summary>Whether <see cref="Spare"/> already holds this call's M.</summary>
        public bool SpareHoldsInput { get; set; }

        /// <summary>Last call's mean Q (columns×rank), the warm start; null before the first compressed call.</summary>
        public float[]? Q { get; set; }
    }
}
