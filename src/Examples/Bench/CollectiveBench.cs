using System.Diagnostics;
using System.Numerics.Tensors;

namespace AtomoCollectives.Examples.Bench;

/// <summary>What one bench run does.</summary>
/// <param name="Label">Tag for the CSV rows and file names (e.g. the emulated rate).</param>
/// <param name="Sets">Gradient sets to time.</param>
/// <param name="Configurations">Configurations, dense first.</param>
/// <param name="Model">How the synthetic gradients are made (sets without a capture).</param>
/// <param name="Warmup">Untimed steps per configuration.</param>
/// <param name="Steps">Timed steps per configuration.</param>
/// <param name="Calibrate">Also time dense allreduces of a few sizes (for α and β).</param>
internal sealed record BenchSettings(string Label, IReadOnlyList<GradientSet> Sets, IReadOnlyList<BenchConfiguration> Configurations, GradientModel Model, int Warmup, int Steps, bool Calibrate);

/// <summary>Everything one run measured (identical on every rank).</summary>
internal sealed record BenchRun(IReadOnlyList<ConfigResult> Configs, IReadOnlyList<TensorResult> Tensors, IReadOnlyList<CalibrationPoint> Calibration);

/// <summary>
/// The per-rank benchmark: every rank runs it; results are agreed through allgathers so that every rank returns the
/// same <see cref="BenchRun"/>.
/// </summary>
internal static class CollectiveBench
{
    private const int StepFields = 7;   // total, encode, exchange, decode, bytes sent, dense-equivalent bytes, payload bytes

    /// <summary>
    /// Untimed steps at least, where ATOMO routes by time: its first routes by time come at the 5th call (the first call
    /// is not kept, the link model needs two, and each call plans the next); one more lets those settle.
    /// </summary>
    public const int TimeRoutingWarmup = 6;

    /// <summary>Calibration sizes in floats: 1 KiB … 8 MiB messages.</summary>
    internal static readonly int[] CalibrationFloats = [256, 4096, 65536, 524288, 2097152];

    public static BenchRun Run(ICommunicator world, BenchSettings settings, Action<string>? progress = null)
    {
        var configs = new List<ConfigResult>();
        var tensors = new List<TensorResult>();
        var calibration = settings.Calibrate ? CalibrateLink(world, settings.Label) : [];
        foreach (GradientSet set in settings.Sets)
        {
            float[][] pristine = set.Capture?.Load(world.Rank) ?? SyntheticGradients.Create(set, settings.Model, world.Rank);
            float[][] work = [.. pristine.Select(p => (float[])p.Clone())];
            Memory<float>[] memories = [.. work.Select(w => new Memory<float>(w))];
            IReadOnlyList<TensorShape> shapes = set.Shapes;
            double readOnce = ReadOnce(world, pristine);
            int first = configs.Count;
            foreach (BenchConfiguration configuration in settings.Configurations)
            {
                progress?.Invoke($"{set.Name}: {configuration.Name} ({Warmup(settings, configuration)} warm-up + {settings.Steps} timed steps on {world.Size} ranks)");
                (ConfigResult result, IReadOnlyList<TensorResult> perTensor) = RunConfiguration(world, settings, set, configuration, pristine, work, memories, shapes, readOnce, progress);
                configs.Add(result);
                tensors.AddRange(perTensor);
                GC.Collect();
            }

            // Encode against read-once on one otherwise idle rank (the others wait): the concurrent figures above
            // include time slicing when ranks outnumber cores.
            progress?.Invoke($"{set.Name}: isolated encode and read-once on rank 0");
            double[] isolated = ShareFromRankZero(world, world.Rank == 0 ? MeasureIsolated(settings, set, pristine) : new double[IsolatedLength(settings)]);
            for (int c = 0; c < settings.Configurations.Count; c++)
            {
                bool dense = settings.Configurations[c].IsDense;
                configs[first + c] = configs[first + c] with
                {
                    IsolatedReadOnceSeconds = isolated[0],
                    IsolatedEncodeSeconds = dense ? double.NaN : isolated[1 + (3 * c)],
                    IsolatedDecodeSecondsAt2 = dense ? double.NaN : isolated[2 + (3 * c)],
                    IsolatedDecodeSecondsAt8 = dense ? double.NaN : isolated[3 + (3 * c)],
                };
            }
        }

        return new BenchRun(configs, tensors, calibration);
    }

    /// <summary>The untimed steps of <paramref name="configuration"/>: <see cref="BenchSettings.Warmup"/>, at least <see cref="TimeRoutingWarmup"/> where it routes by time.</summary>
    internal static int Warmup(BenchSettings settings, BenchConfiguration configuration) =>
        configuration.RoutesByTime ? Math.Max(settings.Warmup, TimeRoutingWarmup) : settings.Warmup;

    private static (ConfigResult, IReadOnlyList<TensorResult>) RunConfiguration(
        ICommunicator world, BenchSettings settings, GradientSet set, BenchConfiguration configuration,
        float[][] pristine, float[][] work, Memory<float>[] memories, IReadOnlyList<TensorShape> shapes, double readOnce, Action<string>? progress)
    {
        int warmup = Warmup(settings, configuration);
        int size = world.Size;
        int count = pristine.Length;
        long elements = set.ParameterCount;
        using AtomoAllreduce? allreduce = configuration.Options is null ? null : new AtomoAllreduce(world, configuration.Options);
        var steps = new List<double[]>();
        var payloadSums = new double[count];
        var payloadCounts = new double[count];
        var routes = new TensorRoute[count];
        var predictions = new RoutePrediction?[count];
        long denseElements = 0;
        int compressedTensors = 0, denseFasterTensors = 0, probes = 0;
        var local = new double[StepFields];
        var all = new double[StepFields * size];
        for (int step = 0; step < warmup + settings.Steps; step++)
        {
            for (int t = 0; t < count; t++)
            {
                pristine[t].CopyTo(work[t], 0);
            }

            world.Barrier();
            long start = Stopwatch.GetTimestamp();
            if (allreduce is null)
            {
                // The baseline as a training loop writes it: MPI_Allreduce per tensor, then divide by N.
                double divide = 0;
                foreach (float[] tensor in work)
                {
                    world.AllreduceSum(tensor);
                    long before = Stopwatch.GetTimestamp();
                    TensorPrimitives.Divide(tensor, size, tensor);
                    divide += Stopwatch.GetElapsedTime(before).TotalSeconds;
                }

                double total = Stopwatch.GetElapsedTime(start).TotalSeconds;
                double denseBytes = AllreduceStatistics.RingAllreduceBytes(elements, size);
                local[0] = total;
                local[1] = 0;
                local[2] = total - divide;
                local[3] = divide;
                local[4] = denseBytes;
                local[5] = denseBytes;
                local[6] = 0;
                denseElements = elements;
            }
            else
            {
                allreduce.Average(memories, shapes);
                double total = Stopwatch.GetElapsedTime(start).TotalSeconds;
                AllreduceStatistics call = allreduce.LastCall;
                long payload = 0;
                denseElements = 0;
                compressedTensors = 0;
                denseFasterTensors = call.Decisions.Count(d => d.Route == TensorRoute.DenseFaster);
                probes += step >= warmup ? call.Decisions.Count(d => d.Prediction?.Probe == true) : 0;
                foreach (TensorDecision decision in call.Decisions)
                {
                    routes[decision.Index] = decision.Route;
                    predictions[decision.Index] = decision.Prediction;
                    if (decision.Route == TensorRoute.Compressed)
                    {
                        payload += decision.PayloadBytes;
                        compressedTensors++;
                        if (step >= warmup)
                        {
                            payloadSums[decision.Index] += decision.PayloadBytes;
                            payloadCounts[decision.Index]++;
                        }
                    }
                    else
                    {
                        denseElements += decision.Shape.ElementCount;
                    }
                }

                local[0] = total;
                local[1] = call.EncodeSeconds;
                local[2] = call.ExchangeSeconds;
                local[3] = call.DecodeSeconds;
                local[4] = call.BytesSent;
                local[5] = call.DenseEquivalentBytes;
                local[6] = payload;
            }

            world.Allgather<double>(local, all);
            if (step >= warmup)
            {
                steps.Add((double[])all.Clone());
            }
        }

        // Per step: the slowest rank's times and the mean bytes over ranks. Then the step with the median total.
        var perStep = steps.Select(s =>
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
                Bytes: Mean(4), Dense: Mean(5), Payload: Mean(6));
        }).OrderBy(s => s.Total).ToList();
        var median = perStep[(perStep.Count - 1) / 2];
        var result = new ConfigResult(
            settings.Label, set.Name, configuration.Name, size, settings.Steps, median.Total, perStep[0].Total, median.Encode, median.Exchange, median.Decode,
            perStep.Average(s => s.Bytes), perStep.Average(s => s.Dense), perStep.Average(s => s.Payload), elements, denseElements, count,
            configuration.IsDense ? 0 : compressedTensors, readOnce, Routing: configuration.Routing, DenseFasterTensors: denseFasterTensors);
        if (configuration.RoutesByTime && allreduce is not null)
        {
            progress?.Invoke(DescribeTimeRouting(configuration, allreduce.LastCall, probes, settings.Steps));
        }

        // Per-tensor mean payload over timed steps and ranks (0 when the tensor never went compressed).
        var sums = new float[2 * count];
        for (int t = 0; t < count; t++)
        {
            sums[t] = (float)payloadSums[t];
            sums[count + t] = (float)payloadCounts[t];
        }

        world.AllreduceSum(sums);
        var perTensor = new List<TensorResult>(count);
        for (int t = 0; t < count; t++)
        {
            string route = configuration.IsDense ? "Dense" : routes[t].ToString();
            double meanPayload = sums[count + t] > 0 ? sums[t] / sums[count + t] : 0;
            perTensor.Add(new TensorResult(
                settings.Label, set.Name, configuration.Name, size, t, set.Tensors[t].Name, set.Tensors[t].Shape.ToString(), set.Tensors[t].Shape.ElementCount, route, meanPayload,
                predictions[t]?.DenseSeconds ?? double.NaN, predictions[t]?.CompressedSeconds ?? double.NaN));
        }

        return (result, perTensor);
    }

    /// <summary>
    /// One line on what the time rule did in the last timed step: its link model, the tensors it sent each way and their
    /// predicted seconds, and the probes over the timed steps.
    /// </summary>
    internal static string DescribeTimeRouting(BenchConfiguration configuration, AllreduceStatistics last, int probes, int steps)
    {
        var decided = last.Decisions.Where(d => d.Prediction is not null).ToList();
        var dense = decided.Where(d => d.Route == TensorRoute.DenseFaster).ToList();
        var compressed = decided.Where(d => d.Route == TensorRoute.Compressed).ToList();
        string link = last.Link is { } l
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"alpha {l.LatencySeconds * 1e6:F1} us, beta {l.SecondsPerByte * 1e9:F3} +- {l.SecondsPerByteError * 1e9:F3} ns/B ({8e-9 / l.SecondsPerByte:F2} Gbit/s per rank)")
            : "not fitted yet";
        static string Ms(IEnumerable<double> seconds) => (seconds.Sum() * 1e3).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        return $"{configuration.Name} routed by time: link {link}; last step {compressed.Count} compressed (predicted {Ms(compressed.Select(d => d.Prediction!.Value.CompressedSeconds))} ms, dense {Ms(compressed.Select(d => d.Prediction!.Value.DenseSeconds))} ms), "
            + $"{dense.Count} dense by time (predicted {Ms(dense.Select(d => d.Prediction!.Value.DenseSeconds))} ms, compressed {Ms(dense.Select(d => d.Prediction!.Value.CompressedSeconds))} ms), "
            + $"{last.Decisions.Count - decided.Count} by the policy or bytes; {probes} probe(s) in {steps} timed steps";
    }

    /// <summary>
    /// Rank 0's <paramref name="values"/> on every rank. The others wait by polling a non-blocking gather with 1 ms
    /// sleeps, so that they leave the cores to rank 0 (a blocking MPI call spins, even when it yields).
    /// </summary>
    private static double[] ShareFromRankZero(ICommunicator world, double[] values)
    {
        byte[] send = world.Rank == 0 ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray() : [];
        var counts = new int[world.Size];
        counts[0] = 8 * values.Length;
        var receive = new byte[counts[0]];
        using (CollectiveRequest request = world.StartAllgatherv(send, counts, receive))
        {
            while (!request.Test())
            {
                Thread.Sleep(1);
            }
        }

        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(receive).ToArray();
    }

    /// <summary>Rank counts at which one rank's decode is timed alone (through <see cref="ReplicaCommunicator"/>).</summary>
    internal static readonly int[] IsolatedDecodeRanks = [2, 8];

    /// <summary>
    /// On this rank alone: [read-once (minimum of repeats), then per configuration: encode, decode of
    /// <see cref="IsolatedDecodeRanks"/>[0] payloads, decode of [1] payloads], in seconds. Through an
    /// <see cref="AtomoAllreduce"/> over a <see cref="ReplicaCommunicator"/>: exactly the tensors the policy compresses,
    /// payloads of the real sizes, no communication and no other rank on the cores. Encode and decode are means over
    /// <see cref="IsolatedRepeats"/> steps.
    /// </summary>
    private static double[] MeasureIsolated(BenchSettings settings, GradientSet set, float[][] gradients)
    {
        var result = new double[IsolatedLength(settings)];
        result[0] = double.MaxValue;
        float sink = 0;
        for (int repeat = 0; repeat < 15; repeat++)
        {
            long start = Stopwatch.GetTimestamp();
            foreach (float[] tensor in gradients)
            {
                sink += TensorPrimitives.Sum(tensor);
            }

            result[0] = Math.Min(result[0], Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        GC.KeepAlive(sink);
        float[][] copies = [.. gradients.Select(g => (float[])g.Clone())];
        Memory<float>[] memories = [.. copies.Select(c => new Memory<float>(c))];
        for (int c = 0; c < settings.Configurations.Count; c++)
        {
            AtomoOptions? options = settings.Configurations[c].Options;
            int slot = 1 + (3 * c);
            if (options is null)
            {
                continue;
            }

            // The compute of what the policy compresses, so by bytes: replicas exchange in no time, and the time rule
            // would send to dense whatever encoding costs.
            options = options.Clone();
            options.Routing = RoutingRule.Bytes;
            double encode = 0;
            for (int k = 0; k < IsolatedDecodeRanks.Length; k++)
            {
                using var replicas = new ReplicaCommunicator(IsolatedDecodeRanks[k]);
                using var allreduce = new AtomoAllreduce(replicas, options);
                double decode = 0;
                for (int repeat = 0; repeat <= IsolatedRepeats; repeat++)
                {
                    for (int t = 0; t < copies.Length; t++)
                    {
                        gradients[t].CopyTo(copies[t], 0);
                    }

                    allreduce.Average(memories, set.Shapes);
                    if (repeat > 0)
                    {
                        encode += allreduce.LastCall.EncodeSeconds / (IsolatedRepeats * IsolatedDecodeRanks.Length);
                        decode += allreduce.LastCall.DecodeSeconds / IsolatedRepeats;
                    }
                }

                result[slot + 1 + k] = decode;
            }

            result[slot] = encode;
        }

        return result;
    }

    /// <summary>Timed repeats (after one untimed) of each isolated measurement; means are reported, since a residual
    /// atom kept in some steps and not in others makes single steps vary.</summary>
    private const int IsolatedRepeats = 6;

    private static int IsolatedLength(BenchSettings settings) => 1 + (3 * settings.Configurations.Count);

    /// <summary>
    /// The read-once time of the gradient set: <c>TensorPrimitives.Sum</c> over every tensor, minimum of repeats,
    /// all ranks at once (as they encode at once); the slowest rank's minimum.
    /// </summary>
    private static double ReadOnce(ICommunicator world, float[][] gradients)
    {
        double best = double.MaxValue;
        float sink = 0;
        world.Barrier();
        for (int repeat = 0; repeat < 15; repeat++)
        {
            long start = Stopwatch.GetTimestamp();
            foreach (float[] tensor in gradients)
            {
                sink += TensorPrimitives.Sum(tensor);
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        GC.KeepAlive(sink);
        var all = new double[world.Size];
        world.Allgather<double>([best], all);
        return all.Max();
    }

    /// <summary>Dense allreduce of a few sizes: minimum time of repeats, slowest rank (for fitting α and β).</summary>
    private static List<CalibrationPoint> CalibrateLink(ICommunicator world, string label)
    {
        var points = new List<CalibrationPoint>();
        foreach (int floats in CalibrationFloats)
        {
            var buffer = new float[floats];
            buffer.AsSpan().Fill(1f);
            double best = double.MaxValue;
            int repeats = floats >= 1 << 20 ? 3 : floats >= 1 << 16 ? 10 : 40;
            for (int repeat = 0; repeat < repeats + 1; repeat++)
            {
                world.Barrier();
                long start = Stopwatch.GetTimestamp();
                world.AllreduceSum(buffer);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (repeat > 0)
                {
                    best = Math.Min(best, seconds);
                }
            }

            var all = new double[world.Size];
            world.Allgather<double>([best], all);
            points.Add(new CalibrationPoint(label, world.Size, 4L * floats, all.Max()));
        }

        return points;
    }
}
