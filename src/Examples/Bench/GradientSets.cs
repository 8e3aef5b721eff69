namespace AtomoCollectives.Examples.Bench;

/// <summary>One named parameter tensor of a model: what its gradient looks like to the collective.</summary>
/// <param name="Name">The parameter's name (PyTorch/torchvision naming).</param>
/// <param name="Shape">Its shape: weights as <c>Matrix(out, in)</c> or <c>Of(out, in, k, k)</c>, biases and BN as vectors.</param>
internal sealed record NamedTensor(string Name, TensorShape Shape);

/// <summary>The layer shapes of a model's gradients, in the order a training loop would hand them to the collective.</summary>
/// <param name="Name">Short name used on the command line and in the CSV (<c>mlp</c>, <c>resnet18</c>).</param>
/// <param name="Description">One line for the output.</param>
/// <param name="Tensors">Every parameter tensor.</param>
/// <param name="Capture">Where the gradients come from when they are real (a capture directory); <see langword="null"/> for synthetic ones.</param>
internal sealed record GradientSet(string Name, string Description, IReadOnlyList<NamedTensor> Tensors, CapturedGradients? Capture = null)
{
    /// <summary><c>captured</c> (real gradients from a capture directory) or <c>synthetic</c>: the CSV's <c>data</c> column.</summary>
    public string DataKind => Capture is null ? GradientSets.Synthetic : GradientSets.Captured;

    /// <summary>The name as the tables show it: <c>mlp (synthetic)</c>, <c>capture:mlp-step400 (captured)</c>.</summary>
    public string Label => $"{Name} ({DataKind})";

    /// <summary>Total number of parameters (floats).</summary>
    public long ParameterCount => Tensors.Sum(t => (long)t.Shape.ElementCount);

    /// <summary>The shapes, in order.</summary>
    public IReadOnlyList<TensorShape> Shapes => [.. Tensors.Select(t => t.Shape)];

    /// <summary>
    /// Identical shapes grouped, in order of first appearance: (shape, how many tensors have it). A compact listing
    /// for the output.
    /// </summary>
    public IReadOnlyList<(TensorShape Shape, int Count)> GroupedShapes()
    {
        var order = new List<TensorShape>();
        var counts = new Dictionary<TensorShape, int>();
        foreach (NamedTensor tensor in Tensors)
        {
            if (counts.TryGetValue(tensor.Shape, out int count))
            {
                counts[tensor.Shape] = count + 1;
            }
            else
            {
                counts[tensor.Shape] = 1;
                order.Add(tensor.Shape);
            }
        }

        return [.. order.Select(shape => (shape, counts[shape]))];
    }
}

/// <summary>The gradient sets the benchmark knows.</summary>
internal static class GradientSets
{
    /// <summary>The names accepted by <see cref="ByName"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mlp", "resnet18"];

    /// <summary>The <c>data</c> of a set made by <see cref="SyntheticGradients"/>.</summary>
    public const string Synthetic = "synthetic";

    /// <summary>The <c>data</c> of a set read from a capture directory.</summary>
    public const string Captured = "captured";

    /// <summary>Whether a set of this name (as in the CSV) holds captured gradients: their names start with <c>capture:</c>.</summary>
    public static string DataKindOf(string setName) => setName.StartsWith(CapturedGradients.Prefix, StringComparison.Ordinal) ? Captured : Synthetic;

    /// <summary>
    /// One entry of <c>--sets</c>: <c>mlp</c>, <c>resnet18</c>, or a capture directory given as <c>capture:PATH</c>
    /// or as a path (one containing a <c>/</c>, or an existing directory), read at <paramref name="captureStep"/>
    /// (default: its last step).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name, or a step the capture lacks.</exception>
    /// <exception cref="FileNotFoundException">No such capture directory or manifest.</exception>
    /// <exception cref="FormatException">A bad manifest.</exception>
    public static GradientSet Resolve(string entry, long? captureStep)
    {
        if (entry.StartsWith(CapturedGradients.Prefix, StringComparison.OrdinalIgnoreCase))
        {
            string path = entry[CapturedGradients.Prefix.Length..];
            return path.Length > 0 ? CapturedGradients.Open(path, captureStep) : throw new ArgumentException("'capture:' needs a directory (capture:PATH).");
        }

        if (Names.Contains(entry.ToLowerInvariant()) || entry.Equals("resnet-18", StringComparison.OrdinalIgnoreCase))
        {
            return ByName(entry);
        }

        return entry.Contains('/', StringComparison.Ordinal) || Directory.Exists(entry)
            ? CapturedGradients.Open(entry, captureStep)
            : throw new ArgumentException($"Unknown gradient set '{entry}'; known: {string.Join(", ", Names)}, or a capture directory (capture:PATH).");
    }

    /// <summary>The set called <paramref name="name"/> (<c>mlp</c> or <c>resnet18</c>).</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static GradientSet ByName(string name) => name.ToLowerInvariant() switch
    {
        "mlp" => Mlp(),
        "resnet18" or "resnet-18" => ResNet18(),
        _ => throw new ArgumentException($"Unknown gradient set '{name}'; known: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>The 784-256-128-10 MLP of <c>Examples train</c>: weights as <c>Matrix(out, in)</c>, biases as vectors (235,146 parameters).</summary>
    public static GradientSet Mlp()
    {
        int[] widths = [784, 256, 128, 10];
        var tensors = new List<NamedTensor>();
        for (int layer = 0; layer < widths.Length - 1; layer++)
        {
            tensors.Add(new($"fc{layer + 1}.weight", TensorShape.Matrix(widths[layer + 1], widths[layer])));
            tensors.Add(new($"fc{layer + 1}.bias", TensorShape.Vector(widths[layer + 1])));
        }

        return new GradientSet("mlp", "MLP 784-256-128-10 (Examples train)", tensors);
    }

    /// <summary>
    /// torchvision's ResNet-18 for ImageNet (11,689,512 parameters): conv weights <c>Of(out, in, k, k)</c> (no conv
    /// bias), each followed by a BatchNorm with a scale and a shift vector, the 1×1 downsample convs of layers 2–4,
    /// and the 1000×512 classifier with its bias.
    /// </summary>
    public static GradientSet ResNet18()
    {
        var tensors = new List<NamedTensor>();
        void Conv(string name, int output, int input, int kernel) => tensors.Add(new($"{name}.weight", TensorShape.Of(output, input, kernel, kernel)));
        void BatchNorm(string name, int channels)
        {
            tensors.Add(new($"{name}.weight", TensorShape.Vector(channels)));
            tensors.Add(new($"{name}.bias", TensorShape.Vector(channels)));
        }

        Conv("conv1", 64, 3, 7);
        BatchNorm("bn1", 64);
        int inputs = 64;
        int[] widths = [64, 128, 256, 512];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            int width = widths[stage];
            for (int block = 0; block < 2; block++)
            {
                string prefix = $"layer{stage + 1}.{block}";
                int blockInputs = block == 0 ? inputs : width;
                Conv($"{prefix}.conv1", width, blockInputs, 3);
                BatchNorm($"{prefix}.bn1", width);
                Conv($"{prefix}.conv2", width, width, 3);
                BatchNorm($"{prefix}.bn2", width);
                if (block == 0 && blockInputs != width)
                {
                    Conv($"{prefix}.downsample.0", width, blockInputs, 1);
                    BatchNorm($"{prefix}.downsample.1", width);
                }
            }

            inputs = width;
        }

        tensors.Add(new("fc.weight", TensorShape.Matrix(1000, 512)));
        tensors.Add(new("fc.bias", TensorShape.Vector(1000)));
        return new GradientSet("resnet18", "ResNet-18 (ImageNet, torchvision layout)", tensors);
    }
}
