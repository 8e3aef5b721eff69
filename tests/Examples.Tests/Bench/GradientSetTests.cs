using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>The benchmark's layer shapes and synthetic gradients.</summary>
public class GradientSetTests
{
    [Fact]
    public void ResNet18HasTorchvisionsParameterCount()
    {
        GradientSet set = GradientSets.ResNet18();
        Assert.Equal(11_689_512, set.ParameterCount);   // sum(p.numel() for p in torchvision.models.resnet18().parameters())
        Assert.Equal(62, set.Tensors.Count);             // 20 convs + 20 BN × 2 + fc weight and bias
        Assert.Equal(21, set.Tensors.Count(t => t.Shape.Rank >= 2));
        Assert.Equal(TensorShape.Of(64, 3, 7, 7), set.Tensors[0].Shape);
        Assert.Equal(TensorShape.Matrix(1000, 512), set.Tensors[^2].Shape);
        Assert.Equal(TensorShape.Vector(1000), set.Tensors[^1].Shape);
        Assert.Equal((512, 4608), set.Tensors.Single(t => t.Name == "layer4.1.conv2.weight").Shape.MatrixView);
        Assert.Equal(3, set.Tensors.Count(t => t.Name.Contains("downsample.0", StringComparison.Ordinal)));
    }

    [Fact]
    public void MlpIsTheTrainedNetworks784By256By128By10()
    {
        GradientSet set = GradientSets.Mlp();
        Assert.Equal(235_146, set.ParameterCount);
        TensorShape[] expected = [
            TensorShape.Matrix(256, 784), TensorShape.Vector(256), TensorShape.Matrix(128, 256), TensorShape.Vector(128),
            TensorShape.Matrix(10, 128), TensorShape.Vector(10)];
        Assert.Equal(expected, set.Shapes);
    }

    [Fact]
    public void GroupedShapesCountEveryTensorOnce()
    {
        GradientSet set = GradientSets.ResNet18();
        IReadOnlyList<(TensorShape Shape, int Count)> groups = set.GroupedShapes();
        Assert.Equal(set.Tensors.Count, groups.Sum(g => g.Count));
        Assert.Equal(groups.Count, groups.Select(g => g.Shape).Distinct().Count());
        Assert.Equal(10, groups.Single(g => g.Shape == TensorShape.Vector(512)).Count);   // 5 BNs of width 512, scale and shift
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("resnet18")]
    [InlineData("ResNet-18")]
    public void SetsAreFoundByName(string name)
    {
        Assert.NotEmpty(GradientSets.ByName(name).Tensors);
    }

    [Fact]
    public void UnknownSetNameIsAClearError()
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => GradientSets.ByName("vgg"));
        Assert.Contains("resnet18", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SyntheticGradientsAreDeterministicPerRankAndDifferAcrossRanks()
    {
        GradientSet set = GradientSets.Mlp();
        var model = new GradientModel();
        float[][] first = SyntheticGradients.Create(set, model, rank: 1);
        float[][] again = SyntheticGradients.Create(set, model, rank: 1);
        float[][] other = SyntheticGradients.Create(set, model, rank: 2);
        for (int t = 0; t < set.Tensors.Count; t++)
        {
            Assert.Equal(set.Tensors[t].Shape.ElementCount, first[t].Length);
            Assert.Equal(first[t], again[t]);
            Assert.NotEqual(first[t], other[t]);
            Assert.All(first[t], value => Assert.True(float.IsFinite(value)));
        }
    }

    [Fact]
    public void SyntheticMatricesAreLowRankPlusTheStatedNoise()
    {
        // Projecting out the exact low-rank part is not available here, but the noise level is: with Noise = 0 the
        // matrix has rank ≤ Terms, so its rows lie in a Terms-dimensional space and Gram–Schmidt on the rows leaves
        // (numerically) nothing after Terms of them.
        var shape = TensorShape.Matrix(40, 30);
        var data = new float[shape.ElementCount];
        SyntheticGradients.Fill(data, shape, new GradientModel(Terms: 3, Noise: 0), seed: 7);
        Assert.Equal(3, NumericalRank(data, 40, 30));
        SyntheticGradients.Fill(data, shape, new GradientModel(Terms: 3, Noise: 0.01), seed: 7);
        Assert.Equal(30, NumericalRank(data, 40, 30, tolerance: 1e-4));
    }

    [Fact]
    public void ConfigurationsCoverTheIssuesListAndDenseIsAlwaysSelected()
    {
        string[] names = [.. BenchConfigurations.All(1).Select(c => c.Name)];
        Assert.Equal(["dense", "dense-node", "atomo-spectral-s1", "atomo-spectral-s2", "atomo-spectral-s3", "atomo-coordinate", "atomo-fourier", "qsgd", "terngrad"], names);
        Assert.Equal(["dense", "qsgd"], BenchConfigurations.Select("qsgd", 1, [RoutingRule.Time]).Select(c => c.Name));
        Assert.Equal(["dense", "dense-node", "atomo-spectral-s3", "atomo-spectral-s3-flat"], BenchConfigurations.Select("atomo-spectral-s3-flat,dense-node,atomo-spectral-s3", 1, [RoutingRule.Time]).Select(c => c.Name));
        Assert.Equal(NodeAwareMode.Off, BenchConfigurations.Select("atomo-spectral-s3-flat", 1, [RoutingRule.Time])[1].Options!.NodeAware);
        Assert.Throws<ArgumentException>(() => BenchConfigurations.Select("zip", 1, [RoutingRule.Time]));
    }

    /// <summary>dense-pieces runs only when named, is dense without being the baseline, and counts as dense wherever results are read back.</summary>
    [Fact]
    public void DenseInPiecesIsADenseConfigurationRunOnlyWhenNamed()
    {
        Assert.DoesNotContain(BenchConfigurations.All(1), c => c.InPieces);
        IReadOnlyList<BenchConfiguration> pieces = BenchConfigurations.Select("dense-pieces", 1, BenchConfigurations.ParseRouting("both"));
        Assert.Equal(["dense", "dense-pieces"], pieces.Select(c => c.Name));
        Assert.True(pieces[1] is { IsDense: true, InPieces: true, IsBaseline: false, Routing: "" });
        Assert.All(["dense", "dense-node", "dense-pieces"], name => Assert.True(BenchConfigurations.IsDenseName(name)));
        Assert.False(BenchConfigurations.IsDenseName("qsgd"));
    }

    /// <summary>--routing both runs each ATOMO configuration under the time rule (its own name) and the byte rule (NAME-bytes); dense once.</summary>
    [Fact]
    public void BothRoutingRulesRunEachAtomoConfigurationTwice()
    {
        IReadOnlyList<BenchConfiguration> both = BenchConfigurations.Select("qsgd,atomo-fourier", 1, BenchConfigurations.ParseRouting("both"));
        Assert.Equal(["dense", "atomo-fourier", "atomo-fourier-bytes", "qsgd", "qsgd-bytes"], both.Select(c => c.Name));
        Assert.Equal(["", "time", "bytes", "time", "bytes"], both.Select(c => c.Routing));
        Assert.Equal(RoutingRule.Bytes, both[2].Options!.Routing);
        Assert.Equal(Decomposition.Fourier, both[2].Options!.Decomposition);
        Assert.Equal(RoutingRule.Bytes, Assert.Single(BenchConfigurations.Select("qsgd", 1, BenchConfigurations.ParseRouting("bytes")), c => !c.IsDense).Options!.Routing);
        Assert.Throws<ArgumentException>(() => BenchConfigurations.ParseRouting("fast"));

        // The node-aware dense baseline is dense (one run, no rule); the flat spectral one keeps NodeAware = Off under both rules.
        IReadOnlyList<BenchConfiguration> node = BenchConfigurations.Select("dense-node,atomo-spectral-s3-flat", 1, BenchConfigurations.ParseRouting("both"));
        Assert.Equal(["dense", "dense-node", "atomo-spectral-s3-flat", "atomo-spectral-s3-flat-bytes"], node.Select(c => c.Name));
        Assert.Equal(["", "", "time", "bytes"], node.Select(c => c.Routing));
        Assert.All(node.Skip(2), c => Assert.Equal(NodeAwareMode.Off, c.Options!.NodeAware));
        Assert.NotNull(node[1].DenseOptions);
    }

    [Fact]
    public void ConfigResultsSurviveACsvRoundTrip()
    {
        var result = new ConfigResult("1gbit", "resnet18", "atomo-spectral-s3", 4, 3, 0.365, 0.35, 0.155, 0.099, 0.111, 905_000.5, 70_137_000, 900_000, 11_689_512, 9_600, 62, 21, 0.0026, 0.05, 0.0041, Routing: "time", DenseFasterTensors: 5)
        {
            BetweenNodeBytesPerRank = 452_000.25,
        };
        string[] lines = [ConfigResult.CsvHeader, result.ToCsv(6.17, new PairedSpeedup("dense", 1.2, 1.1, 1.3, 0.965))];
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, lines);
            ConfigResult parsed = ConfigResult.Parse(Csv.Read(path).Single());
            Assert.Equal(result, parsed);

            // A row from before the time rule was routed by bytes.
            Dictionary<string, string> old = Csv.Read(path).Single();
            old.Remove("routing");
            old.Remove("dense_faster_tensors");
            Assert.Equal(result with { Routing = "bytes", DenseFasterTensors = 0 }, ConfigResult.Parse(old));

            // And one from before the node-aware exchange has no out-of-node bytes.
            old.Remove("between_node_bytes_per_rank");
            Assert.Equal(result with { Routing = "bytes", DenseFasterTensors = 0, BetweenNodeBytesPerRank = double.NaN }, ConfigResult.Parse(old));

            var tensor = new TensorResult("10gbit", "resnet18", "qsgd", 4, 7, "layer1.0.conv1", "64x64x3x3", 36_864, "DenseFaster", 0, 0.0021, 0.0034);
            File.WriteAllLines(path, [TensorResult.CsvHeader, tensor.ToCsv()]);
            Assert.Equal(tensor, TensorResult.Parse(Csv.Read(path).Single()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int NumericalRank(float[] data, int rows, int columns, double tolerance = 1e-6)
    {
        var basis = new List<double[]>();
        double scale = 0;
        for (int i = 0; i < rows; i++)
        {
            double[] row = [.. data.AsSpan(i * columns, columns).ToArray().Select(x => (double)x)];
            scale = Math.Max(scale, Math.Sqrt(row.Sum(x => x * x)));
            foreach (double[] b in basis)
            {
                double dot = row.Zip(b, (x, y) => x * y).Sum();
                for (int j = 0; j < columns; j++)
                {
                    row[j] -= dot * b[j];
                }
            }

            double norm = Math.Sqrt(row.Sum(x => x * x));
            if (norm > tolerance * scale)
            {
                basis.Add([.. row.Select(x => x / norm)]);
            }
        }

        return basis.Count;
    }
}
