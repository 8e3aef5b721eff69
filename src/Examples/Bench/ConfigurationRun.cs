using System.Diagnostics;
using System.Numerics.Tensors;

namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// One configuration's steps on one gradient set, run by every rank: its averager (none for the dense baseline), each step's
/// slowest-rank times and mean bytes, and at the end the median step and the per-tensor routes.
/// </summary>
internal sealed class ConfigurationRun : IDisposable
{
    private const int StepFields = 8;   // total, encode, exchange, decode, bytes sent, dense-equivalent bytes, payload bytes, bytes sent out of the node

    private readonly ICommunicator _world;
    private readonly BenchSettings _settings;
    private readonly GradientSet _set;
    private readonly IGradientAverager? _allreduce;
    private readonly List<double[]> _steps = [];
    private readonly double[] _payloadSums, _payloadCounts;
    private readonly TensorRoute[] _routes;
    private readonly RoutePrediction?[] _predictions;
    private readonly double[] _local = new double[StepFields];
    private readonly double[] _all;
    private readonly float[]? _flat;   // dense-pieces: every tensor, one after another
    private long _denseElements;
    private int _compressedTensors, _denseFasterTensors, _probes;

    public ConfigurationRun(ICommunicator world, BenchSettings settings, GradientSet set, BenchConfiguration configuration)
    {
        _world = world;
        _settings = settings;
        _set = set;
        Configuration = configuration;
        Warmup = CollectiveBench.Warmup(settings, configuration);
        _allreduce = configuration.Options is not null ? new AtomoAllreduce(world, configuration.Options)
            : configuration.DenseOptions is not null ? new DenseAllreduce(world, configuration.DenseOptions)
            : null;
        int count = set.Tensors.Count;
        _payloadSums = new double[count];
        _payloadCounts = new double[count];
        _routes = new TensorRoute[count];
        _predictions = new RoutePrediction?[count];
        _all = new double[StepFields * world.Size];
        _flat = configuration.InPieces ? new float[set.ParameterCount] : null;
    }

    public BenchConfiguration Configuration { get; }

    /// <summary>Its untimed steps (<see cref="CollectiveBench.Warmup"/>).</summary>
    public int Warmup { get; }

    /// <summary>One step on the pristine gradients: every rank's times and bytes, kept when <paramref name="timed"/>.</summary>
    public void Step(float[][] pristine, float[][] work, Memory<float>[] memories, bool timed)
    {
        int size = _world.Size;
        int at = 0;
        for (int t = 0; t < pristine.Length; t++)
        {
            pristine[t].CopyTo(_flat is null ? work[t] : _flat.AsSpan(at));
            at += pristine[t].Length;
        }

        _world.Barrier();
        long start = Stopwatch.GetTimestamp();
        if (_allreduce is null)
        {
            double divide = 0;
            if (_flat is not null)
            {
                // A loop whose gradients lie in one buffer: MPI_Allreduce in the library's pieces, then divide by N.
                Pieces.AllreduceSum(_world, _flat);
                long before = Stopwatch.GetTimestamp();
                TensorPrimitives.Divide(_flat, size, _flat);
                divide = Stopwatch.GetElapsedTime(before).TotalSeconds;
            }
            else
            {
                // The baseline as a training loop writes it: MPI_Allreduce per tensor, then divide by N.
                foreach (float[] tensor in work)
                {
                    _world.AllreduceSum(tensor);
                    long before = Stopwatch.GetTimestamp();
                    TensorPrimitives.Divide(tensor, size, tensor);
                    divide += Stopwatch.GetElapsedTime(before).TotalSeconds;
                }
            }

            double total = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double denseBytes = AllreduceStatistics.RingAllreduceBytes(_set.ParameterCount, size);
            _local[0] = total;
            _local[1] = 0;
            _local[2] = total - divide;
            _local[3] = divide;
            _local[4] = denseBytes;
            _local[5] = denseBytes;
            _local[6] = 0;
            _local[7] = denseBytes;
            _denseElements = _set.ParameterCount;
        }
        else
        {
            _allreduce.Average(memories, _set.Shapes);
            double total = Stopwatch.GetElapsedTime(start).TotalSeconds;
            AllreduceStatistics call = _allreduce.LastCall;
            long payload = 0;
            _denseElements = 0;
            _compressedTensors = 0;
            _denseFasterTensors = call.Decisions.Count(d => d.Route == TensorRoute.DenseFaster);
            _probes += timed ? call.Decisions.Count(d => d.Prediction?.Probe == true) : 0;
            foreach (TensorDecision decision in call.Decisions)
            {
                _routes[decision.Index] = decision.Route;
                _predictions[decision.Index] = decision.Prediction;
                if (decision.Route == TensorRoute.Compressed)
                {
                    payload += decision.PayloadBytes;
                    _compressedTensors++;
                    if (timed)
                    {
                        _payloadSums[decision.Index] += decision.PayloadBytes;
                        _payloadCounts[decision.Index]++;
                    }
                }
                else
                {
                    _denseElements += decision.Shape.ElementCount;
                }
            }

            _local[0] = total;
            _local[1] = call.EncodeSeconds;
            _local[2] = call.ExchangeSeconds;
            _local[3] = call.DecodeSeconds;
            _local[4] = call.BytesSent;
            _local[5] = call.DenseEquivalentBytes;
            _local[6] = payload;
            _local[7] = call.BytesSent - call.BytesSentWithinNode;
        }

        _world.Allgather<double>(_local, _all);
        if (timed)
        {
            _steps.Add((double[])_all.Clone());
        }
    }

    /// <summary>The result over the timed steps (the same on every rank), and each tensor's route and mean payload.</summary>
    public (ConfigResult Config, IReadOnlyList<TensorResult> Tensors) Finish(double readOnce, Action<string>? progress)
    {
        int size = _world.Size;
        int count = _set.Tensors.Count;

        // Per step (in round order): the slowest rank's times and the mean bytes over ranks. Then the step with the median total.
        var inRounds = _steps.Select(s =>
        {
            int slowest = 0;
            for (int r = 1; r < size; r++)
            {
                if (s[r * StepFields] > s[slowest * StepFields])
                {
                    slowest = r;
                }
            }

            double Mean(int field) => Enumerable.Range(0, size).Average(r => s[(r * StepFields) + field]);
            return (Total: s[slowest * StepFields], Encode: s[(slowest * StepFields) + 1], Exchange: s[(slowest * StepFields) + 2], Decode: s[(slowest * StepFields) + 3],
                Bytes: Mean(4), Dense: Mean(5), Payload: Mean(6), BetweenNodes: Mean(7));
        }).ToList();
        var perStep = inRounds.OrderBy(s => s.Total).ToList();
        var median = perStep[(perStep.Count - 1) / 2];
        var result = new ConfigResult(
            _settings.Label, _set.Name, Configuration.Name, size, _settings.Steps, median.Total, perStep[0].Total, median.Encode, median.Exchange, median.Decode,
            perStep.Average(s => s.Bytes), perStep.Average(s => s.Dense), perStep.Average(s => s.Payload), _set.ParameterCount, _denseElements, count,
            Configuration.IsDense ? 0 : _compressedTensors, readOnce, Routing: Configuration.Routing, DenseFasterTensors: _denseFasterTensors)
        {
            BetweenNodeBytesPerRank = perStep.Average(s => s.BetweenNodes),
            StepTotals = [.. inRounds.Select(s => s.Total)],
        };
        if (Configuration.RoutesByTime && _allreduce is not null)
        {
            string? choice = (_allreduce as AtomoAllreduce)?.DescribeExchangeChoice();
            progress?.Invoke(CollectiveBench.DescribeTimeRouting(Configuration, _allreduce.LastCall, _probes, _settings.Steps) + (choice is null ? "" : $"; {choice}"));
        }

        // Per-tensor mean payload over timed steps and ranks (0 when the tensor never went compressed).
        var sums = new float[2 * count];
        for (int t = 0; t < count; t++)
        {
            sums[t] = (float)_payloadSums[t];
            sums[count + t] = (float)_payloadCounts[t];
        }

        _world.AllreduceSum(sums);
        var perTensor = new List<TensorResult>(count);
        for (int t = 0; t < count; t++)
        {
            string route = Configuration.IsDense ? "Dense" : _routes[t].ToString();
            double meanPayload = sums[count + t] > 0 ? sums[t] / sums[count + t] : 0;
            perTensor.Add(new TensorResult(
                _settings.Label, _set.Name, Configuration.Name, size, t, _set.Tensors[t].Name, _set.Tensors[t].Shape.ToString(), _set.Tensors[t].Shape.ElementCount, route, meanPayload,
                _predictions[t]?.DenseSeconds ?? double.NaN, _predictions[t]?.CompressedSeconds ?? double.NaN));
        }

        return (result, perTensor);
    }

    public void Dispose() => _allreduce?.Dispose();
}
