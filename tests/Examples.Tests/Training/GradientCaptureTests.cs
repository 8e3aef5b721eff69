using AtomoCollectives.Examples.Cli;
using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Tests.Cli;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Training;

/// <summary><c>train --save-gradients</c>: a short real run on Fashion-MNIST writes each rank's local gradients and the manifest.</summary>
[Collection("Training")]
public sealed class GradientCaptureTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("capture-tests-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void TrainingSavesEveryRanksLocalGradientsAndTheManifest()
    {
        string captures = Path.Combine(_root, "captures");
        string[] args = [
            "train", "--compressor", "dense", "--ranks", "2", "--train-limit", "1024", "--batch-size", "32", "--seed", "3",
            "--max-steps", "3", "--evaluations-per-epoch", "1", "--save-gradients", captures, "--save-gradients-at", "3,1,50",
            "--output", Path.Combine(_root, "train")];

        Assert.Equal(0, Quietly(() => ExamplesCli.Run(args)));

        GradientCaptureManifest manifest = GradientCaptureManifest.Read(captures);
        Assert.Equal("mlp", manifest.Model);
        Assert.Equal((3, 2, 32, "dense", 1024), (manifest.Seed, manifest.Ranks, manifest.BatchSizePerRank, manifest.Compressor, manifest.TrainingImages));
        Assert.Equal([1L, 3L, 50L], manifest.RequestedSteps);
        Assert.Equal([1L, 3L], manifest.Steps); // 50 is past the end of the 3-step run
        Assert.Equal([(1L, 0), (1L, 1), (3L, 0), (3L, 1)], manifest.Captures.Select(c => (c.Step, c.Rank)));
        string[] names = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"];
        int[][] shapes = [[256, 784], [256], [128, 256], [128], [10, 128], [10]];
        foreach (CaptureEntry entry in manifest.Captures)
        {
            Assert.Equal(names, entry.Tensors.Select(t => t.Name));
            Assert.Equal(Enumerable.Range(0, 6), entry.Tensors.Select(t => t.Index));
            for (int t = 0; t < 6; t++)
            {
                Assert.Equal(shapes[t], entry.Tensors[t].Shape);
                Assert.Equal($"step-{entry.Step:D6}/rank-{entry.Rank}/{t:D3}-{names[t]}.npy", entry.Tensors[t].File);
                NpyArray array = NpyFile.Read(Path.Combine(captures, entry.Tensors[t].File));
                Assert.Equal(shapes[t], array.Shape);
                Assert.All(array.Data, x => Assert.True(float.IsFinite(x)));
            }
        }

        // The files are the local gradients, before averaging: rank 0's at step 1 are exactly what its first batch
        // gives on the initial weights, and rank 1's (another shard) differ.
        float[] expected = FirstStepGradients(seed: 3, rank: 0, ranks: 2, batch: 32, limit: 1024);
        float[] rank0 = [.. manifest.At(1)[0].Tensors.SelectMany(t => NpyFile.Read(Path.Combine(captures, t.File)).Data)];
        float[] rank1 = [.. manifest.At(1)[1].Tensors.SelectMany(t => NpyFile.Read(Path.Combine(captures, t.File)).Data)];
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), rank0.Select(BitConverter.SingleToInt32Bits));
        Assert.NotEqual(rank0, rank1);
        Assert.Contains(rank0, x => x != 0);
        Assert.False(Directory.Exists(Path.Combine(captures, "step-000002")));
        Assert.False(File.Exists(Path.Combine(captures, GradientCaptureManifest.FileName + ".tmp")));
    }

    [Theory]
    [InlineData("1,x,3", "error: --save-gradients-at '1,x,3': 'x' is not a step number")]
    [InlineData("0,5", "error: --save-gradients-at '0,5': step 0 is not at least 1")]
    [InlineData("-4", "error: --save-gradients-at '-4': step -4 is not at least 1")]
    [InlineData("5,1,5", "error: --save-gradients-at '5,1,5': step 5 is listed twice.")]
    [InlineData("", "error: --save-gradients-at '': '' is not a step number")]
    public void ABadStepListIsOneErrorLine(string list, string expected)
    {
        string error = ErrorOf(["train", "--save-gradients", Path.Combine(_root, "c"), "--save-gradients-at", list, "--output", Path.Combine(_root, "t")]);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_root, "c")), "nothing is created before the options are checked");
    }

    [Fact]
    public void AnUnwritableDirectoryIsOneErrorLineBeforeTraining()
    {
        string file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "");
        string error = ErrorOf(["train", "--save-gradients", Path.Combine(file, "under"), "--data", "/nonexistent", "--output", Path.Combine(_root, "t")]);
        Assert.StartsWith($"error: cannot write the gradient capture directory '{Path.Combine(file, "under")}' (--save-gradients): ", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void StepsWithoutADirectoryAreAnError()
    {
        string error = ErrorOf(["train", "--save-gradients-at", "1,2", "--output", Path.Combine(_root, "t")]);
        Assert.Equal("error: --save-gradients-at needs --save-gradients DIR.\n", error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void TheDefaultStepsAre1And100And400()
    {
        GradientCaptureSettings? settings = TrainCommand.CaptureSettings("dir", null);
        Assert.Equal([1L, 100L, 400L], settings!.Steps);
        Assert.Null(TrainCommand.CaptureSettings(null, null));
        Assert.Equal([2L, 7L, 30L], GradientCaptureSettings.ParseSteps(" 30, 2,7"));
    }

    /// <summary>The MLP's gradients on rank <paramref name="rank"/>'s first batch, as <see cref="Trainer"/> draws it, on the initial weights.</summary>
    private static float[] FirstStepGradients(int seed, int rank, int ranks, int batch, int limit)
    {
        LabeledImages train = FashionMnist.Load(FashionMnist.DefaultDirectory, training: true, limit);
        var order = Enumerable.Range(0, train.Count).ToArray();
        new Random(unchecked((int)SeedSequence.Derive((ulong)seed, 0, 0, 0))).Shuffle(order); // epoch 0
        var images = new float[batch * train.Pixels];
        var labels = new byte[batch];
        for (int i = 0; i < batch; i++)
        {
            int image = order[(i * ranks) + rank];
            train.Image(image).CopyTo(images.AsSpan(i * train.Pixels));
            labels[i] = train.Labels[image];
        }

        var network = Network.Create(ModelKind.Mlp, train.Height, train.Width, FashionMnist.Classes.Count, seed, batch);
        network.ComputeGradients(images, labels, batch);
        return network.Store.Gradients;
    }

    private static int Quietly(Func<int> run)
    {
        TextWriter originalOut = Console.Out, originalError = Console.Error;
        Console.SetOut(new StringWriter());
        Console.SetError(new StringWriter());
        try
        {
            return run();
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }

    private static string ErrorOf(string[] args) => CliOutput.ErrorOf(args);
}
