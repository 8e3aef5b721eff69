using System.Diagnostics;

namespace AtomoCollectives;

/// <summary>
/// What one call of <see cref="AtomoAllreduce"/> measured on this rank, in <see cref="TimeSpan"/> ticks (100 ns):
/// each tensor's encode and decode (−1 where it was not encoded or decoded) and the call's collectives, with the bytes
/// per rank each collective moved (the same on every rank).
/// </summary>
internal sealed class CallTimings
{
    public CallTimings(int count)
    {
        Encode = new long[count];
        Decode = new long[count];
        Array.Fill(Encode, -1);
        Array.Fill(Decode, -1);
    }

    public long[] Encode { get; }

    public long[] Decode { get; }

    /// <summary>The allgather of the payload lengths (and, with <see cref="RoutingRule.Time"/>, of the previous call's timings).</summary>
    public long Lengths { get; set; }

    /// <summary>The allgatherv of the payloads.</summary>
    public long Gather { get; set; }

    /// <summary>The dense allreduce.</summary>
    public long Dense { get; set; }

    /// <summary>Checking, copying in and scaling the dense tensors: what the dense route costs besides its allreduce.</summary>
    public long DenseLocal { get; set; }

    /// <summary>Bytes each rank received in the lengths allgather.</summary>
    public double LengthsBytes { get; set; }

    /// <summary>Bytes each rank received in the payload allgatherv, on average over ranks.</summary>
    public double GatherBytes { get; set; }

    /// <summary>Bytes each rank sent in the dense ring allreduce (<see cref="AllreduceStatistics.RingAllreduceBytes"/>).</summary>
    public double DenseBytes { get; set; }

    /// <summary>Elements of the dense tensors.</summary>
    public long DenseElements { get; set; }

    /// <summary>Ticks since <paramref name="timestamp"/> (a <see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static long Since(long timestamp) => Stopwatch.GetElapsedTime(timestamp).Ticks;
}

/// <summary>
/// <see cref="RoutingRule.Time"/> for one <see cref="AtomoAllreduce"/> (docs/gradient-averagers.md, "Routing by time").
/// Each call's lengths allgather also carries every rank's measurements of the previous call; folded in the same order
/// on every rank (collectives: the fastest rank's time, the one that waited least; a tensor's encode and decode: its
/// share of the slowest rank's phase), they update an agreed model: the <see cref="LinkFit"/> and, per tensor position, smoothed encode, decode
/// and payload. From it the routes of the next call are planned, before anything is encoded: dense when the dense
/// allreduce of the tensor is predicted no slower than encoding, gathering and decoding it, for every β the fit finds
/// plausible (a close call on a noisy link keeps its route). A tensor routed dense is
/// compressed again now and then (a probe) so that an early misjudgement does not stick: the closer the call, the
/// sooner, and all probes together cost at most <see cref="ProbeBudget"/> of the step on average.
/// </summary>
internal sealed class TimeRouting
{
    /// <summary>Calls folded into the link model before its predictions are used.</summary>
    public const int MinimumCalls = 2;

    /// <summary>Encodes of a tensor measured before it may be routed dense by time.</summary>
    public const int MinimumSamples = 2;

    /// <summary>
    /// What probing may cost, as a fraction of the predicted all-dense time of the tensors the rule decides: a tensor
    /// predicted p seconds slower compressed, one of D routed dense, is probed every p·D / (budget · Σ dense) calls, so
    /// that the D of them together stay within the budget on average.
    /// </summary>
    public const double ProbeBudget = 0.01;

    /// <summary>Standard errors of β on either side within which a route must hold to be chosen by time.</summary>
    public const double Confidence = 2;

    /// <summary>The shortest interval between probes of a tensor (a near tie), in calls.</summary>
    public const int MinimumProbeInterval = 8;

    /// <summary>The longest interval between probes of a tensor (one predicted far slower compressed), in calls.</summary>
    public const int MaximumProbeInterval = 512;

    /// <summary>Ints each rank sends per call besides its lengths: the state digest (2), then per tensor encode and decode, then 4 call timings.</summary>
    private static int ExtraInts(int count) => 2 + (2 * count) + 4;

    private readonly int _ranks;
    private readonly List<Position> _positions = [];
    private LinkFit _link = new();
    private double _localSeconds, _localElements;   // the dense route's own compute, forgetting like the link
    private long _foldedCalls;
    private long _digest;
    private LinkEstimate? _estimate;
    private bool[] _probing = [];                   // this call's probes (planned dense, compressed to measure)
    private CallRecord? _pending;                   // this rank's measurements of the last completed call
    private CallRecord? _sending;                   // ... taken by the current call
    private long _completedCalls;
    private int _exchangedInts;                     // ints per rank in this call's lengths allgather

    public TimeRouting(int ranks)
    {
        _ranks = ranks;
        _digest = ComputeDigest();
    }

    /// <summary>The link model of the last plan (null until it is determined).</summary>
    public LinkEstimate? Link => _estimate;

    /// <summary>
    /// Starts a call: takes the previous call's measurements to send. Whatever fails in this call, they are not sent
    /// twice, and every rank drops them alike (the protocol fails a call on every rank or on none).
    /// </summary>
    public void BeginCall(int count)
    {
        _sending = _pending;
        _pending = null;
        _probing = new bool[count];
    }

    /// <summary>
    /// The planned route of a tensor the policy would compress: <see cref="TensorRoute.DenseFaster"/> or, when the
    /// plan has nothing for this position and shape, is to compress, or a probe is due, <see cref="TensorRoute.Compressed"/>.
    /// Reads the agreed plan only (it runs before the ranks have checked that they make the same call).
    /// </summary>
    public TensorRoute Route(int tensor, TensorShape shape, long step, out RoutePrediction? prediction)
    {
        prediction = null;
        if (tensor >= _positions.Count || _positions[tensor].Shape != shape)
        {
            return TensorRoute.Compressed;
        }

        Position position = _positions[tensor];
        prediction = position.Prediction;
        if (position.Planned != TensorRoute.DenseFaster)
        {
            return TensorRoute.Compressed;
        }

        _probing[tensor] = step >= position.NextProbe;
        if (_probing[tensor])
        {
            prediction = prediction is { } p ? p with { Probe = true } : null;
            return TensorRoute.Compressed;
        }

        return TensorRoute.DenseFaster;
    }

    /// <summary>
    /// The lengths allgather, widened by this rank's state digest and measurements of the previous call: fills
    /// <paramref name="allLengths"/> (rank by rank), checks that every rank holds the same model, folds the agreed
    /// measurements into it and plans the next call.
    /// </summary>
    /// <exception cref="InvalidOperationException">The ranks' models differ (raised on every rank).</exception>
    public void ExchangeLengths(ICommunicator communicator, ReadOnlySpan<int> lengths, Span<int> allLengths, long step, CallTimings timings)
    {
        int count = lengths.Length;
        _exchangedInts = count + ExtraInts(count);
        CallRecord? record = _sending;
        _sending = null;

        // The digest of the state this call was routed by, and which record follows: both must be the same everywhere.
        long digest = CallAgreement.Mix(_digest, record?.Count ?? -1);
        var send = new int[_exchangedInts];
        lengths.CopyTo(send);
        send[count] = (int)digest;
        send[count + 1] = (int)(digest >> 32);
        record?.WriteMeasurements(send.AsSpan(count + 2), count);

        var all = new int[_exchangedInts * _ranks];
        long start = Stopwatch.GetTimestamp();
        communicator.Allgather<int>(send, all);
        timings.Lengths = CallTimings.Since(start);
        timings.LengthsBytes = (_ranks - 1) * 4.0 * _exchangedInts;

        for (int r = 0; r < _ranks; r++)
        {
            all.AsSpan(r * _exchangedInts, count).CopyTo(allLengths[(r * count)..]);
        }

        CheckDigests(all, count, step);
        if (record is not null)
        {
            Fold(record, all, count);
        }

        for (int t = 0; t < _probing.Length; t++)
        {
            if (_probing[t])
            {
                _positions[t].NextProbe = step + MinimumProbeInterval;   // not again before its result is in
            }
        }

        Plan(step, record);
        _digest = ComputeDigest();
    }

    /// <summary>
    /// Ends a call that succeeded on every rank: keeps this rank's measurements to send with the next call. The first
    /// call of an instance is not kept (it pays for JIT compilation and cold caches).
    /// </summary>
    public void Complete(ReadOnlySpan<TensorDecision> decisions, CallTimings timings, ReadOnlySpan<int> allLengths, long gatheredBytes, long denseElements, long step)
    {
        timings.GatherBytes = (_ranks - 1) * (double)gatheredBytes / _ranks;
        timings.DenseBytes = AllreduceStatistics.RingAllreduceBytes(denseElements + 1, _ranks);   // with the decode outcome
        timings.DenseElements = denseElements;
        TestHooks.Timings?.Invoke(step, timings);
        if (++_completedCalls == 1)
        {
            return;
        }

        int count = decisions.Length;
        var record = new CallRecord(count)
        {
            LengthsBytes = timings.LengthsBytes,
            GatherBytes = timings.GatherBytes,
            DenseBytes = timings.DenseBytes,
            DenseElements = timings.DenseElements,
        };
        for (int t = 0; t < count; t++)
        {
            TensorDecision decision = decisions[t];
            bool encoded = decision.Route is TensorRoute.Compressed or TensorRoute.DenseCheaper;
            record.Shapes[t] = decision.Shape;
            record.Probes[t] = decision.Prediction?.Probe == true;
            record.Local[t] = encoded ? Ticks(timings.Encode[t]) : -1;
            record.Local[count + t] = decision.Route == TensorRoute.Compressed ? Ticks(timings.Decode[t]) : -1;
            if (encoded)
            {
                long sum = 0;
                for (int r = 0; r < _ranks; r++)
                {
                    sum += allLengths[(r * count) + t];
                }

                record.Payloads[t] = (double)sum / _ranks;
            }
        }

        record.Local[2 * count] = Ticks(timings.Lengths);
        record.Local[(2 * count) + 1] = Ticks(timings.Gather);
        record.Local[(2 * count) + 2] = Ticks(timings.Dense);
        record.Local[(2 * count) + 3] = Ticks(timings.DenseLocal);
        _pending = record;
    }

    /// <summary>Writes the agreed model (not the measurements still to send: a resumed run starts a new instance, whose first call is not kept either).</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(_positions.Count);
        foreach (Position position in _positions)
        {
            position.Save(writer);
        }

        foreach (double sum in _link.Sums)
        {
            writer.Write(sum);
        }

        writer.Write(_localSeconds);
        writer.Write(_localElements);
        writer.Write(_foldedCalls);
    }

    /// <summary>Reads what <see cref="Save"/> wrote, into a new instance (so that a refused state changes nothing).</summary>
    /// <exception cref="InvalidDataException">A value no model can hold.</exception>
    public static TimeRouting Load(BinaryReader reader, int ranks)
    {
        var routing = new TimeRouting(ranks);
        int count = AveragerState.ReadCount(reader, AveragerState.MaxTensors, "time-routing positions");
        for (int t = 0; t < count; t++)
        {
            routing._positions.Add(Position.Load(reader));
        }

        var sums = new double[8];
        for (int i = 0; i < sums.Length; i++)
        {
            sums[i] = ReadFinite(reader, "link-model sum", nonNegative: i is 0 or 1 or 2 or 4 or 7);
        }

        routing._link = LinkFit.FromSums(sums);
        routing._localSeconds = ReadFinite(reader, "dense compute seconds", nonNegative: true);
        routing._localElements = ReadFinite(reader, "dense compute elements", nonNegative: true);
        routing._foldedCalls = reader.ReadInt64();
        if (routing._foldedCalls < 0)
        {
            throw new InvalidDataException($"The averager state's time-routing model has folded {routing._foldedCalls} calls.");
        }

        routing._estimate = routing._foldedCalls >= MinimumCalls ? routing._link.Estimate() : null;
        routing._digest = routing.ComputeDigest();
        return routing;
    }

    /// <summary>A double of the saved model: finite, and not negative where <paramref name="nonNegative"/>.</summary>
    internal static double ReadFinite(BinaryReader reader, string what, bool nonNegative)
    {
        double value = reader.ReadDouble();
        if (!double.IsFinite(value) || (nonNegative && value < 0))
        {
            throw new InvalidDataException($"The averager state's time-routing {what} is {value}.");
        }

        return value;
    }

    private static int Ticks(long ticks) => (int)Math.Clamp(ticks, 0, int.MaxValue);

    private static double Seconds(long ticks) => ticks / (double)TimeSpan.TicksPerSecond;

    private void CheckDigests(int[] all, int count, long step)
    {
        long Digest(int rank) => (uint)all[(rank * _exchangedInts) + count] | ((long)all[(rank * _exchangedInts) + count + 1] << 32);
        for (int r = 1; r < _ranks; r++)
        {
            if (Digest(r) != Digest(0))
            {
                throw new InvalidOperationException(
                    $"At step {step}, rank {r}'s time-routing model differs from rank 0's ({nameof(AtomoOptions)}.{nameof(AtomoOptions.Routing)} = {nameof(RoutingRule.Time)}): "
                    + "the ranks loaded averager states of different runs or steps, or only some ranks loaded one. Load every rank's state from the same checkpoint.");
            }
        }
    }

    /// <summary>Folds the agreed measurements of the call <paramref name="record"/> describes (every rank's, from <paramref name="all"/>).</summary>
    private void Fold(CallRecord record, int[] all, int count)
    {
        int tensors = Math.Min(record.Count, count);
        long Measured(int rank, int index) => all[(rank * _exchangedInts) + count + 2 + index];
        long Agreed(int index, bool slowest)
        {
            long value = slowest ? long.MinValue : long.MaxValue;
            for (int r = 0; r < _ranks; r++)
            {
                value = slowest ? Math.Max(value, Measured(r, index)) : Math.Min(value, Measured(r, index));
            }

            return value;
        }

        // A tensor's compute: its sum over ranks, times the slowest rank's share of the phase's total (its mean, scaled
        // by how far the slowest rank's phase exceeded the mean). The step waits for that rank; a per-tensor maximum
        // would add up every rank's scheduling hiccups as if one rank had them all.
        double[] Compute(int first)
        {
            var sums = new long[tensors];
            long total = 0, slowest = 0;
            for (int r = 0; r < _ranks; r++)
            {
                long rankTotal = 0;
                for (int t = 0; t < tensors; t++)
                {
                    long ticks = Math.Max(Measured(r, first + t), 0);
                    sums[t] += ticks;
                    rankTotal += ticks;
                }

                total += rankTotal;
                slowest = Math.Max(slowest, rankTotal);
            }

            return [.. Enumerable.Range(0, tensors).Select(t => Measured(0, first + t) < 0 ? -1 : total == 0 ? 0 : (double)sums[t] * slowest / total / TimeSpan.TicksPerSecond)];
        }

        int calls = 2 * count;
        double rounds = _ranks - 1;
        _foldedCalls++;
        _link.Decay();
        _link.Add(rounds, record.LengthsBytes, Seconds(Agreed(calls, slowest: false)));
        _link.Add(rounds, record.GatherBytes, Seconds(Agreed(calls + 1, slowest: false)));
        _link.Add(2 * rounds, record.DenseBytes, Seconds(Agreed(calls + 2, slowest: false)));
        _localSeconds = (LinkFit.Forgetting * _localSeconds) + Seconds(Agreed(calls + 3, slowest: true));
        _localElements = (LinkFit.Forgetting * _localElements) + record.DenseElements;

        double[] encodes = Compute(0), decodes = Compute(count);
        for (int t = 0; t < tensors; t++)
        {
            Position position = PositionFor(t, record.Shapes[t]);
            bool replace = position.Stale;   // a probe's measurement replaces the stale estimate
            if (encodes[t] >= 0)
            {
                position.Encode = position.Encode.Add(encodes[t], replace);
                position.Payload = position.Payload.Add(record.Payloads[t], replace);
                position.Stale = false;
            }

            if (decodes[t] >= 0)
            {
                position.Decode = position.Decode.Add(decodes[t], replace);
            }
        }
    }

    /// <summary>The routes of the next call, for every position the model knows; and the probe schedule of those routed dense.</summary>
    private void Plan(long step, CallRecord? record)
    {
        _estimate = _foldedCalls >= MinimumCalls ? _link.Estimate() : null;
        double localPerElement = _localElements > 0 ? _localSeconds / _localElements : 0;
        var routes = new TensorRoute[_positions.Count];
        double allDense = 0;
        int dense = 0;
        for (int t = 0; t < _positions.Count; t++)
        {
            Position position = _positions[t];
            LinkEstimate? link = position.Encode.Samples >= MinimumSamples ? _estimate : null;
            position.Prediction = link is { } l ? Predict(position, l.SecondsPerByte, localPerElement) : null;
            routes[t] = link is { } plausible ? Decide(position, plausible, localPerElement) : TensorRoute.Compressed;
            allDense += position.Prediction?.DenseSeconds ?? 0;
            dense += routes[t] == TensorRoute.DenseFaster ? 1 : 0;
        }

        for (int t = 0; t < _positions.Count; t++)
        {
            Position position = _positions[t];
            if (routes[t] == TensorRoute.DenseFaster)
            {
                // Newly dense: the first probe, spread over the interval by position. Just probed and still dense: the next.
                bool probed = record is not null && t < record.Count && record.Probes[t] && record.Shapes[t] == position.Shape;
                RoutePrediction p = position.Prediction!.Value;
                long interval = ProbeInterval(Math.Max(p.CompressedSeconds - p.DenseSeconds, 0), dense, allDense);
                if (position.Planned != TensorRoute.DenseFaster)
                {
                    position.NextProbe = step + interval + (t % interval);
                }
                else if (probed)
                {
                    position.NextProbe = step - 1 + interval;
                }

                position.Stale = true;
            }

            position.Planned = routes[t];
        }
    }

    /// <summary>Calls between probes of a tensor predicted <paramref name="penalty"/> seconds slower compressed, one of <paramref name="dense"/> routed dense (<see cref="ProbeBudget"/>).</summary>
    private static long ProbeInterval(double penalty, int dense, double allDense)
    {
        double calls = allDense > 0 ? Math.Ceiling(penalty * dense / (ProbeBudget * allDense)) : MaximumProbeInterval;
        return (long)Math.Clamp(calls, MinimumProbeInterval, MaximumProbeInterval);
    }

    /// <summary>
    /// The faster route if it is faster for every β within <see cref="Confidence"/> standard errors of the fit (the
    /// difference of the two routes is linear in β, so the interval's ends decide); otherwise the route already planned
    /// (compressed at first: the byte rule's), so that a noisy link neither routes nor flips a close call.
    /// </summary>
    private TensorRoute Decide(Position position, LinkEstimate link, double localPerElement)
    {
        double spread = Confidence * link.SecondsPerByteError;
        RoutePrediction low = Predict(position, link.SecondsPerByte - spread, localPerElement);
        RoutePrediction high = Predict(position, link.SecondsPerByte + spread, localPerElement);
        bool denseAtLow = low.DenseSeconds <= low.CompressedSeconds, denseAtHigh = high.DenseSeconds <= high.CompressedSeconds;
        return denseAtLow == denseAtHigh ? (denseAtLow ? TensorRoute.DenseFaster : TensorRoute.Compressed) : position.Planned;
    }

    /// <summary>The position's time on each route, as <see cref="RoutePrediction"/> defines them, at <paramref name="secondsPerByte"/> (taken as 0 below 0); unmeasured parts count as 0.</summary>
    private RoutePrediction Predict(Position position, double secondsPerByte, double localPerElement)
    {
        double beta = Math.Max(secondsPerByte, 0);
        int elements = position.Shape.ElementCount;
        double dense = (beta * AllreduceStatistics.RingAllreduceBytes(elements, _ranks)) + (localPerElement * elements);
        double gather = position.Payload.Samples > 0 ? beta * (_ranks - 1) * position.Payload.Value : 0;
        double decode = position.Decode.Samples > 0 ? position.Decode.Value : 0;
        return new RoutePrediction(dense, position.Encode.Value, gather, decode, Probe: false);
    }

    /// <summary>The model's position <paramref name="tensor"/>, started afresh when it is new or its shape changed.</summary>
    private Position PositionFor(int tensor, TensorShape shape)
    {
        if (tensor == _positions.Count)
        {
            _positions.Add(new Position(shape));   // records list positions from 0 up, so a new one comes next
        }
        else if (_positions[tensor].Shape != shape)
        {
            _positions[tensor] = new Position(shape);
        }

        return _positions[tensor];
    }

    private long ComputeDigest()
    {
        long hash = CallAgreement.Mix(CallAgreement.ShapesHashSeed, _foldedCalls);
        foreach (double value in (double[])[.. _link.Sums, _localSeconds, _localElements])
        {
            hash = CallAgreement.Mix(hash, BitConverter.DoubleToInt64Bits(value));
        }

        foreach (Position position in _positions)
        {
            hash = position.Digest(hash);
        }

        return hash;
    }

    /// <summary>A value smoothed over calls: the mean of the first four samples, then an exponential moving average (weight 1/4).</summary>
    internal readonly record struct Smoothed(double Value, int Samples)
    {
        public Smoothed Add(double sample, bool replace)
        {
            if (replace || Samples == 0)
            {
                return new Smoothed(sample, Samples + 1);
            }

            double weight = 1.0 / Math.Min(Samples + 1, 4);
            return new Smoothed(Value + (weight * (sample - Value)), Samples + 1);
        }
    }

    /// <summary>What the model knows of one tensor position of a call.</summary>
    private sealed class Position(TensorShape shape)
    {
        public TensorShape Shape { get; } = shape;

        public Smoothed Encode { get; set; }

        public Smoothed Decode { get; set; }

        public Smoothed Payload { get; set; }

        /// <summary>Routed dense since its last measurement: the next one replaces the estimates.</summary>
        public bool Stale { get; set; }

        public TensorRoute Planned { get; set; } = TensorRoute.Compressed;

        public RoutePrediction? Prediction { get; set; }

        /// <summary>The first step at which a dense-planned position is compressed again to measure it.</summary>
        public long NextProbe { get; set; }

        public long Digest(long hash)
        {
            hash = CallAgreement.Mix(hash, CallAgreement.HashShape(Shape));
            RoutePrediction p = Prediction ?? new RoutePrediction(-1, -1, -1, -1, false);
            foreach (double value in (double[])[Encode.Value, Decode.Value, Payload.Value, p.DenseSeconds, p.EncodeSeconds, p.GatherSeconds, p.DecodeSeconds])
            {
                hash = CallAgreement.Mix(hash, BitConverter.DoubleToInt64Bits(value));
            }

            foreach (long value in (long[])[Encode.Samples, Decode.Samples, Payload.Samples, Stale ? 1 : 0, (long)Planned, NextProbe, Prediction is null ? 0 : 1])
            {
                hash = CallAgreement.Mix(hash, value);
            }

            return hash;
        }

        public void Save(BinaryWriter writer)
        {
            AveragerState.WriteShape(writer, Shape);
            foreach (Smoothed smoothed in (Smoothed[])[Encode, Decode, Payload])
            {
                writer.Write(smoothed.Value);
                writer.Write(smoothed.Samples);
            }

            writer.Write(Stale);
            writer.Write(Planned == TensorRoute.DenseFaster);
            writer.Write(NextProbe);
            writer.Write(Prediction is not null);
            RoutePrediction p = Prediction.GetValueOrDefault();
            foreach (double value in (double[])[p.DenseSeconds, p.EncodeSeconds, p.GatherSeconds, p.DecodeSeconds])
            {
                writer.Write(value);
            }
        }

        public static Position Load(BinaryReader reader)
        {
            var position = new Position(AveragerState.ReadShape(reader));
            position.Encode = ReadSmoothed(reader, "encode seconds");
            position.Decode = ReadSmoothed(reader, "decode seconds");
            position.Payload = ReadSmoothed(reader, "payload bytes");
            position.Stale = reader.ReadBoolean();
            position.Planned = reader.ReadBoolean() ? TensorRoute.DenseFaster : TensorRoute.Compressed;
            position.NextProbe = reader.ReadInt64();
            if (position.NextProbe < 0)
            {
                throw new InvalidDataException($"The averager state's time-routing next probe is at step {position.NextProbe}.");
            }

            bool predicted = reader.ReadBoolean();
            double[] p = [.. Enumerable.Range(0, 4).Select(_ => ReadFinite(reader, "prediction", nonNegative: true))];
            position.Prediction = predicted ? new RoutePrediction(p[0], p[1], p[2], p[3], Probe: false) : null;
            return position;
        }

        private static Smoothed ReadSmoothed(BinaryReader reader, string what)
        {
            double value = ReadFinite(reader, what, nonNegative: true);
            int samples = reader.ReadInt32();
            if (samples < 0)
            {
                throw new InvalidDataException($"The averager state's time-routing {what} has {samples} samples.");
            }

            return new Smoothed(value, samples);
        }
    }

    /// <summary>
    /// One completed call as this rank measured it, to send with the next call. <see cref="Local"/>: encode ticks per
    /// tensor, decode ticks per tensor (−1 where not measured), then the lengths allgather, the payload allgatherv, the
    /// dense allreduce and the dense route's compute. The rest is agreed already (routes, payload lengths, byte counts).
    /// </summary>
    private sealed class CallRecord(int count)
    {
        public int Count { get; } = count;

        public TensorShape[] Shapes { get; } = new TensorShape[count];

        public bool[] Probes { get; } = new bool[count];

        /// <summary>Each encoded tensor's payload, mean over ranks (0 where not encoded).</summary>
        public double[] Payloads { get; } = new double[count];

        public int[] Local { get; } = new int[(2 * count) + 4];

        /// <summary>
        /// <see cref="Local"/> laid out for a call of <paramref name="count"/> tensors (the lengths allgather is sized by
        /// the current call, which every rank has agreed on): positions beyond either call's count are left out.
        /// </summary>
        public void WriteMeasurements(Span<int> destination, int count)
        {
            destination.Fill(-1);
            int tensors = Math.Min(Count, count);
            Local.AsSpan(0, tensors).CopyTo(destination);
            Local.AsSpan(Count, tensors).CopyTo(destination[count..]);
            Local.AsSpan(2 * Count, 4).CopyTo(destination[(2 * count)..]);
        }

        public double LengthsBytes { get; init; }

        public double GatherBytes { get; init; }

        public double DenseBytes { get; init; }

        public long DenseElements { get; init; }
    }
}
