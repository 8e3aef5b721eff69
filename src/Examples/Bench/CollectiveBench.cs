using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging.Abstractions;

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
/// same <see cref="BenchRun"/>. The configurations run in turn, step by step (<see cref="ConfigurationRun"/>).
/// </summary>
internal static class CollectiveBench
{
    /// <summary>
    /// Untimed steps at least, where ATOMO routes by time: its choice of exchange tries every way (node-aware, flat long
    /// enough for the time rule to route, dense, dense node-aware) in its first round of trials before it keeps one, then
    /// looks at the calls of the way it kept as often as a handover to a dense way takes, so that the timed steps are the
    /// steady state.
    /// </summary>
    public static readonly int TimeRoutingWarmup =
        ExchangeChoice.FirstRound([Exchange.NodeAware, Exchange.Flat, Exchange.Dense, Exchange.DenseNode]).Length + (ExchangeChoice.SlowLooks * ExchangeChoice.WatchCalls);

    /// <summary>Calibration sizes in floats: 1 KiB … 8 MiB messages.</summary>
    internal static readonly int[] CalibrationFloats = [256, 4096, 65536, 524288, 2097152];

    /// <summary>
    /// The node sum's calibration sizes: <see cref="CalibrationFloats"/> and 32 MiB, the size of the sums the steps make
    /// (the node-aware calls sum the whole set at once: ResNet-18's 46.8 MB, the real set's 22.3 MB). Up to 8 MiB alone,
    /// the fit put the node sum at 1.50 ns/B per rank and predicted 144.7 ms for <c>dense-node</c>'s exchange, which took
    /// 96.4 (2×4 ranks, 10 Gbit/s): per byte, a node sum of 46.8 MB took less than one of 8 MiB. Only the node level:
    /// one <c>MPI_Allreduce</c> of that size over the world took 4–5× the per-tensor calls the model predicts, and the
    /// rails' sums in pieces carried 80 % of 1 Gbit/s at 8 MiB as at the steps' 11.7 MB.
    /// </summary>
    internal static readonly int[] NodeCalibrationFloats = [.. CalibrationFloats, 8388608];

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
            (IReadOnlyList<ConfigResult> results, IReadOnlyList<TensorResult> perTensor) = RunInterleaved(world, settings, set, pristine, work, memories, readOnce, progress);
            configs.AddRange(results);
            tensors.AddRange(perTensor);
            GC.Collect();

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

    /// <summary>
    /// Every configuration on one set, step by step in turn (dense, then each ATOMO one, then dense again…), so that a
    /// machine whose load changes — other jobs, the ranks outnumbering the cores — slows them all alike and the ratios
    /// hold. Each configuration's own warm-up ends where the timed rounds start.
    /// </summary>
    private static (IReadOnlyList<ConfigResult>, IReadOnlyList<TensorResult>) RunInterleaved(
        ICommunicator world, BenchSettings settings, GradientSet set, float[][] pristine, float[][] work, Memory<float>[] memories, double readOnce, Action<string>? progress)
    {
        var runs = new List<ConfigurationRun>();
        try
        {
            runs.AddRange(settings.Configurations.Select(c => new ConfigurationRun(world, settings, set, c)));
            int warmup = runs.Max(r => r.Warmup);
            progress?.Invoke($"{set.Name}: {runs.Count} configurations in turn, {warmup} warm-up + {settings.Steps} timed rounds on {world.Size} ranks ({string.Join(", ", runs.Select(r => $"{r.Configuration.Name} {r.Warmup}"))} warm-up steps)");
            for (int round = 0; round < warmup + settings.Steps; round++)
            {
                foreach (ConfigurationRun run in runs.Where(r => round >= warmup - r.Warmup))
                {
                    run.Step(pristine, work, memories, timed: round >= warmup);
                }
            }

            var results = runs.Select(r => r.Finish(readOnce, progress)).ToList();
            return (results.Select(r => r.Config).ToList(), results.SelectMany(r => r.Tensors).ToList());
        }
        finally
        {
            runs.ForEach(r => r.Dispose());
        }
    }

    /// <summary>The untimed steps of <paramref name="configuration"/>: <see cref="BenchSettings.Warmup"/>, at least <see cref="TimeRoutingWarmup"/> where it routes by time.</summary>
    internal static int Warmup(BenchSettings settings, BenchConfiguration configuration) =>
        configuration.RoutesByTime ? Math.Max(settings.Warmup, TimeRoutingWarmup) : settings.Warmup;

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
            // would send to dense whatever encoding costs. The decodes of 2 and of 8 payloads take turns, repeat by
            // repeat, so that a moment of other load slows both alike rather than one of them (the model fits the cost
            // per payload from their difference).
            options = options.Clone();
            options.Routing = RoutingRule.Bytes;
            var replicas = IsolatedDecodeRanks.Select(n => new ReplicaCommunicator(n)).ToArray();
            var averagers = replicas.Select(r => new AtomoAllreduce(r, options)).ToArray();
            try
            {
                double encode = 0;
                var decode = new double[IsolatedDecodeRanks.Length];
                for (int repeat = 0; repeat <= IsolatedRepeats; repeat++)
                {
                    for (int k = 0; k < averagers.Length; k++)
                    {
                        for (int t = 0; t < copies.Length; t++)
                        {
                            gradients[t].CopyTo(copies[t], 0);
                        }

                        averagers[k].Average(memories, set.Shapes);
                        if (repeat > 0)
                        {
                            encode += averagers[k].LastCall.EncodeSeconds / (IsolatedRepeats * averagers.Length);
                            decode[k] += averagers[k].LastCall.DecodeSeconds / IsolatedRepeats;
                        }
                    }
                }

                result[slot] = encode;
                decode.CopyTo(result, slot + 1);
            }
            finally
            {
                Array.ForEach(averagers, a => a.Dispose());
                Array.ForEach(replicas, r => r.Dispose());
            }
        }

        return result;
    }

    /// <summary>Timed repeats (after one untimed) of each isolated measurement; means are reported, since a residual
    /// atom kept in some steps and not in others makes single steps vary.</summary>
    private const int IsolatedRepeats = 8;

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

    /// <summary>
    /// Dense sums of <see cref="CalibrationFloats"/> (for fitting α and β), each level timed as the collectives use it:
    /// <c>MPI_Allreduce</c> over the world (the flat dense baseline); and, where the ranks group into nodes as the library's
    /// node-aware exchange would group them (<see cref="NodeAwareMode.Auto"/>), the node sum of the node-aware collectives
    /// (a reduce-scatter and an allgather within each node, every node at once; <see cref="NodeCalibrationFloats"/>) and <c>MPI_Allreduce</c> over the rails
    /// (every rail at once, as in use: a node's rails share its link), in the library's pieces as every sum on a rail
    /// is made. In one call, 4 rails' 8 MiB sums over a 1 Gbit/s link got 67–70 % of its rate, where the steps' sums in
    /// pieces got about 80–85 %, and the model put <c>dense-node</c> 23 % too slow.
    /// </summary>
    private static List<CalibrationPoint> CalibrateLink(ICommunicator world, string label)
    {
        var points = TimeSums(world, world.Size, label, CalibrationLevel.World, CalibrationFloats, buffer => world.AllreduceSum(buffer));
        using NodeTopology? topology = NodeTopology.ForMode(world, NodeAwareMode.Auto, "bench --calibrate");
        if (topology is not null)
        {
            ICommunicator node = topology.Node;
            using NodeSharedBlocks? shared = NodeSharedBlocks.Open(world, node, NullLogger.Instance);
            points.AddRange(TimeSums(world, node.Size, label, CalibrationLevel.Node, NodeCalibrationFloats, buffer => SumWithinNode(node, shared, buffer)));
            points.AddRange(TimeSums(world, topology.Rail.Size, label, CalibrationLevel.Rail, CalibrationFloats, buffer => Pieces.AllreduceSum(topology.Rail, buffer)));
        }

        return points;
    }

    /// <summary>
    /// The node-aware collectives' sum within a node, as they run it and time it as their exchange: through the node's
    /// shared memory where it has it (<see cref="NodeSharedBlocks"/>: each rank sums its slice over every rank's copy and
    /// shares it; the calls read the slices into the tensors in their commit, which they time as decode, so not here:
    /// timed with it, the sum counted the commit's copy twice, once here and once in the measured commit the model adds),
    /// else a reduce-scatter into node-rank slices and an allgather of the slices. The slice is
    /// pooled, as in <c>NodeAllreduce.Sum</c>: a new array per call (fresh pages, which the peers' shared-memory copies
    /// then fault in) made the 8 MiB sum 3× as slow as the same sum in C (40–53 against 13–15 ms at 2×4 ranks,
    /// docs/network-benchmarks.md), and the model predicted every node-aware way too slow.
    /// </summary>
    private static void SumWithinNode(ICommunicator node, NodeSharedBlocks? shared, float[] buffer)
    {
        int[] counts = NodeAllreduce.SliceCounts(buffer.Length, node.Size);
        float[] pooled = ArrayPool<float>.Shared.Rent(Math.Max(1, counts[node.Rank]));
        try
        {
            Span<float> mine = pooled.AsSpan(0, counts[node.Rank]);
            var traffic = new NodeTraffic();
            if (shared?.Reserve(counts) == true)
            {
                shared.ReduceScatter(new ContiguousBlocks(buffer, counts), counts, mine, traffic);
                shared.Share(mine, buffer.Length, traffic);
                return;
            }

            NodeAllreduce.ReduceScatter(node, new ContiguousBlocks(buffer, counts), counts, mine, traffic);
            NodeAllreduce.Share(node, mine, counts, buffer, traffic);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pooled);
        }
    }

    /// <summary>
    /// <paramref name="sum"/> of each of <paramref name="sizes"/> (floats), over this rank's group of <paramref name="groupRanks"/> (every
    /// group at once, started together by a world barrier): per repeat the slowest rank of the world, and the median of
    /// the repeats, as the steps are reported (the median step of the slowest rank), so that the model's inputs carry the
    /// same time-slicing as what it predicts.
    /// </summary>
    private static List<CalibrationPoint> TimeSums(ICommunicator world, int groupRanks, string label, CalibrationLevel level, int[] sizes, Action<float[]> sum)
    {
        var points = new List<CalibrationPoint>();
        foreach (int floats in sizes)
        {
            var buffer = new float[floats];
            buffer.AsSpan().Fill(1f);
            int repeats = floats >= 1 << 20 ? 5 : floats >= 1 << 16 ? 11 : 41;
            var seconds = new double[repeats];
            for (int repeat = -1; repeat < repeats; repeat++)   // one untimed
            {
                world.Barrier();
                long start = Stopwatch.GetTimestamp();
                sum(buffer);
                if (repeat >= 0)
                {
                    seconds[repeat] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                }
            }

            var all = new double[world.Size * repeats];
            world.Allgather<double>(seconds, all);
            double[] slowest = [.. Enumerable.Range(0, repeats).Select(r => Enumerable.Range(0, world.Size).Max(rank => all[(rank * repeats) + r])).Order()];
            points.Add(new CalibrationPoint(label, world.Size, 4L * floats, slowest[repeats / 2], level, groupRanks));
        }

        return points;
    }
}
