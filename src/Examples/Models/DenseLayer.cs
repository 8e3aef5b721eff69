using System.Numerics.Tensors;

namespace AtomoCollectives.Examples.Models;

/// <summary>A fully connected layer <c>y = W·x + b</c>, W stored out × in (row-major), on the library's GEMM.</summary>
internal sealed class DenseLayer : ILayer
{
    private readonly ParameterStore _store;
    private readonly int _weight;
    private readonly int _bias;

    public DenseLayer(ParameterStore store, string name, int inputs, int outputs)
    {
        _store = store;
        InputSize = inputs;
        OutputSize = outputs;
        _weight = store.Declare($"{name}.weight", TensorShape.Matrix(outputs, inputs));
        _bias = store.Declare($"{name}.bias", TensorShape.Vector(outputs));
    }

    public int InputSize { get; }

    public int OutputSize { get; }

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        Parameter weight = _store.Parameters[_weight];
        ReadOnlySpan<float> bias = _store.Parameters[_bias].Value.Span;
        LinearAlgebraProvider.Gemm(false, true, batch, OutputSize, InputSize, 1, input, InputSize, weight.Value.Span, InputSize, 0, output, OutputSize);
        for (int sample = 0; sample < batch; sample++)
        {
            Span<float> row = output.Slice(sample * OutputSize, OutputSize);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int batch)
    {
        Parameter weight = _store.Parameters[_weight];
        LinearAlgebraProvider.Gemm(true, false, OutputSize, InputSize, batch, 1, outputGradient, OutputSize, input, InputSize, 0, weight.Gradient.Span, InputSize);
        Layers.SumRows(outputGradient, batch, _store.Parameters[_bias].Gradient.Span);
        if (!inputGradient.IsEmpty)
        {
            LinearAlgebraProvider.Gemm(false, false, batch, InputSize, OutputSize, 1, outputGradient, OutputSize, weight.Value.Span, InputSize, 0, inputGradient, InputSize);
        }
    }
}
