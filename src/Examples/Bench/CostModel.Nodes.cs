namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// The links of a cluster of nodes: <paramref name="Intra"/> within a node, as the node-aware collectives sum there
/// (a reduce-scatter and an allgather: α, β per rank of a ring allreduce over the node's k ranks); <paramref name="Inter"/>
/// between nodes (α per message, β per byte on one node's link, which the node's k rails share: what they send at once
/// adds up); <paramref name="World"/>, on a measured cluster, the fit of its calibrated <c>MPI_Allreduce</c> over all
/// ranks in a ring's form: a flat allreduce there as measured (<see cref="CostModel.FlatAllreduce"/>), and the edges
/// within a node of a flat ring (default <paramref name="Intra"/>). A projected cluster has none.
/// </summary>
internal sealed record NodeLinks(LinkParameters Intra, LinkParameters Inter, LinkParameters? World = null)
{
    /// <summary>
    /// One edge of a ring over all ranks in node order, as slow as its slowest kind: within a node only on one node;
    /// else each node's link carries one edge each way while the other edges run within nodes, at the same time.
    /// </summary>
    public LinkParameters RingEdge(int nodes)
    {
        LinkParameters within = World ?? Intra;
        return nodes <= 1 ? within : new LinkParameters(Math.Max(within.Alpha, Inter.Alpha), Math.Max(within.Beta, Inter.Beta), LinkSharing.PerRank);
    }
}

/// <summary>
/// What a call does over every tensor on every rank, whichever its share of the encoding: <paramref name="Check"/>, one
/// read of the tensors for NaN and infinity before the header (timed as encode); <paramref name="CommitNode"/>, a
/// node-aware call's copy of the node's mean into the tensors (timed as decode). Seconds, as the step takes them (no
/// further scaling): the check from the set's read-once, the commit as the node-aware dense baseline's row measured
/// it, the same work in that call. The node-aware exchange's encode profile covers the encoding of its share alone,
/// so these passes over the whole set are its own terms.
/// </summary>
internal readonly record struct WholeSetPasses(double Check, double CommitNode);

/// <summary>
/// A node-aware step in its terms: the nodes per group (<see cref="NodeGroups"/>; 1, none); encode of the node sums; the
/// small allgathers (header, payload lengths, with groups the group payload lengths); the node sum; the payloads between
/// nodes (with groups, within the group and then the leaders'); the rails' dense allreduce; on a group's leader, decode
/// of its group's payloads and encode of their sum; decode of what the rail gathered.
/// </summary>
internal sealed record NodeStepTerms(int GroupSize, double Encode, double Headers, double WithinNode, double Payloads, double DenseOnRails, double Recompress, double Decode)
{
    /// <summary>Traffic between nodes: the payloads and the rails' dense allreduce.</summary>
    public double BetweenNodes => Payloads + DenseOnRails;

    /// <summary>The step, split as the library times it: the exchange terms as its exchange; the leader's recompression with the decode.</summary>
    public StepPrediction Step => new(Encode, Headers + WithinNode + BetweenNodes, Recompress + Decode);
}

/// <summary>
/// The node level of the cost model (docs/network-benchmarks.md, "The node model"): M nodes of k ranks, N = M·k.
/// Dense: <c>MPI_Allreduce</c> over all N ranks in node order, in Open MPI's steps (<see cref="DenseFlat"/>), or the
/// node-aware dense allreduce (<see cref="DenseNode"/>). ATOMO: the node-aware exchange of docs/node-aware.md (<see cref="AtomoNodeAware"/>), with
/// the library's groups of nodes from 32 nodes on. Small allgathers (the call's header, the payload lengths) take the
/// steps Open MPI 4.1 takes (<see cref="OpenMpiAllgather"/>). Compute is scaled by <c>computeScale</c> as in one node.
/// </summary>
internal static partial class CostModel
{
    /// <summary>A call's header per rank: <c>CallAgreement</c>'s 5 longs (outcome, count, shapes hash, options hash, step).</summary>
    public const int HeaderBytes = 5 * sizeof(long);

    /// <summary>The node-aware exchange's payload lengths per rank: outcome, node, and a length and an atom count per tensor (<c>NodeAwareExchange.AgreeOnPayloads</c>).</summary>
    public static int PayloadLengthsBytes(int tensors) => (2 + (2 * tensors)) * sizeof(int);

    /// <summary>With groups, the group payload lengths per rail member: a leader's outcome and a length per tensor (<c>NodeAwareExchange.AgreeOnGroupPayloads</c>).</summary>
    public static int GroupLengthsBytes(int tensors) => (1 + tensors) * sizeof(int);

    /// <summary>
    /// An <c>MPI_Allgather</c> of <paramref name="bytesPerRank"/> per rank over all N ranks in node order, in the steps
    /// Open MPI 4.1 takes (<see cref="OpenMpiAllgather"/>; for the library's header and lengths up to 1,024 ranks,
    /// recursive doubling or Bruck: ⌈log₂ N⌉ steps, (N − 1) blocks received per rank): per step the slowest edge's α,
    /// and the step's blocks over the node's link once per rank of the node whose partner is on another node (they send
    /// at once), or within the node at the same time.
    /// </summary>
    public static double SmallAllgather(int nodes, int ranksPerNode, int bytesPerRank, NodeLinks links)
    {
        ArgumentNullException.ThrowIfNull(links);
        return SmallAllgather(nodes, ranksPerNode, bytesPerRank, links, links.RingEdge(nodes).Alpha, concurrent: 1);
    }

    /// <summary>
    /// <see cref="SmallAllgather(int, int, int, NodeLinks)"/> over the rails, every rail at once: M members, one per node,
    /// whose node's link carries the k rails' blocks together, α between nodes per step.
    /// </summary>
    public static double RailSmallAllgather(int nodes, int ranksPerNode, int bytesPerMember, NodeLinks links)
    {
        ArgumentNullException.ThrowIfNull(links);
        return SmallAllgather(nodes, 1, bytesPerMember, links, links.Inter.Alpha, concurrent: ranksPerNode);
    }

    private static double SmallAllgather(int nodes, int membersPerNode, int bytes, NodeLinks links, double alpha, int concurrent)
    {
        int members = nodes * membersPerNode;
        if (members <= 1)
        {
            return 0;
        }

        // Bytes leave a node once per member whose partner is elsewhere.
        double within = links.RingEdge(1).Beta, seconds = 0;
        foreach (AllgatherStep step in OpenMpiAllgather.Steps(OpenMpiAllgather.Choose(members, bytes), members))
        {
            int leaving = MembersLeaving(nodes, membersPerNode, step.SendTo);
            double perByte = Math.Max(leaving > 0 ? leaving * concurrent * links.Inter.Beta : 0, leaving < membersPerNode ? within : 0);
            seconds += alpha + (step.Blocks * (double)bytes * perByte);
        }

        return seconds;
    }

    /// <summary>
    /// How many of a node's <paramref name="membersPerNode"/> members (numbered in node order) send to a
    /// <paramref name="partner"/> on another node in one step. The algorithms repeat from node to node but for the
    /// parity a neighbour exchange sees, so the busier of the first two nodes stands for all.
    /// </summary>
    private static int MembersLeaving(int nodes, int membersPerNode, Func<int, int> partner) =>
        Enumerable.Range(0, Math.Min(nodes, 2))
            .Max(node => Enumerable.Range(node * membersPerNode, membersPerNode).Count(r => partner(r) / membersPerNode != node));

    /// <summary>
    /// Allreduce of <paramref name="nodeBytes"/> per node over the rails, every rail at once: each of the k rails sums
    /// 1/k of them over the M nodes, in the library's pieces (<see cref="RailSumCost"/>), each in the steps Open MPI
    /// takes for its size (<see cref="OpenMpiAllreduce"/>: for large sums Rabenseifner's, 2 log₂ M steps; for a few kB
    /// a tree; a ring only where its rules say so), each step paying α between nodes, and the node's link carries the
    /// k rails' bytes together (a ring's and Rabenseifner's <c>2(M−1)/M·nodeBytes</c> each way at a power of two).
    /// </summary>
    public static double RailAllreduce(int nodes, int ranksPerNode, double nodeBytes, LinkParameters inter)
    {
        ArgumentNullException.ThrowIfNull(inter);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranksPerNode, 1);
        if (nodes <= 1)
        {
            return 0;
        }

        AllreduceCost cost = RailSumCost(nodes, nodeBytes / ranksPerNode);
        return (cost.Steps * inter.Alpha) + (cost.Vectors * nodeBytes * inter.Beta);
    }

    /// <summary>
    /// One rail member's sum of <paramref name="memberBytes"/> over <paramref name="nodes"/> members as the library
    /// makes every sum on a rail (<c>Pieces.AllreduceSum</c>): pieces of <see cref="Pieces.AllreducePiece(int)"/>
    /// floats one after another, each in the algorithm Open MPI picks for its size. The steps add up; the vectors are
    /// the pieces' weighted by their bytes, so that <c>Vectors · memberBytes</c> is what the member sends.
    /// </summary>
    internal static AllreduceCost RailSumCost(int nodes, double memberBytes)
    {
        double pieceBytes = sizeof(float) * (double)Pieces.AllreducePiece(nodes, Pieces.DefaultAllreduceFloats, Pieces.DefaultAllreduceBlockFloats);
        if (memberBytes <= pieceBytes)
        {
            return OpenMpiAllreduce.CostOfChosen(nodes, memberBytes);
        }

        double whole = Math.Floor(memberBytes / pieceBytes), rest = memberBytes - (whole * pieceBytes);
        AllreduceCost piece = OpenMpiAllreduce.CostOfChosen(nodes, pieceBytes);
        AllreduceCost last = rest > 0 ? OpenMpiAllreduce.CostOfChosen(nodes, rest) : default;
        return new AllreduceCost(
            ((int)whole * piece.Steps) + last.Steps,
            ((whole * piece.Vectors * pieceBytes) + (last.Vectors * rest)) / memberBytes);
    }

    /// <summary>
    /// Dense <c>MPI_Allreduce</c> over all N = M·k ranks in node order (<see cref="FlatAllreduce"/>): per tensor, or with
    /// <paramref name="fused"/> one allreduce of all of them; plus the divide.
    /// </summary>
    public static StepPrediction DenseFlat(int nodes, int ranksPerNode, IReadOnlyList<int> tensorElements, NodeLinks links, double divideSeconds = 0, double computeScale = 1, bool fused = false)
    {
        ArgumentNullException.ThrowIfNull(tensorElements);
        ArgumentNullException.ThrowIfNull(links);
        double exchange = fused
            ? FlatAllreduce(nodes, ranksPerNode, 4.0 * tensorElements.Sum(n => (long)n), links)
            : tensorElements.Sum(n => FlatAllreduce(nodes, ranksPerNode, 4.0 * n, links));
        return new StepPrediction(0, exchange, divideSeconds * computeScale);
    }

    /// <summary>
    /// <c>MPI_Allreduce</c> of <paramref name="bytes"/> over all N = M·k ranks in node order, as Open MPI 4.1 runs it
    /// (<see cref="OpenMpiAllreduce"/>). Over several nodes and a power of two of ranks, its recursive doubling and
    /// Rabenseifner's algorithm pair rank r with r XOR d at distances d = 1, 2, 4, …: steps with d &lt; k stay within the
    /// node (α and β of the node sum, <see cref="NodeLinks.Intra"/>), steps with d ≥ k send from every rank of the
    /// node at once over its link (α between nodes, k messages at β per byte of the link). Recursive doubling sends the
    /// whole vector at every step; Rabenseifner halves it step by step in its reduce-scatter (d = 1 with half of it, so
    /// the large steps stay in the node) and doubles it back in its allgather: a node's link carries about
    /// 2(M−1)/M·bytes each way, as a node-aware allreduce's, not a flat ring's 2(N−1)/N·bytes. On one node, on a
    /// number of ranks that is not a power of two, and for the ring and the tree algorithms, a ring over
    /// <see cref="NodeLinks.RingEdge"/>. On the cluster measured (<see cref="NodeLinks.World"/>), its own calibration
    /// of this call, as fitted.
    /// </summary>
    public static double FlatAllreduce(int nodes, int ranksPerNode, double bytes, NodeLinks links)
    {
        ArgumentNullException.ThrowIfNull(links);
        int ranks = nodes * ranksPerNode;
        if (ranks <= 1)
        {
            return 0;
        }

        if (links.World is { } world)
        {
            return RingAllreduce(ranks, bytes, world);   // the cluster measured: its own calibration of this call
        }

        long count = (long)(bytes / sizeof(float));
        AllreduceAlgorithm algorithm = OpenMpiAllreduce.Choose(ranks, (long)bytes);
        bool halving = algorithm == AllreduceAlgorithm.Rabenseifner && count >= ranks;
        bool doubling = algorithm == AllreduceAlgorithm.RecursiveDoubling || (algorithm == AllreduceAlgorithm.Rabenseifner && !halving);
        if (nodes <= 1 || !int.IsPow2(ranks) || !(halving || doubling))
        {
            return RingAllreduce(ranks, bytes, links.RingEdge(nodes));
        }

        double seconds = 0, part = bytes;
        for (int distance = 1; distance < ranks; distance <<= 1)
        {
            int d = distance;
            int leaving = MembersLeaving(nodes, ranksPerNode, r => r ^ d);
            double alpha = leaving > 0 ? Math.Max(links.Inter.Alpha, leaving < ranksPerNode ? links.Intra.Alpha : 0) : links.Intra.Alpha;
            double perByte = Math.Max(leaving * links.Inter.Beta, leaving < ranksPerNode ? links.Intra.Beta : 0);
            if (halving)
            {
                part /= 2;
                seconds += 2 * (alpha + (part * perByte));   // the reduce-scatter's step and the allgather's mirror of it
            }
            else
            {
                seconds += alpha + (bytes * perByte);
            }
        }

        return seconds;
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
        double exchange = SmallAllgather(nodes, ranksPerNode, HeaderBytes, links) + RingAllreduce(ranksPerNode, bytes, links.Intra) + RailAllreduce(nodes, ranksPerNode, bytes, links.Inter);
        return new StepPrediction(0, exchange, divideSeconds * computeScale);
    }

    /// <summary>
    /// The node-aware ATOMO exchange (docs/node-aware.md; flat on one node or one rank per node, as under
    /// <see cref="NodeAwareMode.Auto"/>): the header; a reduce-scatter within the node; encode of the node's sums split
    /// over its k ranks (the slowest rank's share, by elements as the library plans it); the payload lengths (a small
    /// world allgather); the library's byte rule between nodes (<see cref="GoesDenseBetweenNodes"/>); the payloads
    /// between nodes (<see cref="AtomoNodeAwareTerms"/>, with or without groups); decode of the slowest rank's share of
    /// what its rail gathered; the rails' allreduce of the dense slices and of the tensors the byte rule sent dense; an
    /// allgather within the node; the passes over every tensor, the check before and the commit after
    /// (<paramref name="passes"/>). <paramref name="nodeGroupSize"/> is <see cref="AtomoOptions.NodeGroupSize"/> (0: the
    /// library's automatic rule).
    /// </summary>
    public static StepPrediction AtomoNodeAware(int nodes, int ranksPerNode, AtomoProfile profile, NodeLinks links, double computeScale = 1, int nodeGroupSize = 0, WholeSetPasses passes = default) =>
        AtomoNodeAwareTerms(nodes, ranksPerNode, profile, links, computeScale, nodeGroupSize, passes).Step;

    /// <summary>
    /// The library's byte rule between nodes: a tensor goes dense when the payloads a node receives
    /// (<see cref="NodeGroups.PayloadsReceived"/>: M − 1, or with groups of G nodes G − 1 + groups − 1) weigh at least
    /// what the rails' dense allreduce moves per node, <c>2(M−1)/M·4n</c>; payloads being the node's.
    /// </summary>
    public static bool GoesDenseBetweenNodes(int nodes, int groupSize, double payloadBytes, int elements) =>
        NodeGroups.PayloadsReceived(nodes, groupSize) * payloadBytes >= AllreduceStatistics.RingAllreduceBytes(elements, nodes);

    /// <summary>
    /// <see cref="AtomoNodeAware"/>'s step in its terms (on one node or one rank per node, the flat exchange is all
    /// <see cref="NodeStepTerms.WithinNode"/> or <see cref="NodeStepTerms.Payloads"/>). The payloads, each node's link
    /// carrying its k rails' at once, each allgatherv in the steps Open MPI takes for its size (<see cref="OpenMpiAllgatherv"/>,
    /// s(p) below): without groups the rails' allgather of the node payloads, s(M)·α + (M−1)·payload·β. With groups of
    /// G = <see cref="NodeGroups.SizeFor"/> nodes, one after the other (a group's other nodes wait for its leader): the
    /// allgather within the group, s(G)·α + (G−1)·payload·β; on the leader, decode of G payloads and encode of their sum
    /// (<see cref="NodeStepTerms.Recompress"/>); the group payload lengths over the rail (a small allgather of M members);
    /// the leaders' allgatherv over the rail, s(M)·α + groups·payload·β (a group's payload weighs a node's, the budget
    /// being fixed; a node that does not lead receives every group's, its own included); then every rank decodes the
    /// groups' payloads instead of M. The encode includes the check of every tensor, the decode the commit into every
    /// tensor (<paramref name="passes"/>; the flat exchange's profile has its own, as the flat call makes them).
    /// </summary>
    public static NodeStepTerms AtomoNodeAwareTerms(int nodes, int ranksPerNode, AtomoProfile profile, NodeLinks links, double computeScale = 1, int nodeGroupSize = 0, WholeSetPasses passes = default)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(links);
        if (nodes <= 1 || ranksPerNode <= 1)
        {
            StepPrediction flat = Atomo(nodes * ranksPerNode, profile, links.RingEdge(nodes), computeScale);
            return new NodeStepTerms(1, flat.Encode, 0, nodes <= 1 ? flat.Exchange : 0, nodes <= 1 ? 0 : flat.Exchange, 0, 0, flat.Decode);
        }

        int groupSize = NodeGroups.SizeFor(nodes, nodeGroupSize), groups = NodeGroups.CountFor(nodes, groupSize);
        bool Dense(TensorProfile t) => GoesDenseBetweenNodes(nodes, groupSize, t.PayloadBytes, t.Elements);
        double nodePayload = 0, denseBytes = 0, cheaperBytes = 0;
        foreach (TensorProfile tensor in profile.Tensors)
        {
            if (!tensor.Compressible)
            {
                denseBytes += 4.0 * tensor.Elements;
            }
            else if (Dense(tensor))
            {
                cheaperBytes += 4.0 * tensor.Elements;
            }
            else
            {
                nodePayload += tensor.PayloadBytes;
            }
        }

        int tensors = profile.Tensors.Count;
        double allBytes = 4.0 * profile.Tensors.Sum(t => (long)t.Elements);
        double headers = SmallAllgather(nodes, ranksPerNode, HeaderBytes, links) + SmallAllgather(nodes, ranksPerNode, PayloadLengthsBytes(tensors), links);
        double withinNode = RingAllreduce(ranksPerNode, allBytes, links.Intra);
        // The library's two sums on the rail: the tensors the byte rule sent dense, if any; the slices, each with its outcome float.
        double denseOnRails = RailAllreduce(nodes, ranksPerNode, denseBytes + (4.0 * ranksPerNode), links.Inter) + (cheaperBytes > 0 ? RailAllreduce(nodes, ranksPerNode, cheaperBytes, links.Inter) : 0);
        double encode = (profile.EncodeSeconds * SlowestShare(profile.Tensors, ranksPerNode, _ => true) * computeScale) + passes.Check;
        double decodedShare = SlowestShare(profile.Tensors, ranksPerNode, t => !Dense(t));
        double Decode(int payloads) => (profile.DecodeFixedSeconds + (payloads * profile.DecodePerRankSeconds)) * decodedShare;
        double DecodeAndCommit(int payloads) => (Decode(payloads) * computeScale) + passes.CommitNode;
        // A rail's allgatherv of payloads: Open MPI's steps for its bytes per member (each sender's share of a node's
        // payloads, 1/k of them), and the node's link carrying the k rails' payloads in.
        double Allgatherv(int members, int senders, int payloadsIn) =>
            (OpenMpiAllgatherv.Steps(OpenMpiAllgatherv.Choose(members, senders * nodePayload / ranksPerNode / members), members) * links.Inter.Alpha)
            + (payloadsIn * nodePayload * links.Inter.Beta);
        if (groupSize == 1)
        {
            return new NodeStepTerms(1, encode, headers, withinNode, Allgatherv(nodes, nodes, nodes - 1), denseOnRails, 0, DecodeAndCommit(nodes));
        }

        double payloads = Allgatherv(groupSize, groupSize, groupSize - 1) + Allgatherv(nodes, groups, groups);   // only the leaders send
        double recompress = Decode(groupSize) + (profile.EncodeSeconds * decodedShare);   // the leader encodes what is still compressed
        headers += RailSmallAllgather(nodes, ranksPerNode, GroupLengthsBytes(tensors), links);
        return new NodeStepTerms(groupSize, encode, headers, withinNode, payloads, denseOnRails, recompress * computeScale, DecodeAndCommit(groups));
    }

    /// <summary>
    /// The way a call under <see cref="RoutingRule.Time"/> takes (<c>ExchangeChoice</c> measures the ways and keeps the
    /// fastest): the fastest of the node-aware exchange, the flat one, and the two all-dense routes (each rank's check
    /// of its tensors for NaN and infinity, one read of them, before the header; the header; then <c>MPI_Allreduce</c>
    /// of the tensors over all ranks, each piece divided by N as it is summed, in cache, so no divide pass; or the
    /// node-aware dense sum, <see cref="DenseNode"/>, header included, and its commit; <paramref name="passes"/>).
    /// </summary>
    public static (Exchange Way, StepPrediction Step) AtomoChosen(int nodes, int ranksPerNode, AtomoProfile profile, IReadOnlyList<int> tensorElements, NodeLinks links, WholeSetPasses passes, double computeScale = 1, int nodeGroupSize = 0)
    {
        ArgumentNullException.ThrowIfNull(links);
        StepPrediction dense = DenseFlat(nodes, ranksPerNode, tensorElements, links);
        (Exchange, StepPrediction)[] ways =
        [
            (Exchange.NodeAware, AtomoNodeAware(nodes, ranksPerNode, profile, links, computeScale, nodeGroupSize, passes)),
            (Exchange.Flat, Atomo(nodes * ranksPerNode, profile, links.RingEdge(nodes), computeScale)),
            (Exchange.Dense, dense with { Encode = passes.Check, Exchange = dense.Exchange + SmallAllgather(nodes, ranksPerNode, HeaderBytes, links) }),
            (Exchange.DenseNode, DenseNode(nodes, ranksPerNode, tensorElements, links, passes.CommitNode) with { Encode = passes.Check }),
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
    /// The links between nodes from rail calibrations (every rail at once over <paramref name="nodes"/> nodes, each
    /// point a rail member's bytes, summed in the library's pieces), as <see cref="RailAllreduce"/> charges them: each
    /// sum takes Open MPI's steps for its pieces' sizes (<see cref="RailSumCost"/>; over 2 nodes a sum below 4 kB is one
    /// step of recursive doubling, a ring's would be two) and its bytes cross the node's link once per rail. β per byte
    /// on that link by least squares over every point, time against steps and bytes; α per step, as <see cref="Fit"/>
    /// takes it, from the two smallest sums (their byte terms taken off).
    /// </summary>
    public static LinkParameters FitNodeLink(int nodes, int ranksPerNode, IReadOnlyList<(double Bytes, double Seconds)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (nodes < 2 || points.Count < 2)
        {
            throw new ArgumentException("Fitting α and β needs at least 2 nodes and 2 message sizes.", nameof(points));
        }

        var terms = points.Select(p =>
        {
            AllreduceCost cost = RailSumCost(nodes, p.Bytes);
            return (Steps: (double)cost.Steps, LinkBytes: cost.Vectors * ranksPerNode * p.Bytes, p.Seconds);
        }).ToArray();
        double ss = terms.Sum(t => t.Steps * t.Steps), sb = terms.Sum(t => t.Steps * t.LinkBytes), bb = terms.Sum(t => t.LinkBytes * t.LinkBytes);
        double sy = terms.Sum(t => t.Steps * t.Seconds), by = terms.Sum(t => t.LinkBytes * t.Seconds);
        double beta = Math.Max(((ss * by) - (sb * sy)) / ((ss * bb) - (sb * sb)), 0);
        double alpha = terms.OrderBy(t => t.LinkBytes).Take(2).Min(t => Math.Max(t.Seconds - (t.LinkBytes * beta), t.Seconds / 2) / t.Steps);
        return new LinkParameters(alpha, beta, LinkSharing.PerRank);
    }
}
