using static AtomoCollectives.Tests.Collectives.AllreduceContract;

namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// <see cref="RoutingRule.Time"/> in-process with injected timings (<see cref="AllreduceContract.InjectTimings"/>): the
/// probe schedule, the statistics, saved state, and the rules that ignore timings. That every rank agrees is the
/// contract case <c>allreduce-time-routing-agrees-on-every-rank</c>.
/// </summary>
public sealed class TimeRoutingTests
{
    private static Memory<float>[] AsMemory(float[][] tensors) => [.. tensors.Select(t => (Memory<float>)t)];

    /// <summary>Runs <paramref name="steps"/> calls on every rank with injected timings and returns each rank's decisions per step.</summary>
    private static IReadOnlyList<TensorDecision>[][] Run(int ranks, int steps, AtomoOptions options, Func<long, int, long>? tensor0Ticks = null, Action<ICommunicator, AtomoAllreduce, long>? after = null)
    {
        var decisions = new IReadOnlyList<TensorDecision>[ranks][];
        InProcessCluster.Run(ranks, comm =>
        {
            using var allreduce = new AtomoAllreduce(comm, options);
            TestHooks.Timings = (step, timings) => InjectTimings(comm, step, timings, tensor0Ticks);
            decisions[comm.Rank] = new IReadOnlyList<TensorDecision>[steps];
            for (int step = 0; step < steps; step++)
            {
                allreduce.Average(AsMemory(Gradients(TimedShapes, comm.Rank, step)), TimedShapes);
                decisions[comm.Rank][step] = allreduce.LastCall.Decisions;
                after?.Invoke(comm, allreduce, step);
            }
        });
        return decisions;
    }

    /// <summary>An instance on this rank, with <see cref="AllreduceContract.InjectTimings"/>, after <paramref name="steps"/> calls.</summary>
    private static AtomoAllreduce AfterSteps(ICommunicator comm, int steps)
    {
        TestHooks.Timings = (step, timings) => InjectTimings(comm, step, timings);
        var allreduce = new AtomoAllreduce(comm, TimedOptions());
        for (int step = 0; step < steps; step++)
        {
            allreduce.Average(AsMemory(Gradients(TimedShapes, comm.Rank, step)), TimedShapes);
        }

        return allreduce;
    }

    /// <summary>The steps at which tensor 0 went compressed to be measured (a probe).</summary>
    private static int[] Probes(IReadOnlyList<TensorDecision>[] decisions) =>
        [.. Enumerable.Range(0, decisions.Length).Where(step => decisions[step][0].Prediction?.Probe == true)];

    /// <summary>
    /// A near tie: tensor 0's encode is injected at 26 µs against ~24.6 µs for its dense exchange at N = 2 (β = 2 ns/B
    /// over 2(N−1)/N·4·3,072 bytes), a penalty of ~2 µs, far below the budget (1 % of ~48 µs, the three matrices' dense
    /// time, per call): the shortest interval, <see cref="TimeRouting.MinimumProbeInterval"/> = 8. It goes dense at step 4
    /// (planned at step 3), so the probes come at 3 + 8 = 11, then every 8 calls from the last: 19, 27, 35, 43. From step 40
    /// its encode is injected cheap (1 µs); nothing notices while it is dense, until the probe at 43 measures it: the plan
    /// made at 44 compresses it from 45 on.
    /// </summary>
    [Fact]
    public void A_near_tie_routed_dense_is_probed_every_few_calls_and_returns_when_compression_pays_again()
    {
        IReadOnlyList<TensorDecision>[][] decisions = Run(2, 56, TimedOptions(), tensor0Ticks: (step, rank) => step >= 40 ? 5L * (rank + 1) : 260);
        int[] probes = [11, 19, 27, 35, 43];
        Assert.Equal(probes, Probes(decisions[0]));
        for (int step = 0; step < 56; step++)
        {
            TensorRoute expected = step < 4 || probes.Contains(step) || step >= 45 ? TensorRoute.Compressed : TensorRoute.DenseFaster;
            Assert.True(decisions[0][step][0].Route == expected, $"step {step}: {decisions[0][step][0].Route}, expected {expected}");
        }

        // Back on the compressed route it is measured every call: cheap encode (1 µs at N = 2, the slower rank's).
        Assert.Equal(10 / (double)TimeSpan.TicksPerSecond, decisions[0][55][0].Prediction!.Value.EncodeSeconds);
    }

    /// <summary>
    /// Far slower compressed: tensor 0's encode (2 ms) costs ~80 times the three matrices' dense time, so probing it
    /// within the 1 % budget would take thousands of calls; the interval stops at <see cref="TimeRouting.MaximumProbeInterval"/>
    /// = 512: the one probe in 600 calls comes at 3 + 512.
    /// </summary>
    [Fact]
    public void A_tensor_far_slower_compressed_is_probed_rarely()
    {
        IReadOnlyList<TensorDecision>[][] decisions = Run(2, 600, TimedOptions());
        Assert.Equal([3 + TimeRouting.MaximumProbeInterval], Probes(decisions[0]));
        Assert.All(decisions[0].Skip(4).Where((_, i) => i + 4 != 515), d => Assert.Equal(TensorRoute.DenseFaster, d[0].Route));
    }

    /// <summary>
    /// LastCall: no link model and no predictions until the model is ready (steps 0–3); then the link the calls were
    /// routed with (α and β of the injected timings within 1 %: each timing is rounded to 100 ns against latencies of
    /// 30 µs and more), a prediction for every tensor the time rule decided whose parts add up, nothing for the vector,
    /// and dense-by-time tensors counted as dense.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void LastCall_shows_the_link_and_each_decision_with_its_prediction(int ranks)
    {
        Run(ranks, 8, TimedOptions(), after: (comm, allreduce, step) =>
        {
            AllreduceStatistics call = allreduce.LastCall;
            if (step < 4)
            {
                Assert.Null(call.Link);
                Assert.All(call.Decisions, d => Assert.Null(d.Prediction));
                return;
            }

            LinkEstimate link = call.Link!.Value;
            Assert.Equal(InjectedLink.LatencySeconds, link.LatencySeconds, InjectedLink.LatencySeconds * 0.01);
            Assert.Equal(InjectedLink.SecondsPerByte, link.SecondsPerByte, InjectedLink.SecondsPerByte * 0.01);
            Assert.Equal(2, call.CompressedTensors);
            TensorDecision dense = call.Decisions[0];
            Assert.Equal(TensorRoute.DenseFaster, dense.Route);
            Assert.Equal(0, dense.PayloadBytes);
            RoutePrediction p = dense.Prediction!.Value;
            Assert.Equal(p.EncodeSeconds + p.GatherSeconds + p.DecodeSeconds, p.CompressedSeconds);
            Assert.True(p.DenseSeconds <= p.CompressedSeconds, $"dense {p.DenseSeconds} vs compressed {p.CompressedSeconds}");
            Assert.Equal(link.SecondsPerByte * AllreduceStatistics.RingAllreduceBytes(TimedShapes[0].ElementCount, comm.Size), p.DenseSeconds);   // the injected copying is free
            foreach (TensorDecision kept in call.Decisions.Skip(1).Take(2))
            {
                RoutePrediction q = kept.Prediction!.Value;
                Assert.True(kept.Route == TensorRoute.Compressed && q.CompressedSeconds < q.DenseSeconds && kept.PayloadBytes > 0, $"tensor {kept.Index}: {kept.Route}, {q}");
                Assert.Equal(0.5e-6, q.DecodeSeconds);
            }

            Assert.Null(call.Decisions[3].Prediction);
            Assert.Null(allreduce.Statistics.Link);   // sums have no link
        });
    }

    /// <summary>
    /// The collectives' timings carry up to 200 µs of extra latency per message round (scheduling delays; drawn
    /// independently per call and collective, the same on every rank, so the minimum keeps it), as much as the dense
    /// allreduce's bytes cost: β is uncertain. A near tie (tensor 0 at 26 µs against ~24.6 µs dense) is then
    /// decided by no plausible β and keeps its route, compressed; an encode of 2 ms is slower than dense for every
    /// plausible β and goes dense as soon as the model has its measurements.
    /// </summary>
    [Theory]
    [InlineData(260L, false)]
    [InlineData(20_000L, true)]
    public void On_a_noisy_link_only_a_clear_case_is_routed_by_time(long tensor0Ticks, bool clear)
    {
        static long Noise(long step, int collective) => new Random((int)(step * 3) + collective).Next(0, 2001);   // ticks per round: 0–200 µs
        LinkEstimate? link = null;
        var decisions = new IReadOnlyList<TensorDecision>[30];
        InProcessCluster.Run(2, comm =>
        {
            using var allreduce = new AtomoAllreduce(comm, TimedOptions());
            TestHooks.Timings = (step, timings) =>
            {
                InjectTimings(comm, step, timings, (_, _) => tensor0Ticks);
                timings.Lengths += Noise(step, 0);   // N − 1 = 1 round
                timings.Gather += Noise(step, 1);
                timings.Dense += 2 * Noise(step, 2);   // 2(N − 1) rounds
            };
            for (int step = 0; step < decisions.Length; step++)
            {
                allreduce.Average(AsMemory(Gradients(TimedShapes, comm.Rank, step)), TimedShapes);
                if (comm.Rank == 0)
                {
                    decisions[step] = allreduce.LastCall.Decisions;
                    link = allreduce.LastCall.Link;
                }
            }
        });

        LinkEstimate fitted = link!.Value;
        Assert.True(fitted.SecondsPerByteError > 0.1 * InjectedLink.SecondsPerByte, $"the noise should leave β uncertain: {fitted}");
        Assert.All(decisions.Skip(4), d => Assert.Equal(clear ? TensorRoute.DenseFaster : TensorRoute.Compressed, d[0].Route));
        Assert.All(decisions.Skip(4), d => Assert.NotNull(d[0].Prediction));
    }

    /// <summary>
    /// The fitted model is part of the saved state: instances that load each rank's state after step 6 route step 6
    /// exactly as the instances that ran on (same routes, same predicted bits, same results).
    /// </summary>
    [Fact]
    public void A_resumed_instance_routes_as_the_one_that_ran_on()
    {
        InProcessCluster.Run(2, comm =>
        {
            using AtomoAllreduce ranOn = AfterSteps(comm, 6);
            var state = new MemoryStream();
            ranOn.SaveState(state);
            float[][] through = Gradients(TimedShapes, comm.Rank, 6);
            ranOn.Average(AsMemory(through), TimedShapes);

            using var resumed = new AtomoAllreduce(comm, TimedOptions());
            state.Position = 0;
            resumed.LoadState(state);
            float[][] again = Gradients(TimedShapes, comm.Rank, 6);
            resumed.Average(AsMemory(again), TimedShapes);

            Assert.Equal(TensorRoute.DenseFaster, resumed.LastCall.Decisions[0].Route);
            Assert.Equal(DecisionsHash(ranOn.LastCall.Decisions), DecisionsHash(resumed.LastCall.Decisions));
            Assert.Equal(ranOn.LastCall.Link, resumed.LastCall.Link);
            for (int t = 0; t < through.Length; t++)
            {
                Assert.Equal(through[t], again[t]);
            }
        });
    }

    /// <summary>
    /// Rank 0 alone reloads its own state mid-run (its model is the same, but it dropped its measurements of the last
    /// call, which the others will send): the next call fails on every rank, naming the time-routing model, before any
    /// payload moves; the tensors are untouched, and the call after succeeds everywhere.
    /// </summary>
    [Fact]
    public void Ranks_whose_routing_state_differs_fail_on_every_rank_and_recover()
    {
        InProcessCluster.Run(2, comm =>
        {
            using AtomoAllreduce allreduce = AfterSteps(comm, 5);
            if (comm.Rank == 0)
            {
                var state = new MemoryStream();
                allreduce.SaveState(state);
                state.Position = 0;
                allreduce.LoadState(state);
            }

            float[][] tensors = Gradients(TimedShapes, comm.Rank, 5);
            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            var error = Assert.Throws<InvalidOperationException>(() => allreduce.Average(AsMemory(tensors), TimedShapes));
            Assert.Contains("time-routing model differs", error.Message, StringComparison.Ordinal);
            for (int t = 0; t < tensors.Length; t++)
            {
                Assert.Equal(before[t], tensors[t]);
            }

            allreduce.Average(AsMemory(tensors), TimedShapes);
            Assert.Equal(6, allreduce.Step);
        });
    }

    /// <summary>The same timings under the byte rule, or with DenseWhenCheaper off, route nothing by time and predict nothing.</summary>
    [Theory]
    [InlineData(RoutingRule.Bytes, true)]
    [InlineData(RoutingRule.Time, false)]
    public void Rules_that_ignore_time_ignore_the_timings(RoutingRule rule, bool denseWhenCheaper)
    {
        AtomoOptions options = TimedOptions();
        options.Routing = rule;
        options.DenseWhenCheaper = denseWhenCheaper;
        IReadOnlyList<TensorDecision>[][] decisions = Run(2, 12, options);
        Assert.All(decisions.SelectMany(r => r).SelectMany(d => d), d => Assert.True(d.Route != TensorRoute.DenseFaster && d.Prediction is null, $"{d.Route} {d.Prediction}"));
        Assert.All(decisions[0], d => Assert.Equal(TensorRoute.Compressed, d[0].Route));
    }

    /// <summary>A saved model holding a value no model can (a probe at a negative step) is refused when loaded.</summary>
    [Fact]
    public void A_saved_model_with_an_impossible_value_is_refused()
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(1);   // one position
            AveragerState.WriteShape(writer, TensorShape.Matrix(4, 4));
            for (int i = 0; i < 3; i++)
            {
                writer.Write(1e-3);
                writer.Write(2);
            }

            writer.Write(false);
            writer.Write(true);
            writer.Write(-9L);   // the next probe's step
        }

        stream.Position = 0;
        var error = Assert.Throws<InvalidDataException>(() => TimeRouting.Load(new BinaryReader(stream), 2));
        Assert.Contains("next probe is at step -9", error.Message, StringComparison.Ordinal);
    }
}
