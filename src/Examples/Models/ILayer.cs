namespace AtomoCollectives.Examples.Models;

/// <summary>One layer of a feed-forward network on a batch of samples stored one after another (NHWC for images).</summary>
internal interface ILayer
{
    /// <summary>Values per sample going in.</summary>
    int InputSize { get; }

    /// <summary>Values per sample coming out.</summary>
    int OutputSize { get; }

    /// <summary>Computes <paramref name="output"/> (batch × OutputSize) from <paramref name="input"/> (batch × InputSize), keeping what <see cref="Backward"/> needs.</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch);

    /// <summary>
    /// From the gradient of the loss with respect to the last forward pass's output, writes this layer's parameter
    /// gradients and, unless <paramref name="inputGradient"/> is empty (the first layer), the gradient with respect to its input.
    /// </summary>
    void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int batch);
}
