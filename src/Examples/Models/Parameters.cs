namespace AtomoCollectives.Examples.Models;

/// <summary>One trainable tensor: a slice, starting at <paramref name="Offset"/>, of the model's flat value buffer and the same slice of its gradient buffer.</summary>
internal sealed record Parameter(string Name, TensorShape Shape, int Offset, Memory<float> Value, Memory<float> Gradient);

/// <summary>
/// A model's parameters in two flat buffers (values and gradients), so the dense baseline averages every gradient
/// with a single allreduce and the optimizer updates all of them with one vector operation.
/// Declare every parameter first, then <see cref="Allocate"/> once.
/// </summary>
internal sealed class ParameterStore
{
    private readonly List<(string Name, TensorShape Shape, int Offset)> _declared = [];
    private readonly List<Parameter> _parameters = [];
    private int _length;

    public float[] Values { get; private set; } = [];

    public float[] Gradients { get; private set; } = [];

    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Every parameter's gradient, in order: the tensors an <see cref="IGradientAverager"/> averages.</summary>
    public IReadOnlyList<Memory<float>> GradientTensors { get; private set; } = [];

    /// <summary>Every parameter's shape, in order.</summary>
    public IReadOnlyList<TensorShape> Shapes { get; private set; } = [];

    public int Length => _length;

    /// <summary>Declares a parameter; its index is its position in <see cref="Parameters"/> once allocated.</summary>
    public int Declare(string name, TensorShape shape)
    {
        if (Values.Length > 0)
        {
            throw new InvalidOperationException("Parameters must be declared before the store is allocated.");
        }

        _declared.Add((name, shape, _length));
        _length += shape.ElementCount;
        return _declared.Count - 1;
    }

    /// <summary>Creates the buffers and fills weights (names ending in "weight") with He-uniform values from <paramref name="seed"/>, biases with zeros.</summary>
    public void Allocate(int seed)
    {
        Values = new float[_length];
        Gradients = new float[_length];
        var random = new Random(seed); // the same seed on every rank: all replicas start identical
        foreach ((string name, TensorShape shape, int offset) in _declared)
        {
            var parameter = new Parameter(name, shape, offset, Values.AsMemory(offset, shape.ElementCount), Gradients.AsMemory(offset, shape.ElementCount));
            if (name.EndsWith("weight", StringComparison.Ordinal))
            {
                int fanIn = shape.ElementCount / shape.Dimensions[0];
                double limit = Math.Sqrt(6.0 / fanIn);
                Span<float> values = parameter.Value.Span;
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)(((2 * random.NextDouble()) - 1) * limit);
                }
            }

            _parameters.Add(parameter);
        }

        GradientTensors = [.. _parameters.Select(p => p.Gradient)];
        Shapes = [.. _parameters.Select(p => p.Shape)];
    }
}
