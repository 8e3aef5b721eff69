namespace AtomoCollectives;

/// <summary>The ways one call of <see cref="AtomoAllreduce"/> can go, between which <see cref="ExchangeChoice"/> chooses.</summary>
internal enum Exchange
{
    /// <summary>Sum within each node, compress between nodes (docs/node-aware.md).</summary>
    NodeAware,

    /// <summary>Every rank exchanges with every other; the time rule routes each tensor.</summary>
    Flat,

    /// <summary>Every tensor dense, as the time rule's dense route: one allreduce.</summary>
    Dense,

    /// <summary>
    /// Every tensor dense, summed node-aware as <c>DenseAllreduce</c> with <c>NodeAware</c> sums: within the node (through
    /// its shared memory), 1/k of the sum on each rail, shared in the node. Tried beside <see cref="Dense"/> wherever the
    /// node-aware exchange is: which of the two dense sums is faster depends on the link and the cores.
    /// </summary>
    DenseNode,
}

/// <summary>One call of a round of trials: its way, and whether its time is one the decision may measure.</summary>
internal readonly record struct TrialCall(Exchange Way, bool Measured);

/// <summary>The ways of <see cref="Exchange"/> by what they send.</summary>
internal static class Exchanges
{
    /// <summary>Whether <paramref name="way"/> sends every tensor dense: what the caller had without compression.</summary>
    public static bool IsDense(this Exchange way) => way is Exchange.Dense or Exchange.DenseNode;
}

/// <summary>
/// Which way <see cref="AtomoAllreduce"/>'s calls go under <see cref="RoutingRule.Time"/>: the one whose calls took the
/// least time. The time rule routes each tensor from a model of the link and of the compute; this measures whole calls,
/// so that whatever the model misses (ranks time-sliced on shared cores, a link faster for large messages than for the
/// small ones the model is fitted on, within-node traffic) cannot make a call slower than the dense route for long
/// (docs/node-aware.md, "Choosing the exchange by time").
/// </summary>
/// <remarks>
/// One choice is made per kind of call (<see cref="ExchangeChoices"/>: one per set of shapes, so that a caller averaging
/// layer by layer compares like with like). From its first call past the dense warm-up every way is tried in
/// <see cref="TrialVisits"/> visits (the flat one in <see cref="FlatTrialVisits"/>, enough for its time rule to fit the
/// link and route): a visit is one call, or <see cref="NodeAwareVisitCalls"/> in a row of the node-aware exchange or of
/// the node-aware dense sum (where the grouping allows them), whose first call after another way is slow; the last call of each of a way's last
/// <see cref="MeasuredCalls"/> visits is measured. The trials are interleaved, each way's visits spread evenly over the
/// round (<see cref="Round"/>): every way has run once before any is measured, and all are measured over the same
/// stretch of calls, so what slows a stretch (code still being compiled to its optimised tier in a process's first
/// calls, buffers and bases still growing, another job's load) slows every way alike. Tried one after the other, the way
/// tried first was measured in its 2nd to 4th calls, up to 2× slower than its calls later on, and lost to a slower way
/// (measured at 2×4 ranks, 1 Gbit/s: node-aware 291–538 ms in its trial, a median of 217–288 ms later, flat kept in 3
/// of 4 runs). Every <see cref="RetrialEvery"/> calls the others that are due are tried again, <see cref="TrialVisits"/>
/// visits each, taking turns, against the winner's last calls before; a way is due as often as its trial's extra time
/// keeps within its share of <see cref="RetrialShare"/> (<see cref="Reschedule"/>). Each rank measures its own
/// calls; one allreduce after the deciding call sums them over the ranks, so every rank picks alike. The schedule counts
/// the calls that succeeded, which every rank agrees on (every rank makes the same calls, and a failure raises on every
/// rank); a failed call is not counted, so its retry takes the same way.
/// <para>
/// The decision (<see cref="Decide"/>) compares each way's median call, robust to the one call in a few that a busy
/// machine stretches by half (measured: 4 ranks on 2 cores, 93 ms calls with one in four at 130–270 ms). A way other
/// than dense must also beat the dense route's fastest measured call: the dense route is what the caller had without
/// compression, a wrong pick of another way cost up to 25 % in the bench, and a gain smaller than the calls' spread is
/// not worth that risk. Where the node-aware exchange is a way, so is the node-aware dense sum (<see cref="Exchange.DenseNode"/>):
/// the two dense ways are compared by their medians like any two, and "the dense route's fastest call" is the faster of
/// theirs. Between rounds, the winner is watched: every <see cref="WatchCalls"/> calls one allreduce sums its last calls
/// over the ranks, and where their median has become slower than its bar, twice in a row, a dense way takes the calls
/// until the next round. A winner other than dense is held to the dense route's fastest call at the decision, and gives
/// way to the dense way with the faster median; a dense winner is held to the other dense way's median at the decision
/// by <see cref="DenseWatchMargin"/>, and gives way to it.
/// </para>
/// </remarks>
internal sealed class ExchangeChoice
{
    /// <summary>
    /// Visits of the flat exchange's first trial (one call each): the time rule routes from its 5th call on, and settles
    /// by the 8th; the last <see cref="MeasuredCalls"/> are its routed calls.
    /// </summary>
    internal const int FlatTrialVisits = 9;

    /// <summary>Visits of every other trial: the first warms up, the others are measured.</summary>
    internal const int TrialVisits = 6;

    /// <summary>
    /// Calls of a visit of the node-aware exchange, the last measured. Its first call after a call of another way is slow:
    /// measured at 2×4 ranks, 1 Gbit/s, its trial calls right after a flat call took 1.0–2.0× (median 1.4×) its calls
    /// later on, in every compressor, and lost trials it should have won; its second call in a row took about what its
    /// later calls did. The flat exchange's calls right after a node-aware call were no slower than right after a dense one.
    /// Also in retrials past the 30th call, so not the JIT's first calls alone; nor the ranks arriving apart, nor TCP's
    /// slow start after idle (docs/network-benchmarks.md). The node-aware dense sum's visits are as long: measured as
    /// single calls right after a flat dense call, its trial medians were 1.1–3.0× its timed steps' (2×4, 10 and
    /// 25 Gbit/s) and lost it the choice where it was the faster dense way.
    /// </summary>
    internal const int NodeAwareVisitCalls = 2;

    /// <summary>
    /// The last visits of a trial whose last call is measured (the first may still warm caches and bases up); odd, for a
    /// median, which two stretched calls do not move. With 3, two stretched calls of the node-aware dense sum in one trial
    /// (180–272 ms against its 90–100 ms) kept <c>MPI_Allreduce</c>, 1.6–1.7× slower, in 2 of 28 choices at 2×4 ranks.
    /// </summary>
    internal const int MeasuredCalls = 5;

    /// <summary>Calls in a cycle: a round of trials of the others that are due, then the winner's calls, so that a change of load or link is noticed.</summary>
    internal const int RetrialEvery = 200;

    /// <summary>
    /// The share of the calls' time that the later rounds may spend on ways slower than the winner, over every way they
    /// try: a way whose trial costs more than its part is tried in fewer cycles (<see cref="CyclesBetweenTrials"/>). Tried
    /// every cycle, the others cost 17 % of the cycle's time at 2×4 ranks, 1 Gbit/s (spectral s = 3 on ResNet-18: 16 calls
    /// of 345–516 ms where node-aware took about 140).
    /// </summary>
    internal const double RetrialShare = 0.03;

    /// <summary>The most cycles between two trials of a way: however slow its last trial, it is tried again within this.</summary>
    internal const int MaxCyclesBetweenTrials = 64;

    /// <summary>Calls of the winner between two looks at them (<see cref="Watch"/>).</summary>
    internal const int WatchCalls = 5;

    /// <summary>
    /// Slow looks in a row that hand the calls over to the dense route: a handover on one slow window lasts until the next
    /// round (up to <see cref="RetrialEvery"/> calls without the kept way's gain), a second look costs
    /// <see cref="WatchCalls"/> more calls of a drift (measured: one slow window handed flat calls of 2.5× over).
    /// </summary>
    internal const int SlowLooks = 2;

    /// <summary>
    /// How much slower than the other dense way's median at the decision a dense winner's watched median must be for the
    /// calls to go to that way: the goal's 5 %, below which a switch between the dense ways is not worth its noise (two
    /// dense ways as fast as each other would otherwise hand the calls back and forth on the calls' spread alone). Without
    /// it, in one run at 2×4 ranks, 10 Gbit/s, <c>MPI_Allreduce</c> kept the calls on a trial of 110.5 against 118.1 ms,
    /// then took 138 ms a call against 113 for the node-aware dense sum until the next round.
    /// </summary>
    internal const double DenseWatchMargin = 0.05;

    private readonly long _warmupSteps;
    private readonly Exchange[] _ways;
    private readonly TrialCall[] _firstRound;
    private readonly long[] _dueCycle;   // by index in _ways: the cycle whose round tries the way next (unless it wins)
    private long _roundCycle = -1;   // the cycle whose round _round is, fixed when first asked for
    private TrialCall[] _round = [];
    private Dictionary<long, double> _seconds = [];
    private long _calls;   // calls past the warm-up that succeeded: the position in the schedule
    private Exchange _winner;
    private double _denseFastest = double.NaN;   // the dense ways' fastest measured call at the last decision (mean over the ranks); NaN: none since this instance began
    private Exchange _denseWinner = Exchange.Dense;   // the dense way with the faster median at the last decision
    private int _slowLooks;   // looks in a row at the winner that found it slower than _watchBar
    private double _watchBar = double.NaN;   // the watched winner's median slower than this is a slow look; NaN: not watched
    private Exchange _watchHandsTo;   // the way a watched winner gives the calls to

    /// <summary>A choice between the flat exchange and the dense route, and the node-aware exchange with <paramref name="nodeAware"/>.</summary>
    public ExchangeChoice(long warmupSteps, bool nodeAware)
    {
        _warmupSteps = warmupSteps;
        _ways = nodeAware ? [Exchange.NodeAware, Exchange.Flat, Exchange.Dense, Exchange.DenseNode] : [Exchange.Flat, Exchange.Dense];
        _firstRound = FirstRound(_ways);
        _dueCycle = new long[_ways.Length];
        _winner = _ways[0];
    }

    /// <summary>
    /// The last decision: each way's median call time (each call's mean over the ranks), seconds, in <see cref="Exchange"/>
    /// order (NaN: not tried); after a switch to dense on watching the winner (<see cref="Watch"/>), the winner's watched
    /// median and the bar it was held to, under the way it handed the calls to.
    /// </summary>
    public double[]? LastComparison { get; private set; }

    /// <summary>The way the watch (<see cref="Watch"/>) handed the calls over from to a dense way since the last decision; null: none.</summary>
    public Exchange? HandedOverFrom { get; private set; }

    /// <summary>The way the calls go between trials (the first way before the first decision).</summary>
    public Exchange Winner => _winner;

    /// <summary>The way the next call, at <paramref name="step"/>, goes.</summary>
    public Exchange At(long step) =>
        step < _warmupSteps ? _ways[0]   // every tensor goes dense in the warm-up: nothing to compare yet
        : Trial(_calls) ?? _winner;

    /// <summary>
    /// Records that the call at <paramref name="step"/> succeeded on every rank in <paramref name="seconds"/> here; after
    /// the last call of a round of trials, decides with one allreduce over <paramref name="world"/>, on every rank at that
    /// step, and returns true; between rounds, looks at the winner every <see cref="WatchCalls"/> calls
    /// (<see cref="Watch"/>) and returns true where it gives way to a dense way.
    /// </summary>
    public bool Completed(ICommunicator world, long step, double seconds)
    {
        if (step < _warmupSteps)
        {
            return false;
        }

        long position = _calls++;
        _seconds[position] = seconds;
        _seconds.Remove(position - (2 * RetrialEvery));
        if (Trial(position) is not null && Trial(position + 1) is null)
        {
            Decide(world, position);
            return true;
        }

        return Watched(position) && Watch(world, position);
    }

    /// <summary>
    /// Whether the winner's calls are looked at after the call at <paramref name="position"/>: every
    /// <see cref="WatchCalls"/> calls between rounds, while the winner has a bar (<see cref="SetWatch"/>), with room
    /// before the next round for the winner's calls that the next decision measures.
    /// </summary>
    private bool Watched(long position)
    {
        long cycle = position / RetrialEvery, at = position % RetrialEvery;
        long since = at - TrialsLength(cycle);
        return double.IsFinite(_watchBar) && since >= 0 && since % WatchCalls == WatchCalls - 1
            && RetrialEvery - 1 - at > MeasuredCalls;
    }

    /// <summary>
    /// The winner's last <see cref="WatchCalls"/> calls, summed over the ranks call by call (one allreduce): where their
    /// median is slower than its bar (<see cref="SetWatch"/>), <see cref="SlowLooks"/> looks in a row, the dense way the
    /// bar came from takes the calls until the next round of trials, and true is returned. A winner's calls can drift
    /// after its trial (the flat exchange's time rule goes on fitting the link and routing: measured 82 ms in its trial,
    /// 96 ms in the calls after, against 95 ms all dense), which a round every <see cref="RetrialEvery"/> calls would
    /// notice only much later.
    /// </summary>
    private bool Watch(ICommunicator world, long position)
    {
        var calls = new float[WatchCalls];
        CallsEndingAt(position, calls);
        world.AllreduceSum(calls);
        double median = SortedMedian(calls, world.Size);
        double margin = _winner.IsDense() ? 1 + DenseWatchMargin : 1;
        _slowLooks = median > _watchBar * margin ? _slowLooks + 1 : 0;
        if (_slowLooks < SlowLooks)
        {
            return false;
        }

        double[] comparison = NoneCompared();
        comparison[(int)_winner] = median;
        comparison[(int)_watchHandsTo] = _watchBar;
        LastComparison = comparison;
        HandedOverFrom = _winner;
        _dueCycle[Array.IndexOf(_ways, _winner)] = (position / RetrialEvery) + 1;   // tried again at the next round, whatever its last trial
        _winner = _watchHandsTo;
        _watchBar = double.NaN;   // the way handed to is not watched until the next decision
        return true;
    }

    /// <summary>
    /// After a decision, the bar the winner's watched calls are held to (<see cref="Watch"/>) and the way they give the
    /// calls to: for a way other than dense, the dense route's fastest call and the dense way with the faster median; for
    /// a dense winner, the other dense way's median in <paramref name="medians"/>, where the decision measured it. None
    /// where there is nothing measured to hold the winner to (no dense call since a resume; one dense way, or the other
    /// not tried in the round).
    /// </summary>
    private void SetWatch(double[] medians)
    {
        _watchBar = double.NaN;
        if (!_winner.IsDense())
        {
            (_watchBar, _watchHandsTo) = (_denseFastest, _denseWinner);
            return;
        }

        for (int w = 0; w < _ways.Length; w++)
        {
            if (_ways[w].IsDense() && _ways[w] != _winner && !double.IsNaN(medians[w]))
            {
                (_watchBar, _watchHandsTo) = (medians[w], _ways[w]);
            }
        }
    }

    /// <summary>The calls of the round of trials at the start of <paramref name="cycle"/> (the first tries every way; later ones all but the winner).</summary>
    private long TrialsLength(long cycle) => Round(cycle).Length;

    /// <summary>
    /// The round of trials at the start of <paramref name="cycle"/>, call by call: in the first round every way
    /// (<see cref="FlatTrialVisits"/> visits of the flat one, <see cref="TrialVisits"/> of the others), in later ones the
    /// ways but the winner that are due in it, <see cref="TrialVisits"/> visits each (none due: no round, no decision);
    /// each way's visits spread evenly over the round. Fixed when first asked for in its cycle, so that a decision or a
    /// handover within the cycle does not move the calls already counted.
    /// </summary>
    private TrialCall[] Round(long cycle)
    {
        if (cycle != _roundCycle)
        {
            Exchange[] due = [.. _ways.Where((way, w) => way != _winner && _dueCycle[w] <= cycle)];
            _round = cycle == 0 ? _firstRound : Interleave(due, [.. due.Select(_ => TrialVisits)]);
            _roundCycle = cycle;
        }

        return _round;
    }

    /// <summary>
    /// Cycles until a way is tried again, from its <paramref name="trialCost"/> (seconds its next trial would take beyond
    /// the winner's calls) and its <paramref name="budget"/> (seconds of a cycle's calls it may take): 1 where the cost
    /// fits, else the power of two that brings it within, up to <see cref="MaxCyclesBetweenTrials"/>.
    /// </summary>
    internal static int CyclesBetweenTrials(double trialCost, double budget)
    {
        int cycles = 1;
        while (cycles < MaxCyclesBetweenTrials && !(trialCost <= budget * cycles))
        {
            cycles *= 2;
        }

        return cycles;
    }

    /// <summary>Calls from now until the round that tries <paramref name="way"/> next begins; null while it wins, or for a way this choice has not.</summary>
    public long? CallsUntilTrial(Exchange way)
    {
        int w = Array.IndexOf(_ways, way);
        return w < 0 || way == _winner ? null : (Math.Max(_dueCycle[w], (_calls + RetrialEvery - 1) / RetrialEvery) * RetrialEvery) - _calls;
    }

    /// <summary>The first round of trials over <paramref name="ways"/>, call by call (tests follow it).</summary>
    internal static TrialCall[] FirstRound(IReadOnlyList<Exchange> ways) =>
        Interleave(ways, [.. ways.Select(way => way == Exchange.Flat ? FlatTrialVisits : TrialVisits)]);

    /// <summary>The calls of one visit of <paramref name="way"/> in a round of trials.</summary>
    internal static int VisitCalls(Exchange way) => way is Exchange.NodeAware or Exchange.DenseNode ? NodeAwareVisitCalls : 1;

    /// <summary>
    /// <paramref name="visits"/>[w] visits of each of <paramref name="ways"/>, spread evenly: visit i of a way with v
    /// visits is due at i / v of the round, and the visits go in that order, ties to the earlier way (so the first call is
    /// the first way's, as in the warm-up); each visit's calls in a row, its last measured. The same on every rank.
    /// </summary>
    private static TrialCall[] Interleave(IReadOnlyList<Exchange> ways, int[] visits)
    {
        var due = new List<(int Visit, int Way)>();
        for (int w = 0; w < ways.Count; w++)
        {
            for (int v = 0; v < visits[w]; v++)
            {
                due.Add((v, w));
            }
        }

        due.Sort((a, b) =>
        {
            long x = (long)a.Visit * visits[b.Way], y = (long)b.Visit * visits[a.Way];   // a.Visit / visits[a.Way] against b.Visit / visits[b.Way]
            return x != y ? x.CompareTo(y) : a.Way.CompareTo(b.Way);
        });
        var round = new List<TrialCall>();
        foreach ((_, int w) in due)
        {
            int calls = VisitCalls(ways[w]);
            for (int c = 1; c <= calls; c++)
            {
                round.Add(new TrialCall(ways[w], Measured: c == calls));
            }
        }

        return [.. round];
    }

    /// <summary>The way tried at <paramref name="position"/> (calls past the warm-up); null between rounds of trials.</summary>
    private Exchange? Trial(long position)
    {
        long cycle = position / RetrialEvery, at = position % RetrialEvery;
        TrialCall[] round = Round(cycle);
        return at < round.Length ? round[at].Way : null;
    }

    /// <summary>
    /// Sums each way's last <see cref="MeasuredCalls"/> measured calls in the round of trials that ends at
    /// <paramref name="lastPosition"/> (the winner's: its calls just before the round) over the ranks, call by call, and
    /// keeps the way with the fastest median call, a way other than dense only where that median beats every measured
    /// call of the dense route (ties go to the earlier way in <see cref="Exchange"/>). A way the round did not try is not
    /// compared; where it tried neither dense way, their last decision's stands. Then sets when each loser is tried again
    /// (<see cref="Reschedule"/>).
    /// </summary>
    private void Decide(ICommunicator world, long lastPosition)
    {
        long roundStart = lastPosition - (lastPosition % RetrialEvery);
        TrialCall[] round = Round(roundStart / RetrialEvery);
        var calls = new float[_ways.Length * MeasuredCalls];
        var compared = new bool[_ways.Length];   // tried in this round, or the winner (its calls before it)
        for (int w = 0; w < _ways.Length; w++)
        {
            Span<float> measured = calls.AsSpan(w * MeasuredCalls, MeasuredCalls);
            int found = 0;
            for (int at = round.Length - 1; at >= 0 && found < MeasuredCalls; at--)
            {
                if (round[at] == new TrialCall(_ways[w], Measured: true))
                {
                    measured[MeasuredCalls - 1 - found++] = Seconds(roundStart + at);
                }
            }

            if (found == 0 && _ways[w] == _winner)
            {
                CallsEndingAt(roundStart - 1, measured);   // the winner, not tried in this round
            }

            compared[w] = found > 0 || _ways[w] == _winner;
        }

        world.AllreduceSum(calls);
        var medians = new double[_ways.Length];
        double denseFastest = double.PositiveInfinity;
        for (int w = 0; w < _ways.Length; w++)
        {
            Span<float> way = calls.AsSpan(w * MeasuredCalls, MeasuredCalls);
            medians[w] = compared[w] ? SortedMedian(way, world.Size) : double.NaN;
            denseFastest = compared[w] && _ways[w].IsDense() ? Math.Min(denseFastest, way[0] / (double)world.Size) : denseFastest;
        }

        int denseBest = -1;
        for (int w = 0; w < _ways.Length; w++)
        {
            denseBest = _ways[w].IsDense() && !double.IsNaN(medians[w]) && (denseBest < 0 || medians[w] < medians[denseBest]) ? w : denseBest;
        }

        if (denseBest >= 0)
        {
            _denseWinner = _ways[denseBest];
            _denseFastest = denseFastest;
        }

        int best = Array.IndexOf(_ways, _denseWinner);
        for (int w = 0; w < _ways.Length; w++)
        {
            bool candidate = _ways[w].IsDense() ? w == denseBest : !double.IsNaN(medians[w]) && !(medians[w] >= _denseFastest);   // no dense call measured since a resume: no bar
            best = candidate && (double.IsNaN(medians[best]) || medians[w] < medians[best] || (medians[w] == medians[best] && w < best)) ? w : best;
        }

        _winner = _ways[best];
        _slowLooks = 0;
        HandedOverFrom = null;
        SetWatch(medians);
        Reschedule(roundStart / RetrialEvery, medians, double.IsNaN(medians[best]) ? _denseFastest : medians[best]);
        double[] comparison = NoneCompared();
        for (int w = 0; w < _ways.Length; w++)
        {
            comparison[(int)_ways[w]] = medians[w];
        }

        LastComparison = comparison;
    }

    /// <summary>
    /// After the decision at <paramref name="cycle"/>: the cycle at whose round each way the decision compared, but the
    /// winner, is tried next. Its trial costs its calls in a round times what its median call took beyond the winner's
    /// (<paramref name="winnerSeconds"/>); each of the others may spend its share of <see cref="RetrialShare"/> of the
    /// cycles' calls on it (<see cref="CyclesBetweenTrials"/>): a way close to the winner is tried every cycle, one far
    /// slower rarely, so that trying cannot cost more than the choice saves.
    /// </summary>
    private void Reschedule(long cycle, double[] medians, double winnerSeconds)
    {
        double budget = RetrialShare / (_ways.Length - 1) * RetrialEvery * winnerSeconds;
        for (int w = 0; w < _ways.Length; w++)
        {
            if (_ways[w] != _winner && !double.IsNaN(medians[w]))
            {
                double trialCost = TrialVisits * VisitCalls(_ways[w]) * Math.Max(0, medians[w] - winnerSeconds);
                _dueCycle[w] = cycle + CyclesBetweenTrials(trialCost, budget);
            }
        }
    }

    /// <summary>This rank's times of the calls that end at <paramref name="last"/>, one per element of <paramref name="into"/> (0 where none is kept).</summary>
    private void CallsEndingAt(long last, Span<float> into)
    {
        for (int c = 0; c < into.Length; c++)
        {
            into[c] = Seconds(last - into.Length + 1 + c);
        }
    }

    /// <summary>This rank's time of the call at <paramref name="position"/> (0 where none is kept).</summary>
    private float Seconds(long position) => (float)_seconds.GetValueOrDefault(position);

    /// <summary>Sorts <paramref name="summed"/> (calls, each summed over <paramref name="ranks"/> ranks) and returns their median call, each call's mean over the ranks.</summary>
    private static double SortedMedian(Span<float> summed, int ranks)
    {
        summed.Sort();
        return summed[summed.Length / 2] / (double)ranks;
    }

    /// <summary>A comparison with no way in it yet: NaN for each way of <see cref="Exchange"/>.</summary>
    private static double[] NoneCompared()
    {
        var comparison = new double[Enum.GetValues<Exchange>().Length];
        Array.Fill(comparison, double.NaN);
        return comparison;
    }

    /// <summary>Whether the node-aware exchange is one of the ways.</summary>
    public bool HasNodeAware => _ways[0] == Exchange.NodeAware;

    /// <summary>
    /// Writes the ways, the position in the schedule, the winner, the measured calls and when each way is tried next, so
    /// that a resumed run goes on with them; not the bar the winner is watched against, so a resumed run watches its winner
    /// from its next decision on.
    /// </summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(HasNodeAware);
        writer.Write(_calls);
        writer.Write((int)_winner);
        writer.Write(_seconds.Count);
        foreach ((long step, double seconds) in _seconds.OrderBy(pair => pair.Key))
        {
            writer.Write(step);
            writer.Write(seconds);
        }

        foreach (long cycle in _dueCycle)
        {
            writer.Write(cycle);
        }
    }

    /// <summary>
    /// Reads what <see cref="Save"/> wrote, into a new instance; <paramref name="withTrialCycles"/>: with when each way is
    /// tried next (states saved before they were kept have not: every way is then tried at the next round).
    /// </summary>
    /// <exception cref="InvalidDataException">A value no schedule can hold.</exception>
    public static ExchangeChoice Load(BinaryReader reader, long warmupSteps, bool withTrialCycles)
    {
        var choice = new ExchangeChoice(warmupSteps, nodeAware: reader.ReadBoolean()) { _calls = reader.ReadInt64() };
        int winner = reader.ReadInt32();
        if (choice._calls < 0 || !choice._ways.Contains((Exchange)winner))
        {
            throw new InvalidDataException($"The averager state's exchange choice is at call {choice._calls} with way {winner}, which it does not have.");
        }

        choice._winner = (Exchange)winner;
        int count = AveragerState.ReadCount(reader, 2 * RetrialEvery, "measured calls of the exchange choice");
        choice._seconds = new Dictionary<long, double>(count);
        for (int i = 0; i < count; i++)
        {
            long step = reader.ReadInt64();
            double seconds = reader.ReadDouble();
            if (step < 0 || step >= choice._calls || !(seconds >= 0) || double.IsInfinity(seconds) || !choice._seconds.TryAdd(step, seconds))
            {
                throw new InvalidDataException($"The averager state's exchange choice holds call {step} of {seconds} s (it is at call {choice._calls}).");
            }
        }

        long cycle = choice._calls / RetrialEvery;
        for (int w = 0; withTrialCycles && w < choice._dueCycle.Length; w++)
        {
            long due = reader.ReadInt64();
            if (due < 0 || due > cycle + MaxCyclesBetweenTrials)
            {
                throw new InvalidDataException($"The averager state's exchange choice tries {choice._ways[w]} next in cycle {due}, at call {choice._calls} (at most {MaxCyclesBetweenTrials} cycles on).");
            }

            choice._dueCycle[w] = due;
        }

        return choice;
    }
}

/// <summary>
/// An averager's choices of exchange, one per kind of call (its set of shapes): a caller that averages layer by layer
/// makes calls of several sizes, and a trial must compare calls of one kind. A kind is recorded when its first call
/// succeeds (on every rank alike), up to <see cref="MaxKinds"/>; calls of further kinds take the default way.
/// </summary>
internal sealed class ExchangeChoices(long warmupSteps, bool nodeAware)
{
    /// <summary>Kinds of call with a choice of their own; more would mean shapes that change call after call.</summary>
    internal const int MaxKinds = 64;

    private readonly Dictionary<long, ExchangeChoice> _byShapes = [];

    /// <summary>Whether the node-aware exchange is one of the ways.</summary>
    public bool HasNodeAware => nodeAware;

    /// <summary>The choice of the last call that succeeded (null before one, or when its kind had none).</summary>
    public ExchangeChoice? Last { get; private set; }

    /// <summary>The way the next call, of the kind <paramref name="shapesHash"/>, at <paramref name="step"/>, goes; <paramref name="unchosen"/> when its kind has no choice.</summary>
    public Exchange At(long shapesHash, long step, Exchange unchosen) =>
        _byShapes.TryGetValue(shapesHash, out ExchangeChoice? choice) ? choice.At(step)
        : _byShapes.Count < MaxKinds ? new ExchangeChoice(warmupSteps, nodeAware).At(step)
        : unchosen;

    /// <summary>Records a call that succeeded on every rank; true when it decided (see <see cref="ExchangeChoice.Completed"/>).</summary>
    public bool Completed(ICommunicator world, long shapesHash, long step, double seconds)
    {
        if (!_byShapes.TryGetValue(shapesHash, out ExchangeChoice? choice))
        {
            if (_byShapes.Count >= MaxKinds)
            {
                Last = null;
                return false;
            }

            _byShapes[shapesHash] = choice = new ExchangeChoice(warmupSteps, nodeAware);
        }

        Last = choice;
        return choice.Completed(world, step, seconds);
    }

    /// <summary>
    /// The first byte of the section with when each way is tried next, plus 1 with the node-aware exchange; 0 or 1 (the
    /// node-aware flag alone) begin a section saved before.
    /// </summary>
    private const byte WithTrialCycles = 2;

    /// <summary>Writes every kind's choice.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write((byte)(WithTrialCycles + (nodeAware ? 1 : 0)));
        writer.Write(_byShapes.Count);
        foreach ((long shapes, ExchangeChoice choice) in _byShapes.OrderBy(pair => pair.Key))
        {
            writer.Write(shapes);
            choice.Save(writer);
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote, into a new instance.</summary>
    /// <exception cref="InvalidDataException">A value no choice can hold.</exception>
    public static ExchangeChoices Load(BinaryReader reader, long warmupSteps)
    {
        byte first = reader.ReadByte();
        if (first > WithTrialCycles + 1)
        {
            throw new InvalidDataException($"The averager state's exchange choices begin with {first}, which no version wrote.");
        }

        var choices = new ExchangeChoices(warmupSteps, nodeAware: first % 2 == 1);
        int count = AveragerState.ReadCount(reader, MaxKinds, "kinds of call of the exchange choice");
        for (int i = 0; i < count; i++)
        {
            long shapes = reader.ReadInt64();
            ExchangeChoice choice = ExchangeChoice.Load(reader, warmupSteps, withTrialCycles: first >= WithTrialCycles);
            if (choice.HasNodeAware != choices.HasNodeAware || !choices._byShapes.TryAdd(shapes, choice))
            {
                throw new InvalidDataException("The averager state's exchange choices disagree on their ways or repeat a kind of call.");
            }
        }

        return choices;
    }
}
