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
        // M = 4, 1 MB per node over its rails: 2·3·10 µs + 2·3/4·1e6 B·1 ns/B.
        Assert.Equal(60e-6 + 1.5e-3, CostModel.RailAllreduce(4, 1e6, Inter), 12);
        Assert.Equal(120e-6 + 1.5e-3, CostModel.RailAllreduce(4, 1e6, Inter, calls: 2), 12);
        Assert.Equal(0, CostModel.RailAllreduce(1, 1e6, Inter));
    }

    [Fact]
    public void AFlatRingIsAsSlowAsItsSlowestEdge()
    {
        Assert.Equal(Intra, Links.RingEdge(1));
        LinkParameters edge = Links.RingEdge(2);
        Assert.Equal(Inter.Alpha, edge.Alpha);
        Assert.Equal(Intra.Beta, edge.Beta);
        var ring = new LinkParameters(5e-6, 3e-9, LinkSharing.PerRank);
        Assert.Equal(3e-9, (Links with { RingWithinNode = ring }).RingEdge(2).Beta);
        Assert.Equal(ring, (Links with { RingWithinNode = ring }).RingEdge(1));
    }

    [Fact]
    public void DenseFlatIsARingOverAllRanksAtTheSlowestEdge()
    {
        // 2 nodes x 4 ranks, 1 MB: 2·7·10 µs + 2·7/8·1e6 B·2 ns/B = 140 µs + 3.5 ms; plus the divide.
        StepPrediction p = CostModel.DenseFlat(2, 4, [250_000], Links, divideSeconds: 1e-3);
        Assert.Equal(140e-6 + 3.5e-3, p.Exchange, 12);
        Assert.Equal(1e-3, p.Decode, 12);
    }

    [Fact]
    public void DenseNodeIsHeaderNodeSumAndRailAllreduce()
    {
        // 2 nodes x 4 ranks, 1 MB: header 7·10 µs; within the node 2·3·1 µs + 2·3/4·1e6·2 ns; rails 2·1·10 µs + 1e6·1 ns.
        StepPrediction p = CostModel.DenseNode(2, 4, [250_000], Links, divideSeconds: 1e-3);
        Assert.Equal(70e-6 + (6e-6 + 3e-3) + (20e-6 + 1e-3), p.Exchange, 12);
        Assert.Equal(1e-3, p.Decode, 12);
    }

    private static AtomoProfile Profile(double payloadA, double payloadB) => new("x",
        [new TensorProfile(1_000_000, payloadA, true), new TensorProfile(600_000, payloadB, true), new TensorProfile(512, 0, false)],
        EncodeSeconds: 0.02, DecodeFixedSeconds: 0.001, DecodePerRankSeconds: 0.002);

    [Fact]
    public void NodeAwareAtomoHasEveryTermOfTheExchange()
    {
        // 4 nodes x 2 ranks. Plan: A (1e6) to node rank 0, B (0.6e6) to rank 1; the slowest owns 1e6 of 1.6e6 = 0.625.
        NodeStepTerms terms = CostModel.AtomoNodeAwareTerms(4, 2, Profile(10_000, 10_000), Links);
        Assert.Equal(0.02 * 0.625, terms.Encode, 12);
        Assert.Equal(2 * 7 * 10e-6, terms.Headers, 12);                                                  // two small world allgathers over 8 ranks
        Assert.Equal(2e-6 + (4.0 * 1_600_512 * 2e-9), terms.WithinNode, 12);                             // ring allreduce over 2 ranks of all 6.4 MB
        Assert.Equal((3 * 10e-6) + (3 * 20_000 * 1e-9) + (60e-6 + (1.5 * 2048 * 1e-9)), terms.BetweenNodes, 12); // payloads to 3 nodes; the 512 floats' rail allreduce
        Assert.Equal((0.001 + (4 * 0.002)) * 0.625, terms.Decode, 12);                                  // 4 payloads of the slowest share
        StepPrediction step = CostModel.AtomoNodeAware(4, 2, Profile(10_000, 10_000), Links, computeScale: 3);
        Assert.Equal(3 * terms.Encode, step.Encode, 12);
        Assert.Equal(terms.Headers + terms.WithinNode + terms.BetweenNodes, step.Exchange, 12);
        Assert.Equal(3 * terms.Decode, step.Decode, 12);
    }

    [Fact]
    public void NodeAwareAtomoSendsDenseWhatWouldNotPayBetweenNodes()
    {
        // M = 128: A goes dense when 127·payload ≥ 2·127/128·4e6, i.e. payload ≥ 62,500 B. B (2.4 MB) stays compressed.
        NodeStepTerms kept = CostModel.AtomoNodeAwareTerms(128, 2, Profile(62_499, 10_000), Links);
        NodeStepTerms dense = CostModel.AtomoNodeAwareTerms(128, 2, Profile(62_500, 10_000), Links);
        Assert.Equal((127 * 10e-6) + (127 * 72_499 * 1e-9) + CostModel.RailAllreduce(128, 2048, Inter), kept.BetweenNodes, 12);
        Assert.Equal((127 * 10e-6) + (127 * 10_000 * 1e-9) + CostModel.RailAllreduce(128, 2048 + 4e6, Inter, calls: 2), dense.BetweenNodes, 12);
        Assert.Equal(kept.Encode, dense.Encode, 12);                                                     // encoded before the rule, either way
        Assert.Equal((0.001 + (128 * 0.002)) * (600_000 / 1_600_000.0), dense.Decode, 12);              // only B is decoded, by its owner
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
        (double, double)[] points = [.. CollectiveBench.CalibrationFloats.Select(f => (4.0 * f, CostModel.RailAllreduce(nodes, ranksPerNode * 4.0 * f, Inter)))];
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
            .. CollectiveBench.CalibrationFloats.Select(f => new CalibrationPoint("x", 8, 4L * f, CostModel.RailAllreduce(2, 4 * 4.0 * f, Inter), CalibrationLevel.Rail, 2)),
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
