using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Models;

public sealed class NetworkGradientTests
{
    /// <summary>
    /// Back-propagation against central differences (L(w + h) − L(w − h)) / 2h on real images, for 40 parameters
    /// spread over every tensor. The difference's error is the float rounding of the loss, about
    /// 2·2⁻²⁴·L/(2h) ≈ 1.4·10⁻⁴ for L ≈ 2.3 and h = 10⁻³, plus the curvature term h²·L'''/6, far below the
    /// 2·10⁻³ + 2 % allowed; a wrong index in a convolution or pooling kernel gives errors of the gradient's own size.
    /// Biases start at zero, which puts every all-background patch exactly on a ReLU kink; they are moved off it first.
    /// </summary>
    /// <remarks>
    /// Only the MLPs (the 235k one and mlp-wide, 3.7M): in the CNN a first-layer weight moves thousands of
    /// pre-activations at once, and some ReLU or max-pool decision flips within ±h often enough to make the difference
    /// quotient meaningless. The CNN's layers are checked one by one below, where the loss is linear (convolution) or
    /// piecewise linear far from its kinks (pooling). In an MLP a weight moves one pre-activation per sample.
    /// </remarks>
    [Theory]
    [InlineData("mlp")]
    [InlineData("mlp-wide")]
    public void MlpBackpropagationMatchesCentralDifferences(string model)
    {
        ModelKind kind = ModelNames.Parse(model);
        const int batch = 3;
        LabeledImages images = FashionMnist.Load(FashionMnist.DefaultDirectory, training: false, limit: batch);
        var network = Network.Create(kind, images.Height, images.Width, 10, seed: 5, maxBatch: batch);
        var random = new Random(3);
        foreach (Parameter bias in network.Store.Parameters.Where(p => p.Name.EndsWith("bias", StringComparison.Ordinal)))
        {
            Span<float> biasValues = bias.Value.Span;
            for (int i = 0; i < biasValues.Length; i++)
            {
                biasValues[i] = (float)(0.1 * (random.NextDouble() - 0.5));
            }
        }

        double Loss() => network.ComputeGradients(images.Images, images.Labels, batch).LossSum / batch;
        Loss();
        float[] analytic = (float[])network.Store.Gradients.Clone();
        foreach (Parameter parameter in network.Store.Parameters)
        {
            int[] probes = [.. Enumerable.Range(0, (40 / network.Store.Parameters.Count) + 1).Select(_ => parameter.Offset + random.Next(parameter.Shape.ElementCount))];
            AssertCentralDifferences(network.Store.Values, analytic, Loss, probes, h: 1e-3f, relativeTolerance: 0.02, index => $"{parameter.Name}[{index - parameter.Offset}]");
        }
    }

    /// <summary>
    /// mlp-wide is 784-2048-1024-10: 3,716,106 parameters (≥ 3M, issue 16), 14.9 MB of gradients, so a dense ring
    /// allreduce at N = 4 sends 2·3/4·4·n = 22.3 MB per rank: 178 ms at 1 Gbit/s, against ~22 ms of compute per
    /// step at batch 64 on one core of the development machine (docs/network-benchmarks.md).
    /// </summary>
    [Fact]
    public void WideMlpHasTheDocumentedShapes()
    {
        var network = Network.Create(ModelKind.WideMlp, height: 28, width: 28, classes: 10, seed: 1, maxBatch: 4);

        (string Name, int[] Dimensions)[] expected = [
            ("fc1.weight", [2048, 784]), ("fc1.bias", [2048]),
            ("fc2.weight", [1024, 2048]), ("fc2.bias", [1024]),
            ("fc3.weight", [10, 1024]), ("fc3.bias", [10])];
        Assert.Equal(expected.Select(e => e.Name), network.Store.Parameters.Select(p => p.Name));
        Assert.Equal(expected.Select(e => e.Dimensions), network.Store.Parameters.Select(p => p.Shape.Dimensions.ToArray()));
        Assert.Equal(3_716_106, network.Store.Length);
        Assert.Equal(10, network.Classes);
        Assert.Equal("MLP 784-2048-1024-10, 3,716,106 parameters", network.Description);
        Assert.Equal(22_296_636, (long)AllreduceStatistics.RingAllreduceBytes(network.Store.Length, ranks: 4));
    }

    [Theory]
    [InlineData("mlp", "Mlp")]
    [InlineData("cnn", "Cnn")]
    [InlineData("mlp-wide", "WideMlp")]
    public void ModelNamesRoundTrip(string name, string kind)
    {
        Assert.Equal(kind, ModelNames.Parse(name).ToString());
        Assert.Equal(name, ModelNames.Parse(name).Name());
    }

    [Fact]
    public void UnknownModelNameIsAClearError() =>
        Assert.Equal("Unknown model 'vgg'. Use one of: mlp, cnn, mlp-wide.", Assert.Throws<ArgumentException>(() => ModelNames.Parse("vgg")).Message.Split(" (Parameter")[0]);

    /// <summary>
    /// For L = ⟨u, conv(x)⟩ with a fixed random u, L is linear in the kernel, the bias and the input, so a central
    /// difference is exact up to float rounding of L (|L| ≲ 50: 2·2⁻²⁴·50/(2h) ≈ 6·10⁻⁴ at h = 10⁻², within the
    /// 2·10⁻³ allowed). Every kernel, bias and input entry is checked.
    /// </summary>
    [Fact]
    public void ConvolutionGradientsAreExactForALinearLoss()
    {
        var store = new ParameterStore();
        var layer = new ConvolutionLayer(store, "conv", height: 6, width: 5, inChannels: 2, outChannels: 3, kernel: 3, padding: 1);
        store.Allocate(seed: 4);
        var random = new Random(8);
        const int batch = 2;
        float[] input = [.. Enumerable.Range(0, batch * layer.InputSize).Select(_ => (float)random.NextDouble() - 0.5f)];
        (Func<double> loss, float[] inputGradient) = LinearLoss(layer, input, batch, random);
        AssertCentralDifferences(store.Values, store.Gradients, loss, "kernel/bias");
        AssertCentralDifferences(input, inputGradient, loss, "input");
    }

    /// <summary>Max pooling routes each output's gradient to its winner; inputs at least 10⁻² apart keep the winners fixed within ±h.</summary>
    [Fact]
    public void MaxPoolGradientsAreExactAwayFromTies()
    {
        var layer = new MaxPoolLayer(height: 4, width: 6, channels: 3);
        const int batch = 2;
        var random = new Random(9);
        float[] input = [.. Enumerable.Range(0, batch * layer.InputSize).Select(i => (i * 0.0137f % 1f) - 0.5f).OrderBy(_ => random.Next())];
        (Func<double> loss, float[] inputGradient) = LinearLoss(layer, input, batch, random);
        AssertCentralDifferences(input, inputGradient, loss, "input");
    }

    /// <summary>
    /// L = ⟨u, layer(x)⟩ for a fixed random u: runs one forward and backward pass (the layer's parameter gradients and
    /// the returned input gradient are then dL/d·) and returns L as a function of the current values.
    /// </summary>
    private static (Func<double> Loss, float[] InputGradient) LinearLoss(ILayer layer, float[] input, int batch, Random random)
    {
        float[] upstream = [.. Enumerable.Range(0, batch * layer.OutputSize).Select(_ => (float)random.NextDouble() - 0.5f)];
        var output = new float[batch * layer.OutputSize];
        var inputGradient = new float[input.Length];
        double Loss()
        {
            layer.Forward(input, output, batch);
            return output.Select((y, i) => (double)y * upstream[i]).Sum();
        }

        Loss();
        layer.Backward(input, upstream, inputGradient, batch);
        return (Loss, inputGradient);
    }

    /// <summary>Every entry, h = 10⁻², absolute tolerance 2·10⁻³ (the linear-loss bound above).</summary>
    private static void AssertCentralDifferences(float[] values, float[] analytic, Func<double> loss, string what) =>
        AssertCentralDifferences(values, analytic, loss, Enumerable.Range(0, values.Length), h: 1e-2f, relativeTolerance: 0, index => $"{what}[{index}]");

    /// <summary>|(L(v + h) − L(v − h))/2h − analytic| ≤ 2·10⁻³ + relativeTolerance·|analytic| at each probed index.</summary>
    private static void AssertCentralDifferences(float[] values, float[] analytic, Func<double> loss, IEnumerable<int> indices, float h, double relativeTolerance, Func<int, string> describe)
    {
        float[] expected = (float[])analytic.Clone();
        foreach (int index in indices)
        {
            float saved = values[index];
            values[index] = saved + h;
            double plus = loss();
            values[index] = saved - h;
            double minus = loss();
            values[index] = saved;
            double numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - expected[index]) <= 2e-3 + (relativeTolerance * Math.Abs(expected[index])),
                $"{describe(index)}: backprop {expected[index]:G5}, central difference {numeric:G5}");
        }
    }
}
