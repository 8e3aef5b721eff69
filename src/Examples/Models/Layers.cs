using System.Numerics.Tensors;

namespace AtomoCollectives.Examples.Models;

/// <summary>Small kernels the layers share.</summary>
internal static class Layers
{
    /// <summary><paramref name="sums"/>[j] = Σ over the <paramref name="rows"/> rows of <paramref name="matrix"/>[row, j].</summary>
    public static void SumRows(ReadOnlySpan<float> matrix, int rows, Span<float> sums)
    {
        sums.Clear();
        int columns = sums.Length;
        for (int row = 0; row < rows; row++)
        {
            TensorPrimitives.Add(sums, matrix.Slice(row * columns, columns), sums);
        }
    }
}

/// <summary>max(0, x), element-wise.</summary>
internal sealed class ReluLayer(int size) : ILayer
{
    public int InputSize => size;

    public int OutputSize => size;

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch) =>
        TensorPrimitives.Max(input[..(batch * size)], 0f, output[..(batch * size)]);

    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int batch)
    {
        for (int i = 0; i < batch * size; i++)
        {
            inputGradient[i] = input[i] > 0 ? outputGradient[i] : 0;
        }
    }
}
