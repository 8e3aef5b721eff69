using System.Buffers;
using System.Numerics.Tensors;
using AtomoCollectives.Decompositions;

namespace AtomoCollectives;

/// <summary>
/// Encodes one tensor as a compact, validated ATOMO payload and decodes payloads back into tensors.
/// An instance reuses its buffers between calls and is not thread-safe: use one per thread.
/// </summary>
public sealed class AtomoCodec
{
    private readonly AtomoOptions _options;
    private readonly AtomSelection _selection = new();
    private readonly AtomSelection _residualSelection = new();
    private readonly BitWriter _writer = new();
    private readonly DecodedAtoms _decoded = new();
    private readonly SpectralStack _stack = new();
    private readonly Dictionary<Decomposition, IAtomDecomposition> _decompositions = [];
    private float[] _coefficients = [];
    private readonly ResidualEntries _entries = new();
    private float[] _estimate = [];
    private int _length;
    private Decomposition? _accumulated;
    private TensorShape _accumulatedShape;
    private int _accumulatedBlockLength;
    private double _coefficientBound;

    /// <summary>A codec for <paramref name="options"/> (copied: later changes to them do not affect the codec).</summary>
    public AtomoCodec(AtomoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
    }

    /// <summary>
    /// The atoms the last <see cref="Encode(ReadOnlySpan{float}, TensorShape, ulong)"/> kept: indices into its
    /// decomposition's atoms (for a spectral tensor, its rank-1 atoms; see <see cref="LastResidualSelection"/>).
    /// </summary>
    public AtomSelection LastSelection => _selection;

    /// <summary>
    /// For a spectral tensor, the entries of its residual (row-major in the matrix view) that the last encode kept as
    /// coordinate atoms; empty otherwise.
    /// </summary>
    public AtomSelection LastResidualSelection => _residualSelection;

    /// <summary>All atoms the last encode kept: rank-1 and residual entries, or coordinate and Fourier atoms.</summary>
    internal int LastAtomCount => _selection.Count + _residualSelection.Count;

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
        BeginAccumulate(destination.Length);
        Accumulate(payload, 1f);
        FinishAccumulate(destination, 1f, add: false);
    }

    /// <summary>Adds <paramref name="weight"/> times the estimate a payload carries to <paramref name="accumulator"/>.</summary>
    /// <exception cref="AtomoFormatException">The payload is malformed or is not for a tensor of this length; <paramref name="accumulator"/> is untouched.</exception>
    public void DecodeAdd(ReadOnlySpan<byte> payload, Span<float> accumulator, float weight)
    {
        BeginAccumulate(accumulator.Length);
        Accumulate(payload, 1f);
        FinishAccumulate(accumulator, weight, add: true);
    }

    /// <summary>
    /// Writes <paramref name="scale"/> times the sum of one tensor's payloads, one from each sender in sender order, into
    /// <paramref name="destination"/>: sender s's payload is <c>lengths[s · stride]</c> bytes at <c>offsets[s]</c> of
    /// <paramref name="received"/>, and <c>offsets[s]</c> moves past it. Summed in the coefficient domain (coordinate,
    /// Fourier) or stacked (spectral), so that the reconstruction is one inverse transform or one GEMM over every
    /// sender's atoms; every rank that sums the same payloads in the same order gets the same bits.
    /// </summary>
    /// <exception cref="AtomoFormatException">A payload is malformed or is not for a tensor of this length.</exception>
    internal void DecodeSum(ReadOnlySpan<byte> received, Span<long> offsets, ReadOnlySpan<int> lengths, int stride, Span<float> destination, float scale)
    {
        BeginAccumulate(destination.Length);
        for (int s = 0; s < offsets.Length; s++)
        {
            int length = lengths[s * stride];
            Accumulate(received.Slice(checked((int)offsets[s]), length), 1f);
            offsets[s] += length;
        }

        FinishAccumulate(destination, scale, add: false);
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

    /// <summary>Starts summing the estimates of payloads for one tensor of <paramref name="length"/> elements.</summary>
    internal void BeginAccumulate(int length)
    {
        _length = length;
        _accumulated = null;
        _coefficientBound = 0;
        _entries.Clear();
    }

    /// <summary>
    /// Validates one payload and adds <paramref name="weight"/> times its estimate to the running sum, in the
    /// coefficient domain (coordinate, Fourier) or as stacked rank-1 atoms (spectral). Payloads are added in
    /// call order, so every rank that adds the same payloads in the same order ends with the same bits.
    /// </summary>
    /// <exception cref="AtomoFormatException">The payload is malformed, or its tensor differs from the previous payloads'.</exception>
    internal void Accumulate(ReadOnlySpan<byte> payload, float weight)
    {
        var reader = new BitReader(PayloadFormat.Verify(payload));
        (Decomposition decomposition, _, ValuePrecision precision, TensorShape shape) = PayloadFormat.ReadHeader(ref reader, out int blockLength);
        if (shape.ElementCount != _length)
        {
            throw new AtomoFormatException("shape", $"the payload is for a tensor {shape} of {shape.ElementCount} elements, the destination has {_length}");
        }

        if (_accumulated is null)
        {
            _accumulated = decomposition;
            _accumulatedShape = shape;
            _accumulatedBlockLength = blockLength;
            if (decomposition == Decomposition.Spectral)
            {
                _stack.Reset(shape.MatrixView.Rows, shape.MatrixView.Columns);
            }
            else
            {
                Grow(ref _coefficients, _length).Clear();
            }
        }
        else if (_accumulated != decomposition || _accumulatedShape != shape)
        {
            throw new AtomoFormatException("decomposition", $"a {decomposition} payload for {shape} cannot be summed with {_accumulated} payloads for {_accumulatedShape}");
        }
        else if (_accumulatedBlockLength != blockLength)
        {
            throw new AtomoFormatException("fourierBlockLength", $"a payload of Fourier atoms on {BlocksName(blockLength)} cannot be summed with payloads on {BlocksName(_accumulatedBlockLength)}");
        }

        if (decomposition == Decomposition.Spectral)
        {
            (int rows, int columns) = shape.MatrixView;
            _decoded.Clear();
            SpectralPayload.Read(ref reader, rows, columns, precision, weight, _stack, _decoded);
        }
        else
        {
            _decoded.Clear();
            CoordinatePayload.Read(ref reader, _length, _decoded);
        }

        if (reader.Remaining != 0)
        {
            throw new AtomoFormatException("length", $"{reader.Remaining} bytes follow the body");
        }

        if (decomposition != Decomposition.Spectral)
        {
            _decoded.AddTo(_coefficients.AsSpan(0, _length), weight);
            _coefficientBound += Math.Abs((double)weight) * _decoded.MaxMagnitude();
        }
        else
        {
            _entries.Append(_decoded, weight);
        }
    }

    /// <summary>Writes (or adds) <paramref name="scale"/> times the accumulated estimate into <paramref name="destination"/>.</summary>
    internal void FinishAccumulate(Span<float> destination, float scale, bool add)
    {
        if (_accumulated == Decomposition.Fourier && _accumulatedBlockLength != 0 && _coefficientBound <= BlockCosineTransform.OverflowFreeMagnitude)
        {
            // No value of the inverse can overflow (BlockCosineTransform.OverflowFreeMagnitude), so it can run a chunk
            // at a time in cache and go straight to the destination: one write (or read and write) of it.
            InverseBlocksInto(destination, scale, add);
            return;
        }

        Span<float> estimate = Grow(ref _estimate, _length);
        switch (_accumulated)
        {
            case Decomposition.Coordinate:
                _coefficients.AsSpan(0, _length).CopyTo(estimate);
                break;
            case Decomposition.Fourier when _accumulatedBlockLength != 0:
                // Coefficients beyond the overflow-free bound (else InverseBlocksInto above): blocks rescaled as needed.
                BlockCosineTransform.InverseRangeSafe(_coefficients.AsSpan(0, _length), estimate, _accumulatedBlockLength);
                break;
            case Decomposition.Fourier:
                // The decode kernel: bitwise the same on every CPU (FourierTransformProvider.DecodeKernel).
                FourierTransformProvider.Current.Inverse(_coefficients.AsSpan(0, _length), estimate);
                break;
            case Decomposition.Spectral:
                estimate.Clear();
                _stack.AddTo(estimate);
                _entries.AddTo(estimate);
                break;
            default:
                estimate.Clear();
                break;
        }

        // Every field was finite, but products of them need not be: a payload whose estimate overflows is refused
        // before the destination is touched.
        int overflow = FiniteValues.IndexOfNonFinite(estimate);
        if (overflow >= 0)
        {
            throw new AtomoFormatException("values", $"the atoms' values overflow float at element {overflow} ({estimate[overflow]})");
        }

        if (add)
        {
            TensorPrimitives.MultiplyAdd(estimate, scale, destination, destination);
        }
        else
        {
            TensorPrimitives.Multiply(estimate, scale, destination);
        }
    }

    /// <summary>The accumulated Fourier coefficients on blocks, inverted a chunk of whole blocks at a time into <paramref name="destination"/>.</summary>
    private void InverseBlocksInto(Span<float> destination, float scale, bool add)
    {
        int chunk = _accumulatedBlockLength * Math.Max(1, InverseChunkFloats / _accumulatedBlockLength);
        Span<float> estimate = Grow(ref _estimate, Math.Min(chunk, _length));
        ReadOnlySpan<float> coefficients = _coefficients.AsSpan(0, _length);
        for (int start = 0; start < _length; start += chunk)
        {
            int length = Math.Min(chunk, _length - start);
            Span<float> part = estimate[..length], target = destination.Slice(start, length);
            BlockCosineTransform.Inverse(coefficients.Slice(start, length), part, _accumulatedBlockLength);
            if (add)
            {
                TensorPrimitives.MultiplyAdd(part, scale, target, target);
            }
            else
            {
                TensorPrimitives.Multiply(part, scale, target);
            }
        }
    }

    /// <summary>Floats inverted at a time by <see cref="InverseBlocksInto"/> (in L1/L2).</summary>
    private const int InverseChunkFloats = 8192;

    /// <summary>
    /// As <see cref="Encode(ReadOnlySpan{float}, TensorShape, ulong, IBufferWriter{byte})"/>; a spectral tensor starts its
    /// sketch from <paramref name="sketch"/>'s basis when it has one for this shape, and leaves the next one there.
    /// </summary>
    internal int Encode(ReadOnlySpan<float> tensor, TensorShape shape, ulong seed, SpectralSketch? sketch, IBufferWriter<byte> destination)
    {
        ReadOnlySpan<byte> payload = EncodeCore(tensor, shape, seed, sketch);
        payload.CopyTo(destination.GetSpan(payload.Length));
        destination.Advance(payload.Length);
        return payload.Length;
    }

    private ReadOnlySpan<byte> EncodeCore(ReadOnlySpan<float> tensor, TensorShape shape, ulong seed, SpectralSketch? sketch = null)
    {
        if (tensor.Length != shape.ElementCount)
        {
            throw new ArgumentException($"The tensor has {tensor.Length} elements but the shape {shape} has {shape.ElementCount}.", nameof(tensor));
        }

        Decomposition decomposition = DecompositionFor(shape);
        _residualSelection.Clear();
        _writer.Reset();
        PayloadFormat.WriteHeader(_writer, decomposition, _options.Sampling, _options.SpectralPrecision, shape, _options.FourierBlockLength);
        switch (decomposition)
        {
            case Decomposition.Coordinate:
                CoordinateSparsifier.Sample(tensor, _options, seed, _selection);
                CoordinatePayload.Write(_writer, _selection, tensor.Length, _options.BucketSize);
                break;
            case Decomposition.Fourier:
            {
                // Blocks that nest with the buckets are transformed and sampled a chunk at a time (one read of the tensor).
                int blockLength = _options.FourierBlockLength;
                if (blockLength == 0 || !CoordinateSparsifier.TrySampleBlockCosines(tensor, blockLength, _options, SamplingSeed(seed), _selection))
                {
                    IAtomDecomposition atoms = DecompositionOf(Decomposition.Fourier);
                    MagnitudeStatistics.Measure(tensor, nameof(tensor));
                    atoms.Decompose(tensor, shape, _options, seed);
                    CoordinateSparsifier.Sample(atoms.Coefficients, _options, SamplingSeed(seed), _selection);
                }

                if (blockLength != 0)
                {
                    FourierAtoms.CheckEstimateRange(tensor, _selection, blockLength, _options.BucketSize);
                }

                CoordinatePayload.Write(_writer, _selection, tensor.Length, _options.BucketSize);
                break;
            }

            default:
            {
                var atoms = (SpectralAtoms)DecompositionOf(Decomposition.Spectral);
                (int rows, int columns) = shape.MatrixView;
                atoms.Decompose(tensor, rows, columns, _options, seed, sketch);
                SpectralSparsifier.Sample(atoms, _options.Budget, _options.Sampling, _options.SpectralPrecision, SamplingSeed(seed), _selection, _residualSelection);
                SpectralPayload.Write(_writer, atoms, _selection, _residualSelection, _options.SpectralPrecision);
                break;
            }
        }

        PayloadFormat.AppendChecksum(_writer);
        return _writer.Written;
    }

    private static string BlocksName(int blockLength) => blockLength == 0 ? "the whole tensor" : $"blocks of {blockLength}";

    /// <summary>The sketch and the draw take independent streams from one seed.</summary>
    private static ulong SamplingSeed(ulong seed) => RandomStreams.Draw(seed);

    private IAtomDecomposition DecompositionOf(Decomposition basis)
    {
        if (!_decompositions.TryGetValue(basis, out IAtomDecomposition? atoms))
        {
            atoms = Decomposer.Create(basis);
            _decompositions[basis] = atoms;
        }

        return atoms;
    }

    private static Span<float> Grow(ref float[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new float[length];
        }

        return buffer.AsSpan(0, length);
    }
}
