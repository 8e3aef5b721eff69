using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Training;

[Collection("Training")] // its averagers log to the console, which the CLI tests of this collection redirect
public sealed class CompressorTests
{
    [Theory]
    [InlineData("dense", "Dense", 3.0, 4, "dense")]
    [InlineData("atomo-spectral", "AtomoSpectral", 3.0, 4, "atomo-spectral s=3")]
    [InlineData("atomo-spectral:1.5", "AtomoSpectral", 1.5, 4, "atomo-spectral s=1.5")]
    [InlineData("atomo-coordinate", "AtomoCoordinate", 10.0, 4, "atomo-coordinate s=10")]
    [InlineData("qsgd:2", "Qsgd", 10.0, 2, "qsgd 2-bit")]
    [InlineData(" TernGrad ", "TernGrad", 10.0, 4, "terngrad")]
    [InlineData("powersgd", "PowerSgd", 10.0, 4, "powersgd r=1")]
    [InlineData("powersgd:4", "PowerSgd", 10.0, 4, "powersgd r=4")]
    [InlineData("atomo-spectral:3@time", "AtomoSpectral", 3.0, 4, "atomo-spectral s=3 by time")]
    [InlineData(" terngrad@TIME ", "TernGrad", 10.0, 4, "terngrad by time")]
    public void ParsesNamesAndValues(string text, string kindName, double budget, int bits, string label)
    {
        Compressor c = Compressor.Parse(text);
        Assert.Equal(kindName, c.Kind.ToString());
        Assert.Equal(label, c.Label);
        Assert.Equal(bits, c.Bits);
        if (c.Kind is CompressorKind.AtomoSpectral or CompressorKind.AtomoCoordinate)
        {
            Assert.Equal(budget, c.Budget);
        }
    }

    [Theory]
    [InlineData("topk", "Unknown compressor 'topk'")]
    [InlineData("atomo-spectral:0", "positive")]
    [InlineData("atomo-spectral:x", "must be a number")]
    [InlineData("qsgd:2.5", "bits, an integer")]
    [InlineData("qsgd:16", "1 to 15 bits")]
    [InlineData("powersgd:1.5", "the rank, an integer")]
    [InlineData("powersgd:0", "rank must be at least 1")]
    [InlineData("dense@time", "dense has no routes")]
    [InlineData("qsgd:2@time", "qsgd has no routes")]
    [InlineData("powersgd@time", "(atomo-spectral, atomo-coordinate, atomo-fourier, terngrad) by time; powersgd has no routes")]
    [InlineData("atomo-spectral:x@time", "must be a number")]
    [InlineData("atomo-spectral@time@time", "@time is given twice")]
    public void RefusesBadSpecificationsWithAClearMessage(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Compressor.Parse(text));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunListsSplitOnSpacesAndCommasAndNameADirectoryPerRun()
    {
        Compressor[] runs = Compressor.ParseList(" dense, atomo-spectral:3  qsgd:2,terngrad ");
        Assert.Equal(["dense", "atomo-spectral_s_3", "qsgd_2-bit", "terngrad"], runs.Select(c => c.DirectoryName));
        Compressor[] both = Compressor.ParseList("atomo-spectral:3 atomo-spectral:3@time");
        Assert.Equal(["atomo-spectral_s_3", "atomo-spectral_s_3_by_time"], both.Select(c => c.DirectoryName));
    }

    [Theory]
    [InlineData("dense atomo-spectral:3 atomo-spectral", "'atomo-spectral s=3' is given more than once")]
    [InlineData("dense qsgd:4 qsgd", "'qsgd 4-bit' is given more than once")]
    [InlineData("dense top-k", "Unknown compressor 'top-k'")]
    public void RunListsRefuseRepeatsAndUnknownNames(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Compressor.ParseList(text));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AtomoCompressorsCarryTheSeedAndDecompositionAndRouteByBytes()
    {
        AtomoOptions spectral = Compressor.Parse("atomo-spectral:2").ToAtomoOptions(9)!;
        Assert.Equal(Decomposition.Spectral, spectral.Decomposition);
        Assert.Equal(2, spectral.Budget);
        Assert.Equal(9UL, spectral.Seed);
        Assert.Equal(RoutingRule.Bytes, spectral.Routing);   // training runs repeat bitwise
        Assert.Equal(RoutingRule.Time, Compressor.Parse("atomo-spectral:2@time").ToAtomoOptions(9)!.Routing);   // unless asked for the library's default
        Assert.Equal(BudgetRule.TernGrad, Compressor.Parse("terngrad").ToAtomoOptions(9)!.BudgetRule);
        Assert.Null(Compressor.Parse("dense").ToAtomoOptions(9));
        Assert.Null(Compressor.Parse("qsgd").ToAtomoOptions(9));
        Assert.Null(Compressor.Parse("powersgd:2").ToAtomoOptions(9));
    }

    [Theory]
    [InlineData("dense", typeof(DenseAllreduce))]
    [InlineData("atomo-spectral", typeof(AtomoAllreduce))]
    [InlineData("terngrad", typeof(AtomoAllreduce))]
    [InlineData("qsgd", typeof(QsgdAverager))]
    [InlineData("powersgd:2", typeof(PowerSgdAllreduce))]
    public void EveryCompressorIsAnAveragerBehindOneInterface(string text, Type type)
    {
        InProcessCluster.Run(2, world =>
        {
            using IGradientAverager averager = Compressor.Parse(text).CreateAverager(world, 5);
            Assert.IsType(type, averager);
            float[] gradient = [.. Enumerable.Range(0, 64 * 32).Select(i => (float)Math.Sin(i * (world.Rank + 1)))];
            averager.Average([gradient], [TensorShape.Matrix(64, 32)]);
            Assert.Equal(1, averager.Step);
            Assert.Equal((long)AllreduceStatistics.RingAllreduceBytes(64 * 32, 2), averager.Statistics.DenseEquivalentBytes);
            Assert.Single(averager.LastCall.Decisions);
        });
    }
}
