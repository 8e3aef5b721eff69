namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// The links of a cluster of nodes: <paramref name="Intra"/> within a node, as the node-aware collectives sum there
/// (a reduce-scatter and an allgather: α, β per rank of a ring allreduce over the node's k ranks); <paramref name="Inter"/>
/// between nodes (α per message, β per byte on one node's link, which the node's k rails share: what they send at once
/// adds up); <paramref name="RingWithinNode"/> the edges within a node of a flat <c>MPI_Allreduce</c> ring (default
/// <paramref name="Intra"/>).
/// </summary>
internal sealed record NodeLinks(LinkParameters Intra, LinkParameters Inter, LinkParameters? RingWithinNode = null)
{
    /// <summary>
    /// One edge of a ring over all ranks in node order, as slow as its slowest kind: within a node only on one node;
    /// else each node's link carries one edge each way while the other edges run within nodes, at the same time.
    /// </summary>
    public LinkParameters RingEdge(int nodes)
    {
        LinkParameters within = RingWithinNode ?? Intra;
        return nodes <= 1 ? within : new LinkParameters(Math.Max(within.Alpha, Inter.Alpha), Math.Max(within.Beta, Inter.Beta), LinkSharing.PerRank);
    }
}

/// <summary>A node-aware step in its terms: encode, the small world allgathers, traffic within the node, traffic between nodes, decode.</summary>
internal sealed record NodeStepTerms(double Encode, double Headers, double WithinNode, double BetweenNodes, double Decode)
{
    /// <summary>The step, the three exchange terms as its exchange.</summary>
    public StepPrediction Step => new(Encode, Headers + WithinNode + BetweenNodes, Decode);
}

/// <summary>
/// The node level of the cost model (docs/network-benchmarks.md, "The node model"): M nodes of k ranks, N = M·k.
/// Dense: a flat ring over all N ranks in node order (<see cref="DenseFlat"/>), or the node-aware dense allreduce
/// (<see cref="DenseNode"/>). ATOMO: the node-aware exchange of docs/node-aware.md (<see cref="AtomoNodeAware"/>).
/// Small world allgathers (the call's header, the payload lengths) are N − 1 steps of the slowest edge's α, as
/// <see cref="Atomo"/> charges them in one node. Compute is scaled by <c>computeScale</c> as in one node.
/// </summary>
internal static partial class CostModel
{
    /// <summary>A small allgather over all N ranks in node order: N − 1 ring steps of the slowest edge's latency.</summary>
    public static double SmallAllgather(int nodes, int ranksPerNode, NodeLinks links)
    {
        ArgumentNullException.ThrowIfNull(links);
        return ((nodes * ranksPerNode) - 1) * links.RingEdge(nodes).Alpha;
    }

    /// <summary>
    /// Allreduce of <paramref name="nodeBytes"/> per node over the rails, every rail at once: each of the k rails rings
    /// 1/k of them over the M nodes, and the node's link carries the k rails' bytes together, <c>2(M−1)/M·nodeBytes</c>
    /// each way; <paramref name="calls"/> allreduces pay the latency.
    /// </summary>
    public static double RailAllreduce(int nodes, double nodeBytes, LinkParameters inter, int calls = 1)
    {
        ArgumentNullException.ThrowIfNull(inter);
        if (nodes <= 1)
        {
            return 0;
        }

        return (calls * 2.0 * (nodes - 1) * inter.Alpha) + (AllreduceStatistics.RingAllreduceBytes(nodeBytes / 4.0, nodes) * inter.Beta);
    }

    /// <summary>
    /// Dense <c>MPI_Allreduce</c> over all N = M·k ranks as a ring in node order (each node's link carries one ring edge
    /// each way): per tensor, or with <paramref name="fused"/> one allreduce of all of them; plus the divide.
    /// </summary>
    public static StepPrediction DenseFlat(int nodes, int ranksPerNode, IReadOnlyList<int> tensorElements, NodeLinks links, double divideSeconds = 0, double computeScale = 1, bool fused = false)
    {
        ArgumentNullException.ThrowIfNull(links);
        return Dense(nodes * ranksPerNode, tensorElements, links.RingEdge(nodes), divideSeconds, computeScale, fused);
    }

    /// <summary>
    /// The node-aware dense allreduce of all tensors at once: the call's header (a small world allgather), a reduce-scatter
    /// and an allgather within the node (together a ring allreduce over k ranks), the rails' allreduce of 1/k each
    /// (<see cref="RailAllreduce"/>), plus the divide and copies.
    /// </summary>
    public static StepPrediction DenseNode(int nodes, int ranksPerNode, IReadOnlyList<int> tensorElements, NodeLinks links, double divideSeconds = 0, double computeScale = 1)
    {
        ArgumentNullException.ThrowIfNull(tensorElements);
        ArgumentNullException.ThrowIfNull(links);
        double bytes = 4.0 * tensorElements.Sum(n => (long)n);
        double exchange = SmallAllgather(nodes, ranksPerNode, links) + RingAllreduce(ranksPerNode, bytes, links.Intra) + RailAllreduce(nodes, bytes, links.Inter);
        return new StepPrediction(0, exchange, divideSeconds * computeScale);
    }

    /// <summary>
    /// The node-aware ATOMO exchange (docs/node-aware.md; flat on one node or one rank per node, as under
    /// <see cref="NodeAwareMode.Auto"/>): the header; a reduce-scatter within the node; encode of the node's sums split
    /// over its k ranks (the slowest rank's share, by elements as the library plans it); the payload lengths (a small
    /// world allgather); the library's byte rule between nodes (a tensor goes dense when <c>(M−1)·payload ≥ 2(M−1)/M·4n</c>,
    /// payloads being the node's); the rails' allgather of the node payloads (each node's link carries (M−1)·payload
    /// each way); decode of M payloads of the slowest rank's share; the rails' allreduce of the dense slices and of the
    /// tensors the byte rule sent dense; an allgather within the node.
    /// </summary>
    public static StepPrediction AtomoNodeAware(int nodes, int ranksPerNode, AtomoProfile profile, NodeLinks links, double computeScale = 1) =>
        AtomoNodeAwareTerms(nodes, ranksPerNode, profile, links, computeScale).Step;

    /// <summary><see cref="AtomoNodeAware"/>'s step in its terms (on one node or one rank per node, the flat exchange is all <see cref="NodeStepTerms.WithinNode"/> or <see cref="NodeStepTerms.BetweenNodes"/>).</summary>
    public static NodeStepTerms AtomoNodeAwareTerms(int nodes, int ranksPerNode, AtomoProfile profile, NodeLinks links, double computeScale = 1)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(links);
        if (nodes <= 1 || ranksPerNode <= 1)
        {
            StepPrediction flat = Atomo(nodes * ranksPerNode, profile, links.RingEdge(nodes), computeScale);
            return new NodeStepTerms(flat.Encode, 0, nodes <= 1 ? flat.Exchange : 0, nodes <= 1 ? 0 : flat.Exchange, flat.Decode);
        }

        double nodePayload = 0, denseBytes = 0, cheaperBytes = 0;
        foreach (TensorProfile tensor in profile.Tensors)
        {
            if (!tensor.Compressible)
            {
                denseBytes += 4.0 * tensor.Elements;
            }
            else if (GoesDense(nodes, tensor.PayloadBytes, tensor.Elements))
            {
                cheaperBytes += 4.0 * tensor.Elements;
            }
            else
            {
                nodePayload += tensor.PayloadBytes;
            }
        }

        double allBytes = 4.0 * profile.Tensors.Sum(t => (long)t.Elements);
        double headers = 2 * SmallAllgather(nodes, ranksPerNode, links);
        double withinNode = RingAllreduce(ranksPerNode, allBytes, links.Intra);
        double betweenNodes = ((nodes - 1) * links.Inter.Alpha) + ((nodes - 1) * nodePayload * links.Inter.Beta)
            + RailAllreduce(nodes, denseBytes + cheaperBytes, links.Inter, calls: cheaperBytes > 0 ? 2 : 1);
        double encode = profile.EncodeSeconds * SlowestShare(profile.Tensors, ranksPerNode, _ => true);
        double decodedShare = SlowestShare(profile.Tensors, ranksPerNode, t => !GoesDense(nodes, t.PayloadBytes, t.Elements));
        double decode = (profile.DecodeFixedSeconds + (nodes * profile.DecodePerRankSeconds)) * decodedShare;
        return new NodeStepTerms(encode * computeScale, headers, withinNode, betweenNodes, decode * computeScale);
    }

    /// <summary>
    /// The way a call under <see cref="RoutingRule.Time"/> takes (<c>ExchangeChoice</c> measures the three and keeps the
    /// fastest): the fastest of the node-aware exchange, the flat one, and the all-dense route (the header, then
    /// <c>MPI_Allreduce</c> of the tensors over all ranks).
    /// </summary>
    public static (Exchange Way, StepPrediction Step) AtomoChosen(int nodes, int ranksPerNode, AtomoProfile profile, IReadOnlyList<int> tensorElements, NodeLinks links, double computeScale = 1)
    {
        ArgumentNullException.ThrowIfNull(links);
        StepPrediction dense = DenseFlat(nodes, ranksPerNode, tensorElements, links);
        (Exchange, StepPrediction)[] ways =
        [
            (Exchange.NodeAware, AtomoNodeAware(nodes, ranksPerNode, profile, links, computeScale)),
            (Exchange.Flat, Atomo(nodes * ranksPerNode, profile, links.RingEdge(nodes), computeScale)),
            (Exchange.Dense, dense with { Exchange = dense.Exchange + SmallAllgather(nodes, ranksPerNode, links) }),
        ];
        return ways.MinBy(w => w.Item2.Total);
    }

    /// <summary>
    /// The largest share of the compressible elements of <paramref name="tensors"/> that one of
    /// <paramref name="ranksPerNode"/> ranks owns, counting only the tensors <paramref name="counted"/> selects, under
    /// the library's own plan (<see cref="NodeAwareExchange.PlanOwners"/>, the compressible tensors owned).
    /// </summary>
    public static double SlowestShare(IReadOnlyList<TensorProfile> tensors, int ranksPerNode, Func<TensorProfile, bool> counted)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(counted);
        long total = tensors.Where(t => t.Compressible).Sum(t => (long)t.Elements);
        if (total == 0 || ranksPerNode < 1)
        {
            return 0;
        }

        var owners = new int[tensors.Count];
        NodeAwareExchange.PlanOwners([.. tensors.Select(t => t.Elements)], t => tensors[t].Compressible, ranksPerNode, owners);
        var countedLoad = new long[ranksPerNode];
        for (int t = 0; t < tensors.Count; t++)
        {
            if (owners[t] >= 0 && counted(tensors[t]))
            {
                countedLoad[owners[t]] += tensors[t].Elements;
            }
        }

        return countedLoad.Max() / (double)total;
    }

    /// <summary>
    /// The links between nodes from rail calibrations (every rail at once over <paramref name="nodes"/> nodes):
    /// α as <see cref="Fit"/> finds it, β per byte on one node's link, the fitted slope over the
    /// <paramref name="ranksPerNode"/> rails that share it.
    /// </summary>
    public static LinkParameters FitNodeLink(int nodes, int ranksPerNode, IReadOnlyList<(double Bytes, double Seconds)> points)
    {
        LinkParameters perRail = Fit(nodes, points, LinkSharing.PerRank);
        return perRail with { Beta = perRail.Beta / ranksPerNode };
    }
}
