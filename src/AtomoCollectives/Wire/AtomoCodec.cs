using System.Buffers;

namespace AtomoCollectives;

/// <summary>
/// Encodes one tensor as a compact, validated ATOMO payload and decodes payloads back into tensors.
/// An instance reuses its buffers between calls and is not thread-safe: use one per thread.
/// </summary>
public sealed class AtomoCodec
{
    private readonly AtomoOptions _options;
    private readonly AtomSelection _selection = new();
    private readonly BitWriter _writer = new();
    private readonly DecodedAtoms _decoded = new();

    /// <summary>A codec for <paramref name="options"/> (copied: later changes to them do not affect the codec).</summary>
    public AtomoCodec(AtomoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
    }

    /// <summary>The atoms the last <see cref="Encode(ReadOnlySpan{float}, TensorShape, ulong)"/> kept.</summary>
    public AtomSelection LastSelection => _selection;

    /// <summary>Sparsifies <paramref name="tensor"/> with seed <paramref name="seed"/> and returns the payload.</summary>
    /// <exception cref="ArgumentException">The tensor's length is not the shape's element count, or it holds NaN or infinity.</exception>
    public byte[] Encode(ReadOnlySpan<float> tensor, TensorShape shape, ulong seed) => EncodeCore(tensor, shape, seed).ToArray();

    /// <summary>As <see cref="Encode(ReadOnlySpan{float}, TensorShape, ulong)"/>, appending the payload to <paramref name="destination"/>.</summary>
    /// <returns>The number of bytes written.</returns>
    public int Encode(ReadOnlySpan<float> tensor, TensorShape shape, ulong seed, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ReadOnlySpan<byte> payload = EncodeCore(tensor, shape, seed);
        payload.CopyTo(destination.GetSpan(payload.Length));
        destination.Advance(payload.Length);
        return payload.Length;
    }

    /// <summary>Writes the estimate a payload carries into <paramref name="destination"/>.</summary>
    /// <exception cref="AtomoFormatException">The payload is malformed or is not for a tensor of this length; <paramref name="destination"/> is untouched.</exception>
    public void Decode(ReadOnlySpan<byte> payload, Span<float> destination)
    {
        DecodedPayload parsed = Parse(payload, destination.Length);
        destination.Clear();
        Apply(parsed, destination, 1f);
    }

    /// <summary>Adds <paramref name="weight"/> times the estimate a payload carries to <paramref name="accumulator"/>.</summary>
    /// <exception cref="AtomoFormatException">The payload is malformed or is not for a tensor of this length; <paramref name="accumulator"/> is untouched.</exception>
    public void DecodeAdd(ReadOnlySpan<byte> payload, Span<float> accumulator, float weight)
    {
        DecodedPayload parsed = Parse(payload, accumulator.Length);
        Apply(parsed, accumulator, weight);
    }

    /// <summary>Reads a payload's header: its decomposition, sampling, precision and shape.</summary>
    /// <exception cref="AtomoFormatException">The payload is malformed.</exception>
    public static (Decomposition Decomposition, Sampling Sampling, ValuePrecision Precision, TensorShape Shape) ReadHeader(ReadOnlySpan<byte> payload)
    {
        var reader = new BitReader(PayloadFormat.Verify(payload));
        return PayloadFormat.ReadHeader(ref reader);
    }

    /// <summary>
    /// The decomposition used for a tensor of <paramref name="shape"/>: spectral atoms need a matrix view with at
    /// least <see cref="AtomoOptions.SpectralMinimumDimension"/> rows and columns, else coordinate atoms are used.
    /// </summary>
    public Decomposition DecompositionFor(TensorShape shape)
    {
        (int rows, int columns) = shape.MatrixView;
        return _options.Decomposition == Decomposition.Spectral && Math.Min(rows, columns) < _options.SpectralMinimumDimension
            ? Decomposition.Coordinate
            : _options.Decomposition;
    }

    private ReadOnlySpan<byte> EncodeCore(ReadOnlySpan<float> tensor, TensorShape shape, ulong seed)
    {
        if (tensor.Length != shape.ElementCount)
        {
            throw new ArgumentException($"The tensor has {tensor.Length} elements but the shape {shape} has {shape.ElementCount}.", nameof(tensor));
        }

        Decomposition decomposition = DecompositionFor(shape);
        _writer.Reset();
        PayloadFormat.WriteHeader(_writer, decomposition, _options.Sampling, _options.SpectralPrecision, shape);
        switch (decomposition)
        {
            case Decomposition.Coordinate:
                CoordinateSparsifier.Sample(tensor, _options, seed, _selection);
                CoordinatePayload.Write(_writer, _selection, tensor.Length, _options.BucketSize);
                break;
            default:
                throw new NotSupportedException($"{decomposition} atoms are not implemented yet.");
        }

        PayloadFormat.AppendChecksum(_writer);
        return _writer.Written;
    }

    private readonly record struct DecodedPayload(Decomposition Decomposition, TensorShape Shape);

    private DecodedPayload Parse(ReadOnlySpan<byte> payload, int destinationLength)
    {
        var reader = new BitReader(PayloadFormat.Verify(payload));
        (Decomposition decomposition, _, _, TensorShape shape) = PayloadFormat.ReadHeader(ref reader);
        if (shape.ElementCount != destinationLength)
        {
            throw new AtomoFormatException("shape", $"the payload is for a tensor {shape} of {shape.ElementCount} elements, the destination has {destinationLength}");
        }

        _decoded.Clear();
        switch (decomposition)
        {
            case Decomposition.Coordinate:
                CoordinatePayload.Read(ref reader, shape.ElementCount, _decoded);
                break;
            default:
                throw new AtomoFormatException("decomposition", $"{decomposition} payloads are not supported by this build");
        }

        if (reader.Remaining != 0)
        {
            throw new AtomoFormatException("length", $"{reader.Remaining} bytes follow the body");
        }

        return new DecodedPayload(decomposition, shape);
    }

    private void Apply(DecodedPayload parsed, Span<float> destination, float weight)
    {
        switch (parsed.Decomposition)
        {
            case Decomposition.Coordinate:
                _decoded.AddTo(destination, weight);
                break;
        }
    }
}
