using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;

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
    /// Only the MLP: in the CNN a first-layer weight moves thousands of pre-activations at once, and some ReLU or
    /// max-pool decision flips within ±h often enough to make the difference quotient meaningless. The CNN's layers
    /// are checked one by one below, where the loss is linear (convolution) or piecewise linear far from its kinks (pooling).
    /// </remarks>
    [Fact]
    public void MlpBackpropagationMatchesCentralDifferences()
    {
        const int batch = 3;
        LabeledImages images = FashionMnist.Load(FashionMnist.DefaultDirectory, training: false, limit: batch);
        var network = Network.Create(ModelKind.Mlp, images.Height, images.Width, 10, seed: 5, maxBatch: batch);
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
