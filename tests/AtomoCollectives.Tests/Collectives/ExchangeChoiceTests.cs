using AtomoCollectives.Tests.Transport;

namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// <see cref="ExchangeChoice"/> on its own, with call times given: its schedule (interleaved trials of every way, then
/// the winner, then interleaved trials of the others), which calls it measures, its decision (summed over the ranks, so
/// every rank picks alike even when their own times disagree), and that it changes its mind when the times change.
/// </summary>
public sealed class ExchangeChoiceTests
{
    private const int Warmup = 3;

    private static readonly Exchange[] AllWays = [Exchange.NodeAware, Exchange.Flat, Exchange.Dense, Exchange.DenseNode];

    private static readonly TrialCall[] FirstTrials = ExchangeChoice.FirstRound(AllWays);

    private static readonly Exchange[] FirstRound = Ways(FirstTrials);

    private static readonly int TrialsEnd = Warmup + FirstRound.Length;

    /// <summary>
    /// Runs <paramref name="calls"/> steps on 4 ranks; a call's time on rank r is <paramref name="seconds"/>(step, way,
    /// n, r), n counting that way's calls past the warm-up from 0. Returns each step's way, after checking every rank
    /// took the same.
    /// </summary>
    private static Exchange[] Schedule(int calls, Func<long, Exchange, int, int, double> seconds, bool nodeAware = true)
    {
        Exchange[][] perRank = InProcessCluster.Run(4, comm =>
        {
            var choice = new ExchangeChoice(Warmup, nodeAware);
            var taken = new Exchange[calls];
            var counted = new int[AllWays.Length];
            for (long step = 0; step < calls; step++)
            {
                taken[step] = choice.At(step);
                int n = step < Warmup ? -1 : counted[(int)taken[step]]++;
                choice.Completed(comm, step, seconds(step, taken[step], n, comm.Rank));
            }

            return taken;
        });
        Assert.All(perRank, taken => Assert.Equal(perRank[0], taken));
        return perRank[0];
    }

    /// <summary><see cref="Schedule(int, Func{long, Exchange, int, int, double}, bool)"/> with times by step and way alone.</summary>
    private static Exchange[] Schedule(int calls, Func<long, Exchange, double> seconds, bool nodeAware = true) =>
        Schedule(calls, (step, way, _, _) => seconds(step, way), nodeAware);

    /// <summary>A call's time by way; both dense ways take <paramref name="dense"/> (a tie: the flat dense way is kept).</summary>
    private static double Times(Exchange way, double nodeAware, double flat, double dense) =>
        way switch { Exchange.NodeAware => nodeAware, Exchange.Flat => flat, _ => dense };

    private static Exchange[] Ways(TrialCall[] round) => [.. round.Select(t => t.Way)];

    /// <summary>What <see cref="ExchangeChoices.Save"/> writes of <paramref name="choices"/>.</summary>
    private static byte[] Saved(ExchangeChoices choices)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            choices.Save(writer);
        }

        return stream.ToArray();
    }

    /// <summary>
    /// A choice over every way on 2 ranks, after <paramref name="calls"/> calls timed by <paramref name="seconds"/>(step,
    /// way), handed to <paramref name="check"/>: what the log and the bench say of it then.
    /// </summary>
    private static void AfterCalls(long calls, Func<long, Exchange, double> seconds, Action<ExchangeChoice> check) =>
        InProcessCluster.Run(2, comm =>
        {
            var choice = new ExchangeChoice(Warmup, nodeAware: true);
            for (long step = 0; step < calls; step++)
            {
                choice.Completed(comm, step, seconds(step, choice.At(step)));
            }

            check(choice);
        });

    /// <summary>
    /// Runs 4 ranks up to the first retrial with calls timed by <paramref name="seconds"/>(step, way) and checks that
    /// <paramref name="winner"/>, kept by the first round, takes the calls for the watch's <see cref="ExchangeChoice.SlowLooks"/>
    /// looks and <paramref name="kept"/> every call after; returns the call from which <paramref name="kept"/> takes them.
    /// </summary>
    private static int WinnerThenKept(Func<long, Exchange, double> seconds, Exchange winner, Exchange kept)
    {
        Exchange[] taken = Schedule(Warmup + ExchangeChoice.RetrialEvery, seconds);
        int handover = TrialsEnd + (ExchangeChoice.SlowLooks * ExchangeChoice.WatchCalls);
        Assert.All(taken[TrialsEnd..handover], w => Assert.Equal(winner, w));
        Assert.All(taken[handover..], w => Assert.Equal(kept, w));
        return handover;
    }

    /// <summary>A later round over <paramref name="ways"/>, call by call: each way's visit in turn, <see cref="ExchangeChoice.TrialVisits"/> times.</summary>
    private static Exchange[] TakingTurns(params Exchange[] ways) =>
        [.. Enumerable.Range(0, ExchangeChoice.TrialVisits).SelectMany(_ => ways.SelectMany(way => Enumerable.Repeat(way, ExchangeChoice.VisitCalls(way))))];

    /// <summary>The calls of <paramref name="way"/>'s trial in the first round.</summary>
    private static int TrialOf(Exchange way) =>
        (way == Exchange.Flat ? ExchangeChoice.FlatTrialVisits : ExchangeChoice.TrialVisits) * ExchangeChoice.VisitCalls(way);

    /// <summary>The positions in <paramref name="round"/> of <paramref name="way"/>'s calls, or of its measured calls alone.</summary>
    private static int[] Calls(TrialCall[] round, Exchange way, bool measuredOnly = false) =>
        [.. Enumerable.Range(0, round.Length).Where(c => round[c].Way == way && (round[c].Measured || !measuredOnly))];

    /// <summary>Whether the <paramref name="n"/>-th call of <paramref name="way"/> in the first round is one its decision measures.</summary>
    private static bool MeasuredInFirstRound(Exchange way, int n) =>
        n >= 0 && n < TrialOf(way) && Calls(FirstTrials, way, measuredOnly: true)[^ExchangeChoice.MeasuredCalls..].Contains(Calls(FirstTrials, way)[n]);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_way_is_tried_then_the_fastest_stays(int way)
    {
        var fastest = (Exchange)way;
        Exchange[] taken = Schedule(TrialsEnd + 20, (_, way) => way == fastest ? 1.0 : 2.0);
        Assert.All(taken[..Warmup], w => Assert.Equal(Exchange.NodeAware, w));   // the warm-up takes the first way
        Assert.Equal(FirstRound, taken[Warmup..TrialsEnd]);
        Assert.All(AllWays, w => Assert.Equal(TrialOf(w), FirstRound.Count(t => t == w)));
        Assert.All(taken[TrialsEnd..], w => Assert.Equal(fastest, w));
    }

    /// <summary>
    /// The first round interleaves the ways, the first way's call first: every way has run once before any way's
    /// measured calls begin, and the stretches of the round over which the ways are measured overlap, so that all are
    /// measured at the same time.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_trials_are_interleaved(bool nodeAware)
    {
        Exchange[] ways = nodeAware ? AllWays : [Exchange.Flat, Exchange.Dense];
        TrialCall[] round = ExchangeChoice.FirstRound(ways);
        int[] Measured(Exchange way) => Calls(round, way, measuredOnly: true);
        int everyWayRun = ways.Max(way => Calls(round, way)[0]);
        int firstMeasured = ways.Min(way => Measured(way)[^ExchangeChoice.MeasuredCalls]);
        Assert.Equal(ways[0], round[0].Way);
        Assert.True(everyWayRun < firstMeasured, $"a way is measured at call {firstMeasured} of the round, before every way has run (call {everyWayRun})");
        int lastToStart = ways.Max(way => Measured(way)[^ExchangeChoice.MeasuredCalls]), firstToEnd = ways.Min(way => Measured(way)[^1]);
        Assert.True(lastToStart < firstToEnd, $"a way's measured calls end at call {firstToEnd} of the round, before another's begin (call {lastToStart})");
    }

    [Fact]
    public void Without_a_grouping_into_nodes_the_flat_and_dense_ways_are_tried()
    {
        Exchange[] round = Ways(ExchangeChoice.FirstRound([Exchange.Flat, Exchange.Dense]));
        Exchange[] taken = Schedule(Warmup + round.Length + 5, (_, way) => way == Exchange.Dense ? 1.0 : 2.0, nodeAware: false);
        Assert.All(taken[..Warmup], w => Assert.Equal(Exchange.Flat, w));
        Assert.Equal(round, taken[Warmup..(Warmup + round.Length)]);
        Assert.Equal(ExchangeChoice.FlatTrialVisits, round.Count(w => w == Exchange.Flat));
        Assert.Equal(ExchangeChoice.TrialVisits, round.Count(w => w == Exchange.Dense));
        Assert.All(taken[(Warmup + round.Length)..], w => Assert.Equal(Exchange.Dense, w));
    }

    /// <summary>
    /// Rank 0 finds node-aware faster than flat by 1 s, the three others find flat faster by 0.5 s each: summed over the
    /// ranks flat wins (1.5 s against 1 s), and every rank takes it.
    /// </summary>
    [Fact]
    public void The_ranks_decide_on_their_summed_times()
    {
        Exchange[] taken = Schedule(TrialsEnd + 5, (_, way, _, rank) => rank == 0 ? Times(way, 1.0, 2.0, 9.0) : Times(way, 2.0, 1.5, 9.0));
        Assert.All(taken[TrialsEnd..], w => Assert.Equal(Exchange.Flat, w));
    }

    /// <summary>
    /// Only the last calls of each trial's last visits are measured: the first visit of a trial (still warming up), the
    /// flat trial's first calls (before the time rule routes) and the first call of each node-aware visit may be slow
    /// without changing the outcome.
    /// </summary>
    [Fact]
    public void Only_the_last_calls_of_each_trial_are_measured()
    {
        Exchange[] taken = Schedule(TrialsEnd + 5, (_, way, n, _) =>
            n >= 0 && n < TrialOf(way) && !MeasuredInFirstRound(way, n) ? 100.0 : Times(way, 2.0, 1.0, 3.0));
        Assert.All(taken[TrialsEnd..], w => Assert.Equal(Exchange.Flat, w));
    }

    /// <summary>
    /// Each node-aware visit is two calls in a row, the second measured: a node-aware call right after another way's
    /// takes 3 s here, one after a node-aware call 1 s, flat 1.5 s. Node-aware wins, in the first round and in a retrial
    /// (flat wins the first round there, node-aware 1.6 s, close enough that the retrial tries every way again);
    /// measured on its calls right after flat's, it would have lost.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_node_aware_call_is_measured_after_one_of_its_own(bool inRetrial)
    {
        int retrial = Warmup + ExchangeChoice.RetrialEvery;
        var previous = new Exchange[4];   // each rank's last way (the ranks run in parallel)
        Exchange[] taken = Schedule(retrial + 50, (step, way, _, rank) =>
        {
            bool settled = previous[rank] == way;
            previous[rank] = way;
            return way switch
            {
                Exchange.NodeAware => inRetrial && step < retrial ? 1.6 : settled ? 1.0 : 3.0,
                Exchange.Flat => 1.5,
                _ => 1.7,
            };
        });
        Assert.All(Enumerable.Range(1, FirstTrials.Length - 1).Where(c => FirstTrials[c] == new TrialCall(Exchange.NodeAware, true)),
            c => Assert.Equal(Exchange.NodeAware, FirstTrials[c - 1].Way));
        Assert.All(taken[TrialsEnd..retrial], w => Assert.Equal(inRetrial ? Exchange.Flat : Exchange.NodeAware, w));
        Assert.Equal(Exchange.NodeAware, taken[^1]);
    }

    /// <summary>
    /// Two measured calls of the node-aware trial are stretched tenfold (a busy machine does that to one call in a few):
    /// the median ignores them, and node-aware (1 s a call) still beats flat (1.5 s), where a mean (4.6 s) or the median
    /// of 3 would not.
    /// </summary>
    [Fact]
    public void Two_stretched_calls_do_not_decide()
    {
        int[] measured = [.. Enumerable.Range(0, TrialOf(Exchange.NodeAware)).Where(n => MeasuredInFirstRound(Exchange.NodeAware, n))];
        Assert.Equal(ExchangeChoice.MeasuredCalls, measured.Length);
        Exchange[] taken = Schedule(TrialsEnd + 5, (_, way, n, _) =>
            way == Exchange.NodeAware && (n == measured[^1] || n == measured[^2]) ? 10.0 : Times(way, 1.0, 1.5, 3.0));
        Assert.All(taken[TrialsEnd..], w => Assert.Equal(Exchange.NodeAware, w));
    }

    /// <summary>
    /// Flat's calls take 0.95 s, the dense route's measured calls 0.9, 1.0 and 1.1 s: flat's median beats dense's (1.0 s)
    /// but not dense's fastest call, a gain within the calls' spread, so the dense route is kept. At 0.85 s flat beats
    /// every dense call and is kept.
    /// </summary>
    [Theory]
    [InlineData(0.95, 2)]
    [InlineData(0.85, 1)]
    public void Another_way_must_beat_every_measured_dense_call(double flatSeconds, int keptWay)
    {
        var kept = (Exchange)keptWay;
        int firstMeasuredDense = TrialOf(Exchange.Dense) - ExchangeChoice.MeasuredCalls;
        Exchange[] taken = Schedule(TrialsEnd + 5, (_, way, n, _) => way switch
        {
            Exchange.Dense => n >= firstMeasuredDense && n < TrialOf(Exchange.Dense) ? 0.9 + (0.1 * (n - firstMeasuredDense)) : 1.0,
            Exchange.Flat => flatSeconds,
            _ => 2.0,
        });
        Assert.All(taken[TrialsEnd..], w => Assert.Equal(kept, w));
    }

    /// <summary>
    /// Flat wins its trial (1 s a call against 2 s dense), then its calls take 3 s: the second look in a row at its calls,
    /// after 2 × <see cref="ExchangeChoice.WatchCalls"/> of them, hands the calls to the dense route until the next round.
    /// A flat exchange that stays fast is never handed over.
    /// </summary>
    [Theory]
    [InlineData(3.0, 2)]
    [InlineData(1.0, 1)]
    public void A_winner_that_slows_past_the_dense_route_gives_way_to_it(double flatAfterTrials, int keptWay)
    {
        double Seconds(long step, Exchange way) => way switch
        {
            Exchange.Flat => step >= TrialsEnd ? flatAfterTrials : 1.0,
            Exchange.Dense => 2.0,
            _ => 5.0,
        };

        int handover = WinnerThenKept(Seconds, Exchange.Flat, (Exchange)keptWay);

        // What the log and the bench say: the way handed over from, its watched median and the dense route's fastest call.
        AfterCalls(handover, Seconds, choice =>
        {
            Assert.Equal(keptWay == 2 ? Exchange.Flat : null, choice.HandedOverFrom);
            Assert.Equal(keptWay == 2 ? flatAfterTrials : 1.0, choice.LastComparison![(int)Exchange.Flat]);
            Assert.Equal(2.0, choice.LastComparison[(int)Exchange.Dense]);
        });
    }

    /// <summary>
    /// The node-aware dense sum is a dense way beside the flat one: flat wins its trial (1 s a call), dense node-aware
    /// takes 1.5 s and flat dense 2 s; when flat's calls slow to 3 s, the calls go to the faster dense way, and the log
    /// names its fastest call.
    /// </summary>
    [Fact]
    public void A_slowed_winner_goes_to_the_faster_dense_way()
    {
        double Seconds(long step, Exchange way) => way switch
        {
            Exchange.Flat => step >= TrialsEnd ? 3.0 : 1.0,
            Exchange.DenseNode => 1.5,
            Exchange.Dense => 2.0,
            _ => 5.0,
        };

        int handover = WinnerThenKept(Seconds, Exchange.Flat, Exchange.DenseNode);
        AfterCalls(handover, Seconds, choice =>
        {
            Assert.Equal(Exchange.DenseNode, choice.Winner);
            Assert.Equal(1.5, choice.LastComparison![(int)Exchange.DenseNode]);
        });
    }

    /// <summary>
    /// The dense ways watch each other: flat dense wins its trial at 1 s a call against 1.1 s for dense node-aware, then
    /// its calls slow. At 1.2 s, more than <see cref="ExchangeChoice.DenseWatchMargin"/> beyond dense node-aware's
    /// 1.1 s, the calls go to dense node-aware after two looks; at 1.15 s, within the margin (1.155 s), they stay.
    /// </summary>
    [Theory]
    [InlineData(1.2, (int)Exchange.DenseNode)]
    [InlineData(1.15, (int)Exchange.Dense)]
    public void A_dense_winner_that_slows_past_the_other_dense_way_gives_way_to_it(double denseAfterTrials, int keptWay)
    {
        var kept = (Exchange)keptWay;
        double Seconds(long step, Exchange way) => way switch
        {
            Exchange.Dense => step >= TrialsEnd ? denseAfterTrials : 1.0,
            Exchange.DenseNode => 1.1,
            _ => 5.0,
        };

        int handover = WinnerThenKept(Seconds, Exchange.Dense, kept);
        AfterCalls(handover, Seconds, choice =>
        {
            Assert.Equal(kept == Exchange.DenseNode ? Exchange.Dense : null, choice.HandedOverFrom);
            Assert.Equal(kept == Exchange.DenseNode ? denseAfterTrials : 1.0, choice.LastComparison![(int)Exchange.Dense], 6);
            Assert.Equal(1.1, choice.LastComparison[(int)Exchange.DenseNode], 6);
        });
    }

    /// <summary>
    /// The dense way a watch handed the calls to is not watched in turn: flat wins at 1 s, dense node-aware (1.5 s) takes
    /// the calls when flat slows to 3 s, then slows itself to 4 s, past flat dense's 2 s; it keeps the calls until the
    /// next round. Nor is a dense winner watched where it is the only dense way (no grouping into nodes): dense slows from
    /// 1 s to 3 s past flat's 2 s, and keeps the calls to the next round.
    /// </summary>
    [Fact]
    public void A_way_handed_to_and_a_lone_dense_way_are_not_watched()
    {
        int handover = TrialsEnd + (ExchangeChoice.SlowLooks * ExchangeChoice.WatchCalls);
        int firstRetrial = Warmup + ExchangeChoice.RetrialEvery;
        Exchange[] taken = Schedule(firstRetrial, (step, way) => way switch
        {
            Exchange.Flat => step >= TrialsEnd ? 3.0 : 1.0,
            Exchange.DenseNode => step >= handover ? 4.0 : 1.5,
            Exchange.Dense => 2.0,
            _ => 5.0,
        });
        Assert.All(taken[handover..], w => Assert.Equal(Exchange.DenseNode, w));

        const int FlatDenseTrialsEnd = Warmup + 15;   // flat 9 visits, dense 6, one call each
        Exchange[] lone = Schedule(firstRetrial, (step, way) => way == Exchange.Dense ? (step >= FlatDenseTrialsEnd ? 3.0 : 1.0) : 2.0, nodeAware: false);
        Assert.All(lone[FlatDenseTrialsEnd..], w => Assert.Equal(Exchange.Dense, w));
    }

    /// <summary>
    /// One slow window of flat's calls (3 s against the dense route's 2 s, between two fast ones) is not handed over: the
    /// next look finds flat fast again, and it keeps the calls.
    /// </summary>
    [Fact]
    public void One_slow_window_does_not_hand_over()
    {
        int slowFrom = TrialsEnd, slowTo = TrialsEnd + ExchangeChoice.WatchCalls;
        Exchange[] taken = Schedule(TrialsEnd + 60, (step, way) => way switch
        {
            Exchange.Flat => step >= slowFrom && step < slowTo ? 3.0 : 1.0,
            Exchange.Dense => 2.0,
            _ => 5.0,
        });
        Assert.All(taken[TrialsEnd..], w => Assert.Equal(Exchange.Flat, w));
    }

    /// <summary>
    /// Flat wins the first round; from the first retrial on the node-aware exchange is faster: the retrial (the three
    /// other ways for <see cref="ExchangeChoice.TrialVisits"/> visits each, taking turns) finds it and it is kept; the
    /// next retrial tries the others. The ways are within 5–15 % of each other, so each is due in every cycle
    /// (<see cref="A_far_slower_way_is_tried_in_fewer_cycles"/>).
    /// </summary>
    [Fact]
    public void A_retrial_changes_the_choice_when_the_times_change()
    {
        int firstRetrial = Warmup + ExchangeChoice.RetrialEvery;
        Exchange[] taken = Schedule(firstRetrial + ExchangeChoice.RetrialEvery + 40, (step, way) => step < firstRetrial ? Times(way, 1.05, 1.0, 1.1) : Times(way, 0.95, 1.0, 1.1));
        Assert.All(taken[TrialsEnd..firstRetrial], w => Assert.Equal(Exchange.Flat, w));
        Exchange[] retrial = TakingTurns(Exchange.NodeAware, Exchange.Dense, Exchange.DenseNode);
        int retrialEnd = firstRetrial + retrial.Length;
        Assert.Equal(retrial, taken[firstRetrial..retrialEnd]);
        int secondRetrial = firstRetrial + ExchangeChoice.RetrialEvery;
        Assert.All(taken[retrialEnd..secondRetrial], w => Assert.Equal(Exchange.NodeAware, w));
        Exchange[] nextRetrial = TakingTurns(Exchange.Flat, Exchange.Dense, Exchange.DenseNode);
        Assert.Equal(nextRetrial, taken[secondRetrial..(secondRetrial + nextRetrial.Length)]);
        Assert.All(taken[(secondRetrial + nextRetrial.Length)..], w => Assert.Equal(Exchange.NodeAware, w));
    }

    /// <summary>
    /// Flat wins at 1 s a call; node-aware takes 2 s, both dense ways 3 s. Tried every cycle, their 24 trial calls would
    /// cost 36 s beyond flat's in each 200 (18 %). Each may spend 1 % of a cycle's time (<see cref="ExchangeChoice.RetrialShare"/>
    /// over 3 ways: 2 s), so node-aware (12 calls, 12 s more) and dense (6 calls, 12 s) are tried every 8 cycles, dense
    /// node-aware (12 calls, 24 s) every 16; over 16 cycles the trials cost 2.25 % of flat's time, within the 3 %.
    /// </summary>
    [Fact]
    public void A_far_slower_way_is_tried_in_fewer_cycles()
    {
        const int cycles = 16;
        int Cycle(int c) => Warmup + (c * ExchangeChoice.RetrialEvery);
        Exchange[] taken = Schedule(Cycle(cycles + 1), (_, way) => Times(way, 2.0, 1.0, 3.0));
        for (int c = 1; c <= cycles; c++)
        {
            Exchange[] round = c % 16 == 0 ? TakingTurns(Exchange.NodeAware, Exchange.Dense, Exchange.DenseNode)
                : c % 8 == 0 ? TakingTurns(Exchange.NodeAware, Exchange.Dense)
                : [];
            Assert.Equal(round, taken[Cycle(c)..(Cycle(c) + round.Length)]);
            Assert.All(taken[(Cycle(c) + round.Length)..Cycle(c + 1)], w => Assert.Equal(Exchange.Flat, w));
        }

        double beyondFlat = taken[Cycle(1)..Cycle(cycles + 1)].Sum(w => Times(w, 2.0, 1.0, 3.0) - 1.0);
        Assert.Equal(72.0, beyondFlat);
        Assert.True(beyondFlat <= ExchangeChoice.RetrialShare * cycles * ExchangeChoice.RetrialEvery, $"the trials took {beyondFlat} s beyond flat's calls");
    }

    /// <summary>
    /// A trial's extra time against a cycle's budget: within it, every cycle; beyond, the power of two of cycles that
    /// brings it within; no more than <see cref="ExchangeChoice.MaxCyclesBetweenTrials"/> however slow.
    /// </summary>
    [Theory]
    [InlineData(0.0, 1)]
    [InlineData(2.0, 1)]
    [InlineData(2.1, 2)]
    [InlineData(12.0, 8)]
    [InlineData(24.0, 16)]
    [InlineData(1e9, ExchangeChoice.MaxCyclesBetweenTrials)]
    [InlineData(double.PositiveInfinity, ExchangeChoice.MaxCyclesBetweenTrials)]
    public void The_cycles_between_trials_bound_their_cost(double trialCost, int cycles) =>
        Assert.Equal(cycles, ExchangeChoice.CyclesBetweenTrials(trialCost, budget: 2.0));

    /// <summary>
    /// Flat wins its trial at 1 s a call, then slows to 3 s, and the watch hands the calls to dense (2 s). Flat's trial
    /// was cheap (due in the next cycle anyway), but node-aware (5 s) is not due for 32 cycles: the next round tries flat
    /// alone, 6 visits, and keeps dense on its 3 s.
    /// </summary>
    [Fact]
    public void A_way_handed_over_from_is_tried_at_the_next_round()
    {
        int firstRetrial = Warmup + ExchangeChoice.RetrialEvery;
        Exchange[] taken = Schedule(firstRetrial + ExchangeChoice.RetrialEvery, (step, way) => way switch
        {
            Exchange.Flat => step >= TrialsEnd ? 3.0 : 1.0,
            Exchange.Dense => 2.0,
            _ => 5.0,
        });
        Assert.Equal(Enumerable.Repeat(Exchange.Flat, ExchangeChoice.TrialVisits), taken[firstRetrial..(firstRetrial + ExchangeChoice.TrialVisits)]);
        Assert.All(taken[(firstRetrial + ExchangeChoice.TrialVisits)..], w => Assert.Equal(Exchange.Dense, w));
    }

    /// <summary>
    /// A saved choice resumes its schedule, its winner and when each way is tried next: dense wins at 1 s a call, node-aware
    /// and dense node-aware take 1.1 s (due every cycle), flat 2 s (due in 4). A state with a way the averager has not is
    /// refused; one saved before the trials' cycles were kept tries every way at its next round.
    /// </summary>
    [Fact]
    public void A_saved_choice_resumes_where_it_was()
    {
        static double Seconds(Exchange way) => way switch { Exchange.Dense => 1.0, Exchange.Flat => 2.0, _ => 1.1 };
        InProcessCluster.Run(2, comm =>
        {
            var choices = new ExchangeChoices(0, nodeAware: true);
            const long kind = 5;
            long saved = TrialsEnd - Warmup + 4;
            for (long step = 0; step < saved; step++)
            {
                choices.Completed(comm, kind, step, Seconds(choices.At(kind, step, Exchange.NodeAware)));
            }

            byte[] state = Saved(choices);
            ExchangeChoices loaded = ExchangeChoices.Load(new BinaryReader(new MemoryStream(state)), 0);
            Assert.True(loaded.HasNodeAware);
            for (long step = saved; step < 2 * ExchangeChoice.RetrialEvery; step++)
            {
                Exchange way = choices.At(kind, step, Exchange.NodeAware);
                Assert.Equal(way, loaded.At(kind, step, Exchange.NodeAware));
                choices.Completed(comm, kind, step, Seconds(way));
                loaded.Completed(comm, kind, step, Seconds(way));
                Assert.Equal(Exchange.Dense, loaded.Last!.Winner);
            }

            // The first retrial, where it was due: node-aware and dense node-aware; flat is not due for 4 cycles.
            Exchange[] Retrial(ExchangeChoices choice)
            {
                for (long step = saved; step < ExchangeChoice.RetrialEvery; step++)
                {
                    choice.Completed(comm, kind, step, Seconds(choice.At(kind, step, Exchange.NodeAware)));
                }

                var round = new Exchange[TakingTurns(AllWays).Length];
                for (int c = 0; c < round.Length; c++)
                {
                    round[c] = choice.At(kind, ExchangeChoice.RetrialEvery + c, Exchange.NodeAware);
                    choice.Completed(comm, kind, ExchangeChoice.RetrialEvery + c, Seconds(round[c]));
                }

                return round;
            }

            Exchange[] due = TakingTurns(Exchange.NodeAware, Exchange.DenseNode);
            Assert.Equal(due, Retrial(ExchangeChoices.Load(new BinaryReader(new MemoryStream(state)), 0))[..due.Length]);
            Assert.Equal(2 * ExchangeChoice.RetrialEvery, loaded.Last!.CallsUntilTrial(Exchange.Flat));   // at call 400 of the run above: cycle 4

            // Saved before the cycles were kept: the node-aware flag as the first byte, no cycles after each choice's
            // calls. Every way is tried at the next round.
            byte[] old = [1, .. state[1..^(8 * AllWays.Length)]];
            Exchange[] every = TakingTurns(Exchange.NodeAware, Exchange.Flat, Exchange.DenseNode);
            Assert.Equal(every, Retrial(ExchangeChoices.Load(new BinaryReader(new MemoryStream(old)), 0))[..every.Length]);

            byte[] bad = (byte[])state.Clone();
            bad[1 + 4 + 8 + 1 + 8] = 7;   // the winner: no such way
            Assert.Throws<InvalidDataException>(() => ExchangeChoices.Load(new BinaryReader(new MemoryStream(bad)), 0));
            byte[] far = (byte[])state.Clone();
            far[^8] = 200;   // dense node-aware's next cycle: further on than any decision sets
            Assert.Throws<InvalidDataException>(() => ExchangeChoices.Load(new BinaryReader(new MemoryStream(far)), 0));
        });
    }

    /// <summary>
    /// Flat wins at 1 s a call, node-aware takes 1.1 s (due every cycle), both dense ways 3 s (due in 8 and 16 cycles).
    /// Resumed from a state saved in cycle 1, the choice has no dense call measured since (the dense route's fastest call
    /// is not saved), and its next round tries node-aware alone: flat is kept, as in the run that was not stopped, not
    /// handed to a dense way that was not measured.
    /// </summary>
    [Fact]
    public void A_resumed_choice_keeps_its_winner_when_no_dense_way_is_due() => InProcessCluster.Run(2, comm =>
    {
        static double Seconds(Exchange way) => Times(way, 1.1, 1.0, 3.0);
        const long kind = 9;
        long saved = ExchangeChoice.RetrialEvery + 100;
        var choices = new ExchangeChoices(0, nodeAware: true);
        for (long step = 0; step < saved; step++)
        {
            choices.Completed(comm, kind, step, Seconds(choices.At(kind, step, Exchange.NodeAware)));
        }

        ExchangeChoices loaded = ExchangeChoices.Load(new BinaryReader(new MemoryStream(Saved(choices))), 0);
        var tried = new HashSet<Exchange>();
        for (long step = saved; step < 3 * ExchangeChoice.RetrialEvery; step++)
        {
            Exchange way = loaded.At(kind, step, Exchange.NodeAware);
            Assert.Equal(choices.At(kind, step, Exchange.NodeAware), way);
            tried.Add(way);
            choices.Completed(comm, kind, step, Seconds(way));
            loaded.Completed(comm, kind, step, Seconds(way));
        }

        Assert.Equal([Exchange.NodeAware, Exchange.Flat], tried.Order());
        Assert.Equal(Exchange.Flat, loaded.Last!.Winner);
        Assert.False(double.IsNaN(loaded.Last.LastComparison![(int)Exchange.NodeAware]));   // cycle 2 decided, on node-aware and flat alone
        Assert.True(double.IsNaN(loaded.Last.LastComparison[(int)Exchange.Dense]));
    });

    /// <summary>
    /// A caller averaging layer by layer: calls of two kinds alternate. Each kind keeps its own schedule and winner (flat
    /// for the one, dense for the other), and a kind whose first call fails on some rank is not recorded.
    /// </summary>
    [Fact]
    public void Each_kind_of_call_has_its_own_choice()
    {
        const long small = 11, large = 22;
        int steps = 2 * (TrialsEnd + 4);
        Exchange[][] perRank = InProcessCluster.Run(4, comm =>
        {
            var choices = new ExchangeChoices(Warmup, nodeAware: true);
            var taken = new Exchange[steps];
            for (long step = 0; step < steps; step++)
            {
                long kind = step % 2 == 0 ? small : large;
                taken[step] = choices.At(kind, step, Exchange.NodeAware);
                double seconds = kind == small ? Times(taken[step], 2.0, 1.0, 3.0) : Times(taken[step], 2.0, 3.0, 1.0);
                choices.Completed(comm, kind, step, seconds);
            }

            return taken;
        });
        Exchange[] last = perRank[0];
        Assert.All(perRank, taken => Assert.Equal(last, taken));
        Assert.Equal(Exchange.Flat, last[^2]);
        Assert.Equal(Exchange.Dense, last[^1]);
    }

    [Fact]
    public void Beyond_the_most_kinds_calls_take_the_default_way() => InProcessCluster.Run(2, comm =>
    {
        var choices = new ExchangeChoices(0, nodeAware: false);
        for (long kind = 0; kind < ExchangeChoices.MaxKinds; kind++)
        {
            Assert.Equal(Exchange.Flat, choices.At(kind, 0, Exchange.Dense));
            choices.Completed(comm, kind, 0, 1.0);
        }

        Assert.Equal(Exchange.Dense, choices.At(ExchangeChoices.MaxKinds, 0, Exchange.Dense));
        choices.Completed(comm, ExchangeChoices.MaxKinds, 0, 1.0);
        Assert.Null(choices.Last);
    });
}
