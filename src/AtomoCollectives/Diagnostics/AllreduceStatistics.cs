namespace AtomoCollectives;

/// <summary>Why a tensor travelled the way it did in one call.</summary>
public enum TensorRoute
{
    /// <summary>Sparsified, exchanged with allgatherv and reconstructed.</summary>
    Compressed,

    /// <summary>Dense allreduce: still within <see cref="AtomoOptions.DenseWarmupSteps"/>.</summary>
    DenseWarmup,

    /// <summary>Dense allreduce: fewer elements than <see cref="AtomoOptions.MinimumCompressedElements"/>.</summary>
    DenseSmall,

    /// <summary>Dense allreduce: a 1-D tensor and <see cref="AtomoOptions.CompressVectors"/> is off.</summary>
    DenseVector,

    /// <summary>
    /// Dense allreduce: compressing would not have paid. <see cref="AtomoAllreduce"/>: the payloads would have moved as
    /// many bytes as the dense exchange. <see cref="PowerSgdAllreduce"/>: the factors would not have been
    /// <see cref="PowerSgdOptions.MinimumCompressionRate"/> times smaller than the tensor (or it is too small for the rank).
    /// </summary>
    DenseCheaper,

    /// <summary>Dense allreduce: the averager compresses nothing (<see cref="DenseAllreduce"/>, the baseline).</summary>
    Dense,

    /// <summary>
    /// Dense allreduce, decided before encoding: with <see cref="RoutingRule.Time"/>, the link model predicted the
    /// dense exchange faster than encoding, exchanging and decoding the tensor (<see cref="TensorDecision.Prediction"/>).
    /// </summary>
    DenseFaster,
}

/// <summary>
/// What <see cref="RoutingRule.Time"/> predicted for one tensor, from measurements agreed by every rank (its share of
/// the slowest rank's encode and decode, the link model's β). Seconds a step would take with the tensor in the dense allreduce
/// against compressed; the fixed costs of a call (headers, latencies) are paid either way and not counted.
/// </summary>
/// <param name="DenseSeconds">Its bytes in the dense ring allreduce (β·<see cref="AllreduceStatistics.RingAllreduceBytes"/>) plus copying and scaling them.</param>
/// <param name="EncodeSeconds">Its encode, smoothed over the calls that compressed it.</param>
/// <param name="GatherSeconds">Its payloads in the allgather, β·(N−1)·payload.</param>
/// <param name="DecodeSeconds">Its decode of N payloads, smoothed.</param>
/// <param name="Probe">Routed dense by the prediction, but compressed in this call to measure it again.</param>
public readonly record struct RoutePrediction(double DenseSeconds, double EncodeSeconds, double GatherSeconds, double DecodeSeconds, bool Probe)
{
    /// <summary>Encode, gather and decode: the compressed route's time.</summary>
    public double CompressedSeconds => EncodeSeconds + GatherSeconds + DecodeSeconds;
}

/// <summary>The α–β link model of <see cref="RoutingRule.Time"/>: a collective of R message rounds moving X bytes per rank takes α·R + β·X.</summary>
/// <param name="LatencySeconds">α, seconds per message round.</param>
/// <param name="SecondsPerByte">β, seconds per byte sent by each rank (least squares; ≤ 0 when timing noise swamps it).</param>
/// <param name="SecondsPerByteError">β's standard error: the time rule routes a tensor by time only where the choice holds for every β within two of them.</param>
public readonly record struct LinkEstimate(double LatencySeconds, double SecondsPerByte, double SecondsPerByteError);

/// <summary>What happened to one tensor in one call.</summary>
/// <param name="Index">The tensor's position in the call.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Route">Compressed, or dense and why.</param>
/// <param name="Decomposition">The basis used when compressed (<see cref="Decomposition.Spectral"/> for PowerSGD's low-rank factors, <see cref="Decomposition.Coordinate"/> for QSGD).</param>
/// <param name="PayloadBytes">This rank's payload size (0 when dense; PowerSGD: its P and Q factors, <c>4(m + n)r</c>).</param>
/// <param name="Atoms">Atoms this rank sent (0 when dense; PowerSGD: the rank r).</param>
public readonly record struct TensorDecision(int Index, TensorShape Shape, TensorRoute Route, Decomposition Decomposition, int PayloadBytes, int Atoms)
{
    /// <summary>What <see cref="RoutingRule.Time"/> predicted for this tensor, when it decided the route; null otherwise (byte rule, warm-up, small, vector, too few measurements yet).</summary>
    public RoutePrediction? Prediction { get; init; }
}

/// <summary>
/// Traffic and time of an <see cref="IGradientAverager"/>, for one call or summed over calls. Byte counts are this
/// rank's view: what it sent and received, and what a dense ring allreduce would have sent (<c>2(N−1)/N</c> of the
/// tensor bytes, <see cref="RingAllreduceBytes"/>). Allreduces are counted as ring allreduces, allgathers as what
/// they move; the small fixed headers every call exchanges are not counted. A node-aware call
/// (<see cref="NodeAwareMode"/>) also says which part stayed within this rank's node (<see cref="BytesSentWithinNode"/>);
/// the rest went between nodes.
/// </summary>
public sealed record AllreduceStatistics
{
    /// <summary>
    /// What each rank sends, and receives, in a ring allreduce of <paramref name="elements"/> floats over
    /// <paramref name="ranks"/> ranks: <c>2(N−1)/N · 4n</c> bytes (reduce-scatter then allgather), 0 for one rank. The one
    /// home of this formula; unrounded, so that it can be compared with; byte counts truncate it.
    /// </summary>
    public static double RingAllreduceBytes(double elements, int ranks) => ranks <= 1 ? 0 : 2.0 * (ranks - 1) / ranks * 4.0 * elements;

    /// <summary>Calls counted.</summary>
    public long Calls { get; init; }

    /// <summary>Tensors averaged.</summary>
    public long Tensors { get; init; }

    /// <summary>Tensors that were compressed.</summary>
    public long CompressedTensors { get; init; }

    /// <summary>Bytes this rank sent: its payloads (once, to the allgather) plus its share of dense allreduces.</summary>
    public long BytesSent { get; init; }

    /// <summary>Bytes this rank received: the other ranks' payloads plus its share of dense allreduces.</summary>
    public long BytesReceived { get; init; }

    /// <summary>
    /// The part of <see cref="BytesSent"/> sent to ranks of this rank's own node by a node-aware call (the node's sum,
    /// and the sharing of the results); <c>BytesSent − BytesSentWithinNode</c> went between nodes. 0 for a flat call,
    /// which does not tell nodes apart.
    /// </summary>
    public long BytesSentWithinNode { get; init; }

    /// <summary>The part of <see cref="BytesReceived"/> received from ranks of this rank's own node (see <see cref="BytesSentWithinNode"/>).</summary>
    public long BytesReceivedWithinNode { get; init; }

    /// <summary>What a dense ring allreduce of every tensor would have sent from this rank.</summary>
    public long DenseEquivalentBytes { get; init; }

    /// <summary>Atoms this rank sent.</summary>
    public long AtomsSent { get; init; }

    /// <summary>Seconds spent sparsifying and encoding.</summary>
    public double EncodeSeconds { get; init; }

    /// <summary>Seconds spent in collectives (lengths, allgatherv, dense allreduce).</summary>
    public double ExchangeSeconds { get; init; }

    /// <summary>Seconds spent decoding and reconstructing.</summary>
    public double DecodeSeconds { get; init; }

    /// <summary><see cref="DenseEquivalentBytes"/> / <see cref="BytesSent"/> (∞ when nothing was sent).</summary>
    public double CompressionRatio => BytesSent == 0 ? double.PositiveInfinity : (double)DenseEquivalentBytes / BytesSent;

    /// <summary>The per-tensor decisions of the last call (empty in sums).</summary>
    public IReadOnlyList<TensorDecision> Decisions { get; init; } = [];

    /// <summary>The link model the last call's routes were predicted with (<see cref="RoutingRule.Time"/>); null otherwise, before it is fitted, and in sums.</summary>
    public LinkEstimate? Link { get; init; }

    /// <summary>The element-wise sum of two statistics; decisions are dropped.</summary>
    public static AllreduceStatistics operator +(AllreduceStatistics left, AllreduceStatistics right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return new AllreduceStatistics
        {
            Calls = left.Calls + right.Calls,
            Tensors = left.Tensors + right.Tensors,
            CompressedTensors = left.CompressedTensors + right.CompressedTensors,
            BytesSent = left.BytesSent + right.BytesSent,
            BytesReceived = left.BytesReceived + right.BytesReceived,
            BytesSentWithinNode = left.BytesSentWithinNode + right.BytesSentWithinNode,
            BytesReceivedWithinNode = left.BytesReceivedWithinNode + right.BytesReceivedWithinNode,
            DenseEquivalentBytes = left.DenseEquivalentBytes + right.DenseEquivalentBytes,
            AtomsSent = left.AtomsSent + right.AtomsSent,
            EncodeSeconds = left.EncodeSeconds + right.EncodeSeconds,
            ExchangeSeconds = left.ExchangeSeconds + right.ExchangeSeconds,
            DecodeSeconds = left.DecodeSeconds + right.DecodeSeconds,
        };
    }

    /// <summary>The same as <c>+</c>.</summary>
    public static AllreduceStatistics Add(AllreduceStatistics left, AllreduceStatistics right) => left + right;
}
