namespace AtomoCollectives.Examples.Models;

/// <summary>The models <c>train</c> offers.</summary>
internal enum ModelKind
{
    /// <summary>784-256-128-10 with ReLU.</summary>
    Mlp,

    /// <summary>LeNet-5 style: conv 5×5×6 (pad 2), pool, conv 5×5×16, pool, 400-120-84-10.</summary>
    Cnn,

    /// <summary>
    /// 784-2048-1024-10 with ReLU, 3.7M parameters: large enough that its dense allreduce on a 1 Gbit/s link takes
    /// longer than its compute per step (issue 16), as for the models people train with data parallelism.
    /// </summary>
    WideMlp,
}

/// <summary>The command-line names of the models (<c>--model</c>), one per <see cref="ModelKind"/>.</summary>
internal static class ModelNames
{
    /// <summary>In <see cref="ModelKind"/> order.</summary>
    public static readonly IReadOnlyList<string> All = ["mlp", "cnn", "mlp-wide"];

    public static string Name(this ModelKind kind) => All[(int)kind];

    /// <exception cref="ArgumentException">Not one of <see cref="All"/>.</exception>
    public static ModelKind Parse(string name)
    {
        int index = All.ToList().IndexOf(name);
        return index >= 0 ? (ModelKind)index : throw new ArgumentException($"Unknown model '{name}'. Use one of: {string.Join(", ", All)}.", nameof(name));
    }
}

/// <summary>
/// A feed-forward classifier with a softmax cross-entropy loss, all of its parameters in one
/// <see cref="ParameterStore"/>. Buffers are sized for <c>maxBatch</c> samples and reused; not thread-safe.
/// </summary>
internal sealed class Network
{
    private readonly ILayer[] _layers;
    private readonly float[][] _outputs;
    private readonly float[][] _outputGradients;
    private readonly int _maxBatch;

    private Network(ParameterStore store, ILayer[] layers, int maxBatch, string description)
    {
        Store = store;
        _layers = layers;
        _maxBatch = maxBatch;
        Description = description;
        _outputs = [.. layers.Select(layer => new float[maxBatch * layer.OutputSize])];
        _outputGradients = [.. layers.Select(layer => new float[maxBatch * layer.OutputSize])];
    }

    public ParameterStore Store { get; }

    public string Description { get; }

    public int Classes => _layers[^1].OutputSize;

    /// <summary>Builds <paramref name="kind"/> for <paramref name="height"/>×<paramref name="width"/> grey images, initialised from <paramref name="seed"/>.</summary>
    public static Network Create(ModelKind kind, int height, int width, int classes, int seed, int maxBatch)
    {
        var store = new ParameterStore();
        ILayer[] layers;
        string description;
        if (kind is ModelKind.Mlp or ModelKind.WideMlp)
        {
            int inputs = height * width;
            (int hidden1, int hidden2) = kind == ModelKind.Mlp ? (256, 128) : (2048, 1024);
            layers = [
                new DenseLayer(store, "fc1", inputs, hidden1), new ReluLayer(hidden1),
                new DenseLayer(store, "fc2", hidden1, hidden2), new ReluLayer(hidden2),
                new DenseLayer(store, "fc3", hidden2, classes)];
            description = $"MLP {inputs}-{hidden1}-{hidden2}-{classes}";
        }
        else
        {
            var conv1 = new ConvolutionLayer(store, "conv1", height, width, 1, 6, 5, 2);
            var pool1 = new MaxPoolLayer(conv1.OutputHeight, conv1.OutputWidth, 6);
            var conv2 = new ConvolutionLayer(store, "conv2", pool1.OutputHeight, pool1.OutputWidth, 6, 16, 5, 0);
            var pool2 = new MaxPoolLayer(conv2.OutputHeight, conv2.OutputWidth, 16);
            layers = [
                conv1, new ReluLayer(conv1.OutputSize), pool1,
                conv2, new ReluLayer(conv2.OutputSize), pool2,
                new DenseLayer(store, "fc1", pool2.OutputSize, 120), new ReluLayer(120),
                new DenseLayer(store, "fc2", 120, 84), new ReluLayer(84),
                new DenseLayer(store, "fc3", 84, classes)];
            description = $"CNN conv5x5x6-pool-conv5x5x16-pool-{pool2.OutputSize}-120-84-{classes}";
        }

        store.Allocate(seed);
        return new Network(store, layers, maxBatch, $"{description}, {store.Length:N0} parameters");
    }

    /// <summary>Forward and backward on one batch: writes the gradient of the mean loss into the store's gradients.</summary>
    /// <returns>The summed loss and the number of correct predictions on the batch.</returns>
    public (double LossSum, int Correct) ComputeGradients(ReadOnlySpan<float> images, ReadOnlySpan<byte> labels, int batch)
    {
        ReadOnlySpan<float> logits = Forward(images, batch);
        Span<float> logitGradient = _outputGradients[^1].AsSpan(0, batch * Classes);
        (double loss, int correct) = SoftmaxCrossEntropy.Evaluate(logits, labels[..batch], Classes, logitGradient);
        for (int i = _layers.Length - 1; i >= 0; i--)
        {
            ReadOnlySpan<float> input = i == 0 ? images : _outputs[i - 1];
            Span<float> inputGradient = i == 0 ? [] : _outputGradients[i - 1];
            _layers[i].Backward(input, _outputGradients[i], inputGradient, batch);
        }

        return (loss, correct);
    }

    /// <summary>The number of images of the batch classified correctly (forward only).</summary>
    public int CountCorrect(ReadOnlySpan<float> images, ReadOnlySpan<byte> labels, int batch)
    {
        ReadOnlySpan<float> logits = Forward(images, batch);
        return SoftmaxCrossEntropy.CountCorrect(logits, labels[..batch], Classes);
    }

    private ReadOnlySpan<float> Forward(ReadOnlySpan<float> images, int batch)
    {
        if (batch < 1 || batch > _maxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The network's buffers hold 1 to {_maxBatch} samples.");
        }

        ReadOnlySpan<float> input = images;
        for (int i = 0; i < _layers.Length; i++)
        {
            _layers[i].Forward(input, _outputs[i], batch);
            input = _outputs[i];
        }

        return input[..(batch * Classes)];
    }
}
