using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AtomoCollectives;

/// <summary>
/// The baseline: one dense allreduce (sum) of all the tensors concatenated, then ÷N. Exact up to float rounding, the
/// same bits on every rank, and the same error contract as <see cref="AtomoAllreduce"/> (NaN, infinity and bad
/// argument lists on one rank raised on every rank, tensors untouched). With <see cref="DenseAllreduceOptions.NodeAware"/>
/// the node-aware baseline: sum within each node, allreduce 1/k of the sum on each of the node's k rails, share it
/// within the node (docs/node-aware.md).
/// </summary>
/// <remarks>
/// Every call first exchanges a small fixed header (whether this rank's arguments are good, its tensor count, shapes
/// and step): a rank with bad input makes every rank raise instead of summing it into every result or leaving the
/// others waiting. The tensors are written only once every collective of the call has returned (flat, the sum of a copy
/// of them in scratch; node-aware, the node's sums read them where they lie and land in the node's shared memory or in
/// scratch), so a failure never leaves a tensor half-written.
/// </remarks>
public sealed class DenseAllreduce : IGradientAverager
{
    private readonly ICommunicator _communicator;
    private readonly ILogger _logger;
    private readonly CallRunner _calls;
    private readonly NodeAwareMode _nodeAware;
    private readonly long _optionsHash;
    private float[] _scratch = [];
    private NodeTopology? _topology;
    private NodeSharedBlocks? _sharedBlocks;
    private bool _topologyResolved;

    /// <summary>A dense averager over <paramref name="communicator"/>; <paramref name="options"/> (copied) default to <see cref="DenseAllreduceOptions"/>' defaults.</summary>
    public DenseAllreduce(ICommunicator communicator, DenseAllreduceOptions? options = null, ILogger<DenseAllreduce>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        DenseAllreduceOptions chosen = options?.Clone() ?? new DenseAllreduceOptions();
        _communicator = communicator;
        _nodeAware = chosen.NodeAware;
        _optionsHash = OptionsHash.Of(chosen);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _calls = new CallRunner(this, communicator, chosen.Timeout, "DenseAllreduceOptions.Timeout", _logger);
    }

    /// <inheritdoc />
    public long Step { get; private set; }

    /// <inheritdoc />
    public AllreduceStatistics LastCall { get; private set; } = new();

    /// <inheritdoc />
    public AllreduceStatistics Statistics { get; private set; } = new();

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
    public void Dispose()
    {
        _calls.Dispose();
        _sharedBlocks?.Dispose();
        _topology?.Dispose();
    }

    /// <inheritdoc />
    /// <remarks>The state is the step alone: a dense average carries nothing else between calls.</remarks>
    public void SaveState(Stream stream) => AveragerState.Save(_calls, stream, StateHeader, _ => { });

    /// <inheritdoc />
    public void LoadState(Stream stream) => AveragerState.Load(_calls, stream, StateHeader, _ => 0, (step, _) => Step = step);

    /// <summary>Whether calls take the node-aware route (known from the first call on; tests).</summary>
    internal bool IsNodeAware => _topology is not null;

    /// <summary>Whether the node-aware calls sum within the node through its shared memory (tests).</summary>
    internal bool SharesNodeMemory => _sharedBlocks is not null;

    /// <summary>The state, the step alone, suits a dense averager of any options: its options hash is 0.</summary>
    private AveragerState.Header StateHeader() => new(nameof(DenseAllreduce), 0, _communicator.Rank, _communicator.Size, Step);

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
        var clock = Stopwatch.StartNew();

        // Check this rank's arguments and values; what is wrong travels in the header, so every rank raises.
        Exception? localError = tensors.Error;
        long shapesHash = CallAgreement.ShapesHashSeed, totalElements = 0;
        for (int t = 0; t < count && localError is null; t++)
        {
            TensorShape shape = tensors.Shape(t);
            shapesHash = CallAgreement.Mix(shapesHash, CallAgreement.HashShape(shape));
            totalElements += shape.ElementCount;
            Span<float> data = tensors.Get(t);
            try
            {
                TestHooks.BeforeEncode?.Invoke(step, t);
                localError = data.Length != shape.ElementCount
                    ? CallAgreement.LengthMismatch(t, data.Length, shape)
                    : CallAgreement.NonFinite(t, shape, data, TensorRoute.Dense);
            }
            catch (Exception error)
            {
                localError = error;   // raised on every rank through the header, like any failure before the exchange
            }
        }

        if (localError is null && totalElements > Array.MaxLength)
        {
            localError = CallAgreement.TooManyElements(totalElements);
        }

        double checkSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        CallAgreement.Exchange(_communicator, localError, count, shapesHash, _optionsHash, step, nameof(DenseAllreduceOptions));
        if (!_topologyResolved)
        {
            // After the header: every rank now knows the others chose the same mode, so all group by node or none does.
            _topology = NodeTopology.ForMode(_communicator, _nodeAware, $"{nameof(DenseAllreduceOptions)}.{nameof(DenseAllreduceOptions.NodeAware)}");
            _sharedBlocks = _topology is null ? null : NodeSharedBlocks.Open(_communicator, _topology.Node, _logger);
            _topologyResolved = true;
        }

        var traffic = new NodeTraffic();
        if (_topology is not null)
        {
            // Read where the tensors lie; each rank scales only the slice it carries.
            NodeSums sums = NodeAllreduce.SumTensors(_topology, _sharedBlocks, tensors, totalElements, 1f / size, traffic, ref _scratch);
            double nodeExchangeSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            sums.CopyTo(tensors);
            Record(tensors, size, totalElements, traffic, checkSeconds, nodeExchangeSeconds, clock.Elapsed.TotalSeconds);
            Step = step + 1;
            return;
        }

        if (_scratch.Length < totalElements)
        {
            _scratch = new float[totalElements];
        }

        Span<float> sum = _scratch.AsSpan(0, (int)totalElements);
        int staged = 0;
        for (int t = 0; t < count; t++)
        {
            Span<float> data = tensors.Get(t);
            data.CopyTo(sum[staged..]);
            staged += data.Length;
        }

        Pieces.AllreduceSum(_communicator, sum);
        double exchangeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // Commit.
        TensorPrimitives.Multiply(sum, 1f / size, sum);
        int offset = 0;
        for (int t = 0; t < count; t++)
        {
            Span<float> data = tensors.Get(t);
            sum.Slice(offset, data.Length).CopyTo(data);
            offset += data.Length;
        }

        Record(tensors, size, totalElements, null, checkSeconds, exchangeSeconds, clock.Elapsed.TotalSeconds);
        Step = step + 1;
    }

    /// <summary>The call's statistics (with the node's <paramref name="traffic"/> where it summed node-aware), kept and recorded.</summary>
    private void Record(TensorList tensors, int size, long totalElements, NodeTraffic? traffic, double checkSeconds, double exchangeSeconds, double commitSeconds)
    {
        var decisions = new TensorDecision[tensors.Count];
        for (int t = 0; t < decisions.Length; t++)
        {
            decisions[t] = new TensorDecision(t, tensors.Shape(t), TensorRoute.Dense, default, 0, 0);
        }

        long bytes = (long)AllreduceStatistics.RingAllreduceBytes(totalElements, size);
        var call = new AllreduceStatistics
        {
            Calls = 1,
            Tensors = tensors.Count,
            BytesSent = bytes,
            BytesReceived = bytes,
            DenseEquivalentBytes = bytes,
            EncodeSeconds = checkSeconds,
            ExchangeSeconds = exchangeSeconds,
            DecodeSeconds = commitSeconds,
            Decisions = decisions,
        };
        if (traffic is not null)
        {
            call = traffic.Into(call);
        }

        LastCall = call;
        Statistics += call;
        AtomoMetrics.Record(call, _logger, Step);
    }
}
