namespace AtomoCollectives.Examples.Models;

/// <summary>
/// A 2-D convolution (stride 1, zero padding) on NHWC images as im2col + GEMM. The kernel is stored
/// out × kernel × kernel × in, so the library's N-D matrix view (first dimension × the rest) is out × (k·k·in):
/// one row per output channel, which is what spectral atoms compress.
/// </summary>
internal sealed class ConvolutionLayer : ILayer
{
    private readonly ParameterStore _store;
    private readonly int _weight;
    private readonly int _bias;
    private readonly int _height, _width, _inChannels, _outChannels, _kernel, _padding, _outHeight, _outWidth;
    private float[] _columns = [];
    private float[] _columnGradient = [];

    public ConvolutionLayer(ParameterStore store, string name, int height, int width, int inChannels, int outChannels, int kernel, int padding)
    {
        _store = store;
        (_height, _width, _inChannels, _outChannels, _kernel, _padding) = (height, width, inChannels, outChannels, kernel, padding);
        _outHeight = height + (2 * padding) - kernel + 1;
        _outWidth = width + (2 * padding) - kernel + 1;
        _weight = store.Declare($"{name}.weight", TensorShape.Of(outChannels, kernel, kernel, inChannels));
        _bias = store.Declare($"{name}.bias", TensorShape.Vector(outChannels));
    }

    public int InputSize => _height * _width * _inChannels;

    public int OutputSize => _outHeight * _outWidth * _outChannels;

    public int OutputHeight => _outHeight;

    public int OutputWidth => _outWidth;

    private int PatchSize => _kernel * _kernel * _inChannels;

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        int rows = batch * _outHeight * _outWidth;
        if (_columns.Length < rows * PatchSize)
        {
            _columns = new float[rows * PatchSize];
        }

        Span<float> columns = _columns.AsSpan(0, rows * PatchSize);
        ImageToColumns(input, columns, batch);
        LinearAlgebraProvider.Gemm(false, true, rows, _outChannels, PatchSize, 1, columns, PatchSize, _store.Parameters[_weight].Value.Span, PatchSize, 0, output, _outChannels);
        ReadOnlySpan<float> bias = _store.Parameters[_bias].Value.Span;
        for (int row = 0; row < rows; row++)
        {
            Span<float> pixel = output.Slice(row * _outChannels, _outChannels);
            System.Numerics.Tensors.TensorPrimitives.Add(pixel, bias, pixel);
        }
    }

    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int batch)
    {
        int rows = batch * _outHeight * _outWidth;
        ReadOnlySpan<float> columns = _columns.AsSpan(0, rows * PatchSize); // from the forward pass of this batch
        Parameter weight = _store.Parameters[_weight];
        LinearAlgebraProvider.Gemm(true, false, _outChannels, PatchSize, rows, 1, outputGradient, _outChannels, columns, PatchSize, 0, weight.Gradient.Span, PatchSize);
        Layers.SumRows(outputGradient, rows, _store.Parameters[_bias].Gradient.Span);
        if (inputGradient.IsEmpty)
        {
            return;
        }

        if (_columnGradient.Length < rows * PatchSize)
        {
            _columnGradient = new float[rows * PatchSize];
        }

        Span<float> columnGradient = _columnGradient.AsSpan(0, rows * PatchSize);
        LinearAlgebraProvider.Gemm(false, false, rows, PatchSize, _outChannels, 1, outputGradient, _outChannels, weight.Value.Span, PatchSize, 0, columnGradient, PatchSize);
        ColumnsToImage(columnGradient, inputGradient[..(batch * InputSize)], batch);
    }

    /// <summary>One row per output pixel (sample, y, x): the k×k×in patch under it, zeros outside the image.</summary>
    private void ImageToColumns(ReadOnlySpan<float> images, Span<float> columns, int batch)
    {
        int row = 0;
        for (int sample = 0; sample < batch; sample++)
        {
            ReadOnlySpan<float> image = images.Slice(sample * InputSize, InputSize);
            for (int y = 0; y < _outHeight; y++)
            {
                for (int x = 0; x < _outWidth; x++, row++)
                {
                    Span<float> patch = columns.Slice(row * PatchSize, PatchSize);
                    for (int ky = 0; ky < _kernel; ky++)
                    {
                        int sourceY = y + ky - _padding;
                        for (int kx = 0; kx < _kernel; kx++)
                        {
                            int sourceX = x + kx - _padding;
                            Span<float> target = patch.Slice(((ky * _kernel) + kx) * _inChannels, _inChannels);
                            if (sourceY < 0 || sourceY >= _height || sourceX < 0 || sourceX >= _width)
                            {
                                target.Clear();
                            }
                            else
                            {
                                image.Slice(((sourceY * _width) + sourceX) * _inChannels, _inChannels).CopyTo(target);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="ImageToColumns"/>: adds every patch entry back onto the pixel it came from.</summary>
    private void ColumnsToImage(ReadOnlySpan<float> columns, Span<float> images, int batch)
    {
        images.Clear();
        int row = 0;
        for (int sample = 0; sample < batch; sample++)
        {
            Span<float> image = images.Slice(sample * InputSize, InputSize);
            for (int y = 0; y < _outHeight; y++)
            {
                for (int x = 0; x < _outWidth; x++, row++)
                {
                    ReadOnlySpan<float> patch = columns.Slice(row * PatchSize, PatchSize);
                    for (int ky = 0; ky < _kernel; ky++)
                    {
                        int targetY = y + ky - _padding;
                        for (int kx = 0; kx < _kernel; kx++)
                        {
                            int targetX = x + kx - _padding;
                            if (targetY >= 0 && targetY < _height && targetX >= 0 && targetX < _width)
                            {
                                Span<float> pixel = image.Slice(((targetY * _width) + targetX) * _inChannels, _inChannels);
                                System.Numerics.Tensors.TensorPrimitives.Add(pixel, patch.Slice(((ky * _kernel) + kx) * _inChannels, _inChannels), pixel);
                            }
                        }
                    }
                }
            }
        }
    }
}
