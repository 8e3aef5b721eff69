using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>The node level of <see cref="CostModel"/> on hand-computed cases, its fits, and the calibration CSV with and without levels.</summary>
public class CostModelNodeTests
{
    private static readonly LinkParameters Intra = new(Alpha: 1e-6, Beta: 2e-9, LinkSharing.PerRank);
    private static readonly LinkParameters Inter = new(Alpha: 1e-5, Beta: 1e-9, LinkSharing.PerRank);
    private static readonly NodeLinks Links = new(Intra, Inter);

    [Fact]
    public void RailAllreduceCarriesTheNodesBytesOverItsLink()
    {
        // M = 4, 1 MB per node over its 4 rails, 250 kB each: Open MPI's Rabenseifner, 2·2 steps of 10 µs, and the
        // node's link carries 2·3/4·1e6 B at 1 ns/B (as a ring would; the ring's latency would be 2·3 steps).
        Assert.Equal(40e-6 + 1.5e-3, CostModel.RailAllreduce(4, 4, 1e6, Inter), 12);
        Assert.Equal(0, CostModel.RailAllreduce(1, 4, 1e6, Inter));

        // M = 128, 8 rails of 5 kB: a reduce and a broadcast (Open MPI's nonoverlapping), 2·7 steps of the whole vector,
        // where a ring would take 254 steps (2.54 ms at 10 µs).
        Assert.Equal((14 * 10e-6) + (14 * 40e3 * 1e-9), CostModel.RailAllreduce(128, 8, 40e3, Inter), 12);

        // M = 128, 8 rails of 5.85 MB (ResNet-18's gradients over a node's rails): Rabenseifner, 14 steps, ring bytes.
        Assert.Equal((14 * 10e-6) + (2 * 127 / 128.0 * 46.8e6 * 1e-9), CostModel.RailAllreduce(128, 8, 46.8e6, Inter), 12);
    }

    [Fact]
    public void ARailSumIsChargedInTheLibrarysPieces()
    {
        // M = 2: pieces of 10⁶ floats (4 MB). A member's 10 MB are two whole pieces and one of 2 MB, one allreduce
        // after another: their steps add up, and each piece's bytes cross the link at its own algorithm's rate.
        AllreduceCost piece = OpenMpiAllreduce.CostOfChosen(2, 4e6), last = OpenMpiAllreduce.CostOfChosen(2, 2e6);
        double steps = (2 * piece.Steps) + last.Steps, sent = (2 * piece.Vectors * 4e6) + (last.Vectors * 2e6);
        Assert.Equal((steps * Inter.Alpha) + (4 * sent * Inter.Beta), CostModel.RailAllreduce(2, 4, 4 * 10e6, Inter), 12);
        Assert.Equal(steps, CostModel.RailSumCost(2, 10e6).Steps);

        // Up to one piece, one allreduce; over 128 nodes a piece is 128 · 16,000 floats (8.19 MB), so 5.85 MB is one.
        Assert.Equal(OpenMpiAllreduce.CostOfChosen(2, 4e6), CostModel.RailSumCost(2, 4e6));
        Assert.Equal(OpenMpiAllreduce.CostOfChosen(128, 5.85e6), CostModel.RailSumCost(128, 5.85e6));
    }

    [Fact]
    public void AFlatRingIsAsSlowAsItsSlowestEdge()
    {
        Assert.Equal(Intra, Links.RingEdge(1));
        LinkParameters edge = Links.RingEdge(2);
        Assert.Equal(Inter.Alpha, edge.Alpha);
        Assert.Equal(Intra.Beta, edge.Beta);
        var ring = new LinkParameters(5e-6, 3e-9, LinkSharing.PerRank);
        Assert.Equal(3e-9, (Links with { World = ring }).RingEdge(2).Beta);
        Assert.Equal(ring, (Links with { World = ring }).RingEdge(1));
    }

    [Fact]
    public void DenseFlatTakesOpenMpisStepsInNodeOrder()
    {
        // 2 nodes x 4 ranks, 1 MB: Open MPI's Rabenseifner. Distances 1 and 2 stay in the node (half, then a quarter of
        // the vector at 2 ns/B, 1 µs), distance 4 sends an eighth from all 4 ranks of a node over its link (4·1 ns/B,
        // 10 µs); the allgather mirrors each step. Plus the divide.
        StepPrediction p = CostModel.DenseFlat(2, 4, [250_000], Links, divideSeconds: 1e-3);
        Assert.Equal(2 * ((1e-6 + (5e5 * 2e-9)) + (1e-6 + (2.5e5 * 2e-9)) + (10e-6 + (1.25e5 * 4e-9))), p.Exchange, 12);
        Assert.Equal(1e-3, p.Decode, 12);

        // 4 kB: recursive doubling, the whole vector at each distance.
        Assert.Equal((2 * (1e-6 + (4000 * 2e-9))) + (10e-6 + (4000 * 4e-9)), CostModel.FlatAllreduce(2, 4, 4000, Links), 12);

        // Over 128 nodes x 8 ranks a node's link carries about 2(M−1)/M of the vector each way, as the node-aware
        // allreduce's rails do, where a flat ring's would carry 2(N−1)/N of it.
        double link = CostModel.FlatAllreduce(128, 8, 4e7, Links with { Intra = new LinkParameters(0, 0, LinkSharing.PerRank), Inter = Inter with { Alpha = 0 } });
        Assert.Equal(2 * 127 / 128.0 * 4e7 * 1e-9, link, 9);

        // On the cluster it was calibrated on, the flat allreduce is that calibration's fit, as fitted (a ring's form).
        var world = new LinkParameters(3e-5, 4e-9, LinkSharing.PerRank);
        Assert.Equal(CostModel.RingAllreduce(8, 1e6, world), CostModel.FlatAllreduce(2, 4, 1e6, Links with { World = world }), 12);

        // On one node, a ring at the node's edge.
        Assert.Equal(CostModel.RingAllreduce(8, 1e6, Intra), CostModel.FlatAllreduce(1, 8, 1e6, Links), 12);
    }

    [Fact]
    public void DenseNodeIsHeaderNodeSumAndRailAllreduce()
    {
        // 2 nodes x 4 ranks, 1 MB. Header: 40 B by recursive doubling over 8 ranks, 3 steps of the slowest α (10 µs):
        // XOR 1 and 2 stay in the node (1 and 2 blocks at 2 ns/B), XOR 4 sends the node's 4 ranks' 4 blocks over its link
        // (4·4 blocks at 1 ns/B). Within the node 2·3·1 µs + 2·3/4·1e6·2 ns; rails 2·1·10 µs + 1e6·1 ns.
        double header = 30e-6 + (40 * ((1 * 2e-9) + (2 * 2e-9) + (16 * 1e-9)));
        StepPrediction p = CostModel.DenseNode(2, 4, [250_000], Links, divideSeconds: 1e-3);
        Assert.Equal(header + (6e-6 + 3e-3) + (20e-6 + 1e-3), p.Exchange, 12);
        Assert.Equal(1e-3, p.Decode, 12);
    }

    [Fact]
    public void ASmallAllgatherTakesOpenMpisStepsAndItsBytesCrossTheNodesLink()
    {
        // 128 nodes x 8 ranks, 504 B each (the lengths of 62 tensors): Open MPI runs Bruck, 10 steps of the slowest α.
        // Step d sends d blocks to rank r − d: d of a node's 8 ranks send over its link while the others stay inside,
        // so d = 1: max(1·1, 2) ns/B; d = 2: max(2·1, 2) ns/B x 2 blocks; d = 4: 4 ns/B x 4; d = 8 … 512: 8 ns/B x d.
        double perBytePerRank = 2e-9 + (2 * 2e-9) + (4 * 4e-9) + (8e-9 * (8 + 16 + 32 + 64 + 128 + 256 + 512));
        Assert.Equal((10 * 10e-6) + (504 * perBytePerRank), CostModel.SmallAllgather(128, 8, 504, Links), 12);
        Assert.Equal(504, CostModel.PayloadLengthsBytes(62));

        // The header, 40 B, by recursive doubling: XOR 1, 2, 4 stay in the node, then the node's 8 ranks send d blocks each.
        double header = (10 * 10e-6) + (40 * ((7 * 2e-9) + (8e-9 * (8 + 16 + 32 + 64 + 128 + 256 + 512))));
        Assert.Equal(header, CostModel.SmallAllgather(128, 8, CostModel.HeaderBytes, Links), 12);

        // On one node, all within: 3 steps of α and β within the node.
        Assert.Equal((3 * 1e-6) + (40 * 7 * 2e-9), CostModel.SmallAllgather(1, 8, 40, Links), 12);
    }

    [Fact]
    public void ARailsSmallAllgatherSharesTheNodesLinkWithTheOtherRails()
    {
        // 6 nodes, 2 rails at once, 16 B per member: Bruck over 6 members (1, 2, 2 blocks), every block over the link,
        // twice (both rails): 3·10 µs + 5 blocks·16 B·2·1 ns/B.
        Assert.Equal(30e-6 + (5 * 16 * 2e-9), CostModel.RailSmallAllgather(6, 2, 16, Links), 12);
        Assert.Equal(0, CostModel.RailSmallAllgather(1, 2, 16, Links));
    }

    private static AtomoProfile Profile(double payloadA, double payloadB) => new("x",
        [new TensorProfile(1_000_000, payloadA, true), new TensorProfile(600_000, payloadB, true), new TensorProfile(512, 0, false)],
        EncodeSeconds: 0.02, DecodeFixedSeconds: 0.001, DecodePerRankSeconds: 0.002);

    [Fact]
    public void NodeAwareAtomoHasEveryTermOfTheExchange()
    {
        // 4 nodes x 2 ranks. Plan: A (1e6) to node rank 0, B (0.6e6) to rank 1; the slowest owns 1e6 of 1.6e6 = 0.625.
        // Below 32 nodes, no groups.
        NodeStepTerms terms = CostModel.AtomoNodeAwareTerms(4, 2, Profile(10_000, 10_000), Links);
        Assert.Equal(1, terms.GroupSize);
        Assert.Equal(0.02 * 0.625, terms.Encode, 12);

        // Header (40 B) and lengths ((2 + 2·3)·4 = 32 B), each by recursive doubling over 8 ranks: 3 steps of 10 µs;
        // XOR 1 in the node (1 block at 2 ns/B), XOR 2 and 4 both ranks of a node over its link (2 and 4 blocks at 2·1 ns/B).
        Assert.Equal((2 * 30e-6) + ((40 + 32) * (2e-9 + (2 * 2e-9) + (4 * 2e-9))), terms.Headers, 12);
        Assert.Equal(2e-6 + (4.0 * 1_600_512 * 2e-9), terms.WithinNode, 12);                             // ring allreduce over 2 ranks of all 6.4 MB
        // Payloads from 3 nodes: 10 kB per rail member, Open MPI's neighbor exchange over 4 members, 2 steps.
        Assert.Equal((2 * 10e-6) + (3 * 20_000 * 1e-9), terms.Payloads, 12);
        // The 512 floats and the 2 rails' outcome floats: recursive doubling over 4 nodes, 2 steps of the whole vector.
        Assert.Equal(20e-6 + (2 * 2056 * 1e-9), terms.DenseOnRails, 12);
        Assert.Equal(0, terms.Recompress);
        Assert.Equal((0.001 + (4 * 0.002)) * 0.625, terms.Decode, 12);                                  // 4 payloads of the slowest share
        StepPrediction step = CostModel.AtomoNodeAware(4, 2, Profile(10_000, 10_000), Links, computeScale: 3);
        Assert.Equal(3 * terms.Encode, step.Encode, 12);
        Assert.Equal(terms.Headers + terms.WithinNode + terms.BetweenNodes, step.Exchange, 12);
        Assert.Equal(3 * terms.Decode, step.Decode, 12);
    }

    [Fact]
    public void EveryWayButFlatPaysItsPassesOverEveryTensor()
    {
        // Payloads as large as the tensors: neither compressed way can beat the dense ways, the faster of which is kept:
        // the flat dense allreduce and the header (40 B by recursive doubling over 8 ranks, as in the test above), its
        // pieces divided as they are summed (no divide pass), or the node-aware dense sum (its header included) and its
        // commit; either way after the check.
        int[] elements = [1_000_000, 600_000, 512];
        AtomoProfile profile = Profile(4_000_000, 2_400_000);
        var passes = new WholeSetPasses(Check: 0.003, CommitNode: 0.002);
        double header = 30e-6 + (40 * (2e-9 + (2 * 2e-9) + (4 * 2e-9)));
        double flat = CostModel.DenseFlat(4, 2, elements, Links).Total + header, node = CostModel.DenseNode(4, 2, elements, Links, 0.002).Total;
        (Exchange way, StepPrediction step) = CostModel.AtomoChosen(4, 2, profile, elements, Links, passes);
        Assert.Equal(flat <= node ? Exchange.Dense : Exchange.DenseNode, way);
        Assert.Equal(0.003, step.Encode, 12);
        Assert.Equal(Math.Min(flat, node) + 0.003, step.Total, 12);

        // The node-aware exchange checks every tensor before and commits into every tensor after, as the dense sum does.
        StepPrediction bare = CostModel.AtomoNodeAware(4, 2, profile, Links);
        StepPrediction nodeAware = CostModel.AtomoNodeAware(4, 2, profile, Links, passes: passes);
        Assert.Equal(bare.Encode + 0.003, nodeAware.Encode, 12);
        Assert.Equal(bare.Exchange, nodeAware.Exchange, 12);
        Assert.Equal(bare.Decode + 0.002, nodeAware.Decode, 12);
        Assert.True(bare.Total > Math.Min(flat, node));

        // The flat exchange's profile has its own check: one that costs more than the dense ways' lead over it hands the
        // call to flat.
        double lead = CostModel.Atomo(8, profile, Links.RingEdge(4)).Total - Math.Min(flat, node);
        Assert.True(lead > 0);
        Assert.Equal(Exchange.Flat, CostModel.AtomoChosen(4, 2, profile, elements, Links, passes with { Check = lead + 0.001 }).Way);
    }

    [Fact]
    public void NodeAwareAtomoSendsDenseWhatWouldNotPayBetweenNodes()
    {
        // M = 128 without groups: A goes dense when 127·payload ≥ 2·127/128·4e6, i.e. payload ≥ 62,500 B. B (2.4 MB) stays compressed.
        NodeStepTerms kept = CostModel.AtomoNodeAwareTerms(128, 2, Profile(62_499, 10_000), Links, nodeGroupSize: 1);
        NodeStepTerms dense = CostModel.AtomoNodeAwareTerms(128, 2, Profile(62_500, 10_000), Links, nodeGroupSize: 1);
        // The payloads by neighbor exchange over the 128 rail members (36 and 5 kB each), 64 steps.
        Assert.Equal((64 * 10e-6) + (127 * 72_499 * 1e-9) + CostModel.RailAllreduce(128, 2, 2048 + 8, Inter), kept.BetweenNodes, 12);
        Assert.Equal((64 * 10e-6) + (127 * 10_000 * 1e-9) + CostModel.RailAllreduce(128, 2, 2048 + 8, Inter) + CostModel.RailAllreduce(128, 2, 4e6, Inter), dense.BetweenNodes, 12);
        Assert.Equal(kept.Encode, dense.Encode, 12);                                                     // encoded before the rule, either way
        Assert.Equal((0.001 + (128 * 0.002)) * (600_000 / 1_600_000.0), dense.Decode, 12);              // only B is decoded, by its owner
    }

    [Fact]
    public void WithGroupsTheByteRuleCountsThePayloadsANodeReceives()
    {
        // M = 36, n = 1e6: the rails' dense allreduce moves 2·35/36·4e6 = 7,777,777.8 B per node. Without groups a node
        // receives 35 payloads (dense from 222,222.2 B on); in the automatic groups of 6, 5 + 5 = 10 (from 777,777.8 B on).
        Assert.False(CostModel.GoesDenseBetweenNodes(36, 1, 222_222, 1_000_000));
        Assert.True(CostModel.GoesDenseBetweenNodes(36, 1, 222_223, 1_000_000));
        Assert.False(CostModel.GoesDenseBetweenNodes(36, 6, 777_777, 1_000_000));
        Assert.True(CostModel.GoesDenseBetweenNodes(36, 6, 777_778, 1_000_000));

        // The terms follow it: at 777,777 B A stays compressed in groups, and goes dense (a second rail allreduce) without.
        NodeStepTerms grouped = CostModel.AtomoNodeAwareTerms(36, 2, Profile(777_777, 10_000), Links);
        NodeStepTerms flat = CostModel.AtomoNodeAwareTerms(36, 2, Profile(777_777, 10_000), Links, nodeGroupSize: 1);
        Assert.Equal(CostModel.RailAllreduce(36, 2, 2048 + 8, Inter), grouped.DenseOnRails, 12);
        Assert.Equal(CostModel.RailAllreduce(36, 2, 2048 + 8, Inter) + CostModel.RailAllreduce(36, 2, 4e6, Inter), flat.DenseOnRails, 12);
    }

    [Fact]
    public void GroupsOfTwoOverSixNodesGatherInTheGroupThenTheLeadersPayloads()
    {
        // M = 6, k = 2, groups of 2 (option 2): 3 groups. Node payload 20 kB (A and B, 10 kB each, stay compressed:
        // 3·10 kB < 2·5/6·4e6 B). The slowest rank owns A, 0.625 of the compressible elements.
        NodeStepTerms terms = CostModel.AtomoNodeAwareTerms(6, 2, Profile(10_000, 10_000), Links, computeScale: 1, nodeGroupSize: 2);
        Assert.Equal(2, terms.GroupSize);
        Assert.Equal(0.02 * 0.625, terms.Encode, 12);

        // World header (40 B) and lengths (32 B) over 12 ranks: Bruck (12 is no power of two), distances 1, 2, 4, 8 with
        // 1, 2, 4, 4 blocks; at distance 1 one rank of a node sends over its link (1 ns/B) while the other stays in (2 ns/B),
        // then both (2 ns/B): 4·10 µs + bytes·(2 + 2·2 + 4·2 + 4·2) ns. Then the group lengths, (1 + 3)·4 = 16 B over the
        // rail of 6: Bruck, 1 + 2 + 2 blocks, both rails over the link: 3·10 µs + 16·5·2 ns.
        double world = (2 * 40e-6) + ((40 + 32) * (2e-9 + (2 * 2e-9) + (4 * 2e-9) + (4 * 2e-9)));
        Assert.Equal(world + 30e-6 + (16 * 5 * 2e-9), terms.Headers, 12);

        // In the group: 1 other node's payload (Open MPI's two-process exchange, 10 kB per member), 10 µs + 20 kB·1 ns/B.
        // Then the leaders' over the rail (3 of 6 members send 10 kB, 5 kB per member: the ring), 5 latencies, and a
        // node that does not lead receives all 3 groups' payloads: 50 µs + 3·20 kB·1 ns/B.
        Assert.Equal((10e-6 + 20e-6) + (50e-6 + 60e-6), terms.Payloads, 12);
        Assert.Equal(CostModel.RailAllreduce(6, 2, 2048 + 8, Inter), terms.DenseOnRails, 12);

        // The leader decodes its group's 2 payloads and encodes their sum; every rank then decodes the 3 groups' payloads.
        Assert.Equal(((0.001 + (2 * 0.002)) * 0.625) + (0.02 * 0.625), terms.Recompress, 12);
        Assert.Equal((0.001 + (3 * 0.002)) * 0.625, terms.Decode, 12);

        StepPrediction step = CostModel.AtomoNodeAware(6, 2, Profile(10_000, 10_000), Links, computeScale: 3, nodeGroupSize: 2);
        Assert.Equal(3 * (terms.Recompress + terms.Decode), step.Decode, 12);
        Assert.Equal(terms.Headers + terms.WithinNode + terms.Payloads + terms.DenseOnRails, step.Exchange, 12);
    }

    [Fact]
    public void FromThirtyTwoNodesTheLibrarysAutomaticGroupsApply()
    {
        // M = 36: groups of round(√36) = 6, 6 groups. Payloads: 5 in the group (neighbor exchange over 6 members of
        // 10 kB, 3 steps), then the 6 group payloads (Bruck over 36 members of 1.7 kB on average, 6 steps).
        NodeStepTerms terms = CostModel.AtomoNodeAwareTerms(36, 2, Profile(10_000, 10_000), Links);
        Assert.Equal(6, terms.GroupSize);
        Assert.Equal((3 * 10e-6) + (5 * 20_000 * 1e-9) + (6 * 10e-6) + (6 * 20_000 * 1e-9), terms.Payloads, 12);
        Assert.Equal(((0.001 + (6 * 0.002)) * 0.625) + (0.02 * 0.625), terms.Recompress, 12);
        Assert.Equal((0.001 + (6 * 0.002)) * 0.625, terms.Decode, 12);

        // The group lengths go with the headers: 36 members, recursive doubling is Bruck there (6 steps, 35 blocks, 2 rails).
        NodeStepTerms ungrouped = CostModel.AtomoNodeAwareTerms(36, 2, Profile(10_000, 10_000), Links, nodeGroupSize: 1);
        Assert.Equal((6 * 10e-6) + (35 * 16 * 2e-9), terms.Headers - ungrouped.Headers, 12);

        // Below 32 nodes none: M = 31 decodes the 31 nodes' payloads.
        NodeStepTerms below = CostModel.AtomoNodeAwareTerms(31, 2, Profile(10_000, 10_000), Links);
        Assert.Equal(1, below.GroupSize);
        Assert.Equal((0.001 + (31 * 0.002)) * 0.625, below.Decode, 12);
    }

    [Fact]
    public void OneNodeOrOneRankPerNodeIsTheFlatExchange()
    {
        AtomoProfile profile = Profile(10_000, 10_000);
        Assert.Equal(CostModel.Atomo(8, profile, Intra), CostModel.AtomoNodeAware(1, 8, profile, Links));
        Assert.Equal(CostModel.Atomo(4, profile, Links.RingEdge(4)), CostModel.AtomoNodeAware(4, 1, profile, Links));
    }

    [Fact]
    public void SlowestShareFollowsTheLibrarysPlan()
    {
        // Largest first to the least loaded: 5 → 0, 4 → 1, 3 → 1 (4 < 5), 3 → 0 (5 < 7): loads 8 and 7 of 15.
        TensorProfile[] tensors = [new(3, 0, true), new(5, 0, true), new(4, 0, true), new(3, 0, true), new(100, 0, false)];
        Assert.Equal(8 / 15.0, CostModel.SlowestShare(tensors, 2, _ => true), 12);
        Assert.Equal(7 / 15.0, CostModel.SlowestShare(tensors, 2, t => t.Elements != 5), 12);
        Assert.Equal(1.0, CostModel.SlowestShare(tensors, 1, _ => true), 12);
        Assert.Equal(0, CostModel.SlowestShare([new(100, 0, false)], 2, _ => true));
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(4, 8)]
    public void NodeLinkFitRecoversAlphaAndTheSharedLinksBeta(int nodes, int ranksPerNode)
    {
        // Every rail allreduces b bytes at once, so the node's link carries k·b.
        (double, double)[] points = [.. CollectiveBench.CalibrationFloats.Select(f => (4.0 * f, CostModel.RailAllreduce(nodes, ranksPerNode, ranksPerNode * 4.0 * f, Inter)))];
        LinkParameters fitted = CostModel.FitNodeLink(nodes, ranksPerNode, points);
        Assert.Equal(Inter.Alpha, fitted.Alpha, 9);
        Assert.Equal(Inter.Beta, fitted.Beta, 14);
    }

    [Fact]
    public void TheReportFitsEveryLevelFromSyntheticCalibrations()
    {
        var ring = new LinkParameters(3e-5, 4e-9, LinkSharing.PerRank);
        CalibrationPoint[] points =
        [
            .. CollectiveBench.CalibrationFloats.Select(f => new CalibrationPoint("x", 8, 4L * f, CostModel.RingAllreduce(8, 4.0 * f, ring), CalibrationLevel.World, 8)),
            .. CollectiveBench.CalibrationFloats.Select(f => new CalibrationPoint("x", 8, 4L * f, CostModel.RingAllreduce(4, 4.0 * f, Intra), CalibrationLevel.Node, 4)),
            .. CollectiveBench.CalibrationFloats.Select(f => new CalibrationPoint("x", 8, 4L * f, CostModel.RailAllreduce(2, 4, 4 * 4.0 * f, Inter), CalibrationLevel.Rail, 2)),
        ];
        (int nodes, int ranksPerNode, NodeLinks links) = CostModelReport.FitNodeLinks(points, 8);
        Assert.Equal((2, 4), (nodes, ranksPerNode));
        Assert.Equal(Intra.Alpha, links.Intra.Alpha, 9);
        Assert.Equal(Intra.Beta, links.Intra.Beta, 14);
        Assert.Equal(Inter.Alpha, links.Inter.Alpha, 9);
        Assert.Equal(Inter.Beta, links.Inter.Beta, 14);
        Assert.Equal(ring.Beta, links.RingEdge(2).Beta, 14);
        Assert.Equal(ring.Alpha, links.RingEdge(2).Alpha, 9);
        Assert.Throws<ArgumentException>(() => CostModelReport.FitNodeLinks([.. points.Where(p => p.Level != CalibrationLevel.Rail)], 8));
    }

    [Fact]
    public void CalibrationRowsWithoutALevelAreTheWorlds()
    {
        var old = new Dictionary<string, string> { ["label"] = "1gbit", ["ranks"] = "4", ["bytes"] = "1024", ["seconds"] = "0.001" };
        CalibrationPoint point = CalibrationPoint.Parse(old);
        Assert.Equal(new CalibrationPoint("1gbit", 4, 1024, 0.001, CalibrationLevel.World, 4), point);
        Assert.Equal(4, point.GroupRanks);
    }

    [Theory]
    [InlineData("World", 8)]
    [InlineData("Node", 4)]
    [InlineData("Rail", 2)]
    public void CalibrationRowsRoundTripWithTheirLevel(string levelName, int groupRanks)
    {
        CalibrationLevel level = Enum.Parse<CalibrationLevel>(levelName);
        var point = new CalibrationPoint("10gbit-2nodes", 8, 8_388_608, 0.0424494, level, groupRanks);
        List<string> header = Csv.Split(CalibrationPoint.CsvHeader), fields = Csv.Split(point.ToCsv());
        CalibrationPoint parsed = CalibrationPoint.Parse(header.Zip(fields).ToDictionary(p => p.First, p => p.Second));
        Assert.Equal(point, parsed);
        Assert.Equal(groupRanks, parsed.GroupRanks);
    }

    [Theory]
    [InlineData("switch")]
    [InlineData("1")]
    [InlineData("")]
    public void AnUnknownCalibrationLevelIsNamed(string level)
    {
        var row = new Dictionary<string, string> { ["label"] = "x", ["ranks"] = "4", ["bytes"] = "1024", ["seconds"] = "0.001", ["level"] = level, ["group_ranks"] = "4" };
        FormatException error = Assert.Throws<FormatException>(() => CalibrationPoint.Parse(row));
        Assert.Contains($"'{level}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WinRangeNamesNodeCounts()
    {
        double[] Speedups(params int[] winning) => [.. CostModelReport.ProjectedNodes.Select(m => winning.Contains(m) ? 2.0 : 0.5)];
        Assert.Equal("all M (1-128)", CostModelReport.WinRange(Speedups(1, 2, 4, 8, 16, 32, 64, 128), CostModelReport.ProjectedNodes, "M"));
        Assert.Equal("M <= 8", CostModelReport.WinRange(Speedups(1, 2, 4, 8), CostModelReport.ProjectedNodes, "M"));
        Assert.Equal("no M", CostModelReport.WinRange(Speedups(), CostModelReport.ProjectedNodes, "M"));
    }
}
