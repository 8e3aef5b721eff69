namespace AtomoCollectives.Examples.Models;

/// <summary>2×2 max pooling with stride 2 on NHWC images (odd edges dropped).</summary>
internal sealed class MaxPoolLayer(int height, int width, int channels) : ILayer
{
    private int[] _winners = [];

    public int InputSize => height * width * channels;

    public int OutputSize => OutputHeight * OutputWidth * channels;

    public int OutputHeight => height / 2;

    public int OutputWidth => width / 2;

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        if (_winners.Length < batch * OutputSize)
        {
            _winners = new int[batch * OutputSize];
        }

        int o = 0;
        for (int sample = 0; sample < batch; sample++)
        {
            int imageStart = sample * InputSize;
            for (int y = 0; y < OutputHeight; y++)
            {
                for (int x = 0; x < OutputWidth; x++)
                {
                    for (int c = 0; c < channels; c++, o++)
                    {
                        int best = imageStart + ((((2 * y) * width) + (2 * x)) * channels) + c;
                        for (int dy = 0; dy < 2; dy++)
                        {
                            for (int dx = 0; dx < 2; dx++)
                            {
                                int candidate = imageStart + (((((2 * y) + dy) * width) + (2 * x) + dx) * channels) + c;
                                if (input[candidate] > input[best])
                                {
                                    best = candidate;
                                }
                            }
                        }

                        _winners[o] = best;
                        output[o] = input[best];
                    }
                }
            }
        }
    }

    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int batch)
    {
        inputGradient[..(batch * InputSize)].Clear();
        for (int o = 0; o < batch * OutputSize; o++)
        {
            inputGradient[_winners[o]] += outputGradient[o];
        }
    }
}
