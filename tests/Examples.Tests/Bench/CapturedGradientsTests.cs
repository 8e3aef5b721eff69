using AtomoCollectives.Examples.Bench;
using AtomoCollectives.Examples.Cli;
using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Tests.Cli;

namespace AtomoCollectives.Examples.Tests.Bench;

/// <summary>Gradient sets read from a capture directory: shapes, which rank's data each bench rank gets, labels and errors.</summary>
[Collection("Training")]
public sealed class CapturedGradientsTests : IDisposable
{
    private static readonly (string Name, int[] Shape)[] Tensors = [("conv.weight", [8, 3, 3, 2]), ("conv.bias", [8]), ("fc.weight", [10, 16])];

    private readonly string _root = Directory.CreateTempSubdirectory("captured-set-tests-").FullName;

    public CapturedGradientsTests()
    {
        Capture = Path.Combine(_root, "toy");
        WriteCapture(Capture, steps: [2, 9], ranks: 2);
    }

    private string Capture { get; }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The value at position <c>i</c> of tensor <c>t</c> of (step, rank): distinct everywhere.</summary>
    private static float Value(long step, int rank, int t, int i) => (step * 10_000) + (rank * 1_000) + (t * 100) + i;

    [Fact]
    public void TheSetHasTheCapturedShapesAndTheLastStepByDefault()
    {
        GradientSet set = GradientSets.Resolve(Capture, captureStep: null);

        Assert.Equal("capture:toy-step9", set.Name);
        Assert.Equal("captured", set.DataKind);
        Assert.Equal("capture:toy-step9 (captured)", set.Label);
        Assert.Equal(Tensors.Select(t => t.Name), set.Tensors.Select(t => t.Name));
        Assert.Equal([TensorShape.Of(8, 3, 3, 2), TensorShape.Vector(8), TensorShape.Matrix(10, 16)], set.Shapes);
        Assert.Equal(144 + 8 + 160, set.ParameterCount);
        Assert.Equal(9, set.Capture!.Step);
        Assert.Contains("bench rank r uses captured rank r mod 2", set.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void EachBenchRankGetsCapturedRankRModN()
    {
        GradientSet set = GradientSets.Resolve($"capture:{Capture}", captureStep: 2);
        Assert.Equal("capture:toy-step2", set.Name);
        for (int rank = 0; rank < 5; rank++)
        {
            float[][] data = set.Capture!.Load(rank);
            Assert.Equal(3, data.Length);
            for (int t = 0; t < 3; t++)
            {
                Assert.Equal(set.Shapes[t].ElementCount, data[t].Length);
                Assert.Equal(Value(2, rank % 2, t, 0), data[t][0]);
                Assert.Equal(Value(2, rank % 2, t, data[t].Length - 1), data[t][^1]);
            }
        }
    }

    [Fact]
    public void SyntheticSetsStayLabelledSynthetic()
    {
        GradientSet mlp = GradientSets.Resolve("mlp", captureStep: null);
        Assert.Equal(("mlp", "synthetic", "mlp (synthetic)"), (mlp.Name, mlp.DataKind, mlp.Label));
        Assert.Null(mlp.Capture);
        Assert.Equal("synthetic", GradientSets.DataKindOf("resnet18"));
        Assert.Equal("captured", GradientSets.DataKindOf("capture:toy-step9"));
    }

    [Fact]
    public void BenchRunsOnACaptureAndLabelsTheRows()
    {
        string output = Path.Combine(_root, "bench");
        string[] args = ["bench", "--sets", $"mlp,{Capture}", "--configs", "dense,terngrad", "--ranks", "3", "--warmup", "0", "--steps", "1", "--output", output];
        var console = new StringWriter();
        TextWriter original = Console.Out;
        Console.SetOut(console);
        try
        {
            Assert.Equal(0, ExamplesCli.Run(args));
        }
        finally
        {
            Console.SetOut(original);
        }

        Assert.Contains("mlp (synthetic), N = 3", console.ToString(), StringComparison.Ordinal);
        Assert.Contains("capture:toy-step9 (captured), N = 3", console.ToString(), StringComparison.Ordinal);
        List<Dictionary<string, string>> rows = [.. Csv.Read(Path.Combine(output, "bench-inprocess-n3.csv"))];
        Assert.Equal(
            [("mlp", "dense", "synthetic"), ("mlp", "terngrad", "synthetic"), ("capture:toy-step9", "dense", "captured"), ("capture:toy-step9", "terngrad", "captured")],
            rows.Select(r => (r["set"], r["config"], r["data"])));
        Assert.Equal("312", rows[2]["elements"]);
        List<Dictionary<string, string>> tensors = [.. Csv.Read(Path.Combine(output, "tensors-inprocess-n3.csv"))];
        Assert.Equal(["conv.weight", "conv.bias", "fc.weight"], tensors.Where(t => t["set"] == "capture:toy-step9" && t["config"] == "dense").Select(t => t["name"]));
        Assert.All(tensors.Where(t => t["set"] == "capture:toy-step9"), t => Assert.Equal("captured", t["data"]));
    }

    [Theory]
    [InlineData("bench --sets /nonexistent/capture", "error: gradient capture directory '/nonexistent/capture' does not exist")]
    [InlineData("bench --sets capture:{root}", "error: '{root}' is not a gradient capture: it has no manifest.json (make one with Examples train --save-gradients or bench/capture-gradients.sh)")]
    [InlineData("bench --sets {capture} --capture-step 5", "error: --capture-step 5: the capture in '{capture}' has steps 2, 9 only.")]
    [InlineData("bench --sets {capture} --capture-step 0", "error: --capture-step must be at least 1, not 0.")]
    [InlineData("bench --sets mlp --capture-step 2", "error: --capture-step needs a capture directory in --sets.")]
    [InlineData("bench --sets {capture},capture:{capture}", "error: --sets lists the set 'capture:toy-step9' twice.")]
    [InlineData("bench --sets vgg", "error: Unknown gradient set 'vgg'; known: mlp, resnet18, or a capture directory (capture:PATH).")]
    public void BadCaptureSetsAreOneErrorLine(string arguments, string expected)
    {
        string Fill(string text) => text.Replace("{root}", _root, StringComparison.Ordinal).Replace("{capture}", Capture, StringComparison.Ordinal);
        Assert.Equal(Fill(expected), ErrorOf(Fill(arguments).Split(' ')));
    }

    [Fact]
    public void BadManifestsAndFilesAreClearErrors()
    {
        string manifest = Path.Combine(Capture, GradientCaptureManifest.FileName);
        string good = File.ReadAllText(manifest);

        File.WriteAllText(manifest, "{ not json");
        Assert.StartsWith($"error: {manifest}: not valid JSON", ErrorOf(["bench", "--sets", Capture]), StringComparison.Ordinal);

        File.WriteAllText(manifest, "{\"format\": \"something-else\", \"version\": 1}");
        Assert.Equal($"error: {manifest}: not a gradient capture manifest (\"format\" is not \"atomo-gradient-capture\")", ErrorOf(["bench", "--sets", Capture]));

        File.WriteAllText(manifest, good);
        string file = Path.Combine(Capture, "step-000009", "rank-1", "002-fc.weight.npy");
        File.Move(file, file + ".moved");
        Assert.Equal($"error: {file}: listed in manifest.json but missing", ErrorOf(["bench", "--sets", Capture]));

        NpyFile.Write(file, new float[160], [16, 10]); // transposed
        NpyFormatException e = Assert.Throws<NpyFormatException>(() => GradientSets.Resolve(Capture, null).Capture!.Load(3));
        Assert.Equal($"{file}: shape (16, 10) is not the manifest's (10, 16) for fc.weight", e.Message);
    }

    private static void WriteCapture(string directory, long[] steps, int ranks)
    {
        var captures = new List<CaptureEntry>();
        foreach (long step in steps)
        {
            for (int rank = 0; rank < ranks; rank++)
            {
                var tensors = new List<CapturedTensor>();
                for (int t = 0; t < Tensors.Length; t++)
                {
                    (string name, int[] shape) = Tensors[t];
                    string file = $"step-{step:D6}/rank-{rank}/{t:D3}-{name}.npy";
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(directory, file))!);
                    int count = shape.Aggregate(1, (a, b) => a * b);
                    NpyFile.Write(Path.Combine(directory, file), [.. Enumerable.Range(0, count).Select(i => Value(step, rank, t, i))], shape);
                    tensors.Add(new CapturedTensor(t, name, shape, file));
                }

                captures.Add(new CaptureEntry(step, rank, tensors));
            }
        }

        new GradientCaptureManifest { Model = "toy", ModelDescription = "toy net", Seed = 1, Ranks = ranks, BatchSizePerRank = 4, Compressor = "dense", RequestedSteps = steps, Captures = captures }.Write(directory);
    }

    private static string ErrorOf(string[] args) => CliOutput.ErrorOf(args).ReplaceLineEndings("\n").TrimEnd('\n');
}
