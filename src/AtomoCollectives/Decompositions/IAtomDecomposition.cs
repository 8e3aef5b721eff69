namespace AtomoCollectives.Decompositions;

/// <summary>
/// One tensor written in an orthonormal basis: its coefficients λ (what the sparsifier consumes) and a way to add
/// any weighted set of its atoms back. Instances are reusable (their buffers only grow) and not thread-safe; use one
/// per thread or per tensor. Same inputs and seed give bitwise the same coefficients and atoms.
/// <para>Typical encoder use:</para>
/// <code>
/// var atoms = Decomposer.Create(options.Decomposition);
/// atoms.Decompose(tensor, shape, options, seed);
/// AtomicSparsifier.Sample(atoms.Coefficients, options.Budget, options.Sampling, seed, selection);
/// // serialise: Spectral → atoms.LeftVector(i), RightVector(i) (its residual's entries go as coordinate atoms,
/// // see SpectralSparsifier); Fourier/Coordinate → index only
/// atoms.AddAtoms(selection.Indices, selection.Values, estimate);   // estimate += Σ (λ_i/p_i)·atom_i
/// </code>
/// </summary>
internal interface IAtomDecomposition
{
    /// <summary>The basis.</summary>
    Decomposition Basis { get; }

    /// <summary>The coefficients λ_i, one per atom (atom i has index i).</summary>
    ReadOnlySpan<float> Coefficients { get; }

    /// <summary>Decomposes <paramref name="tensor"/> (row-major, <paramref name="shape"/>), replacing the previous content.</summary>
    /// <exception cref="ArgumentException">The tensor's length does not match the shape.</exception>
    void Decompose(ReadOnlySpan<float> tensor, TensorShape shape, AtomoOptions options, ulong seed);

    /// <summary><c>destination += Σ_j weights_j · atom_{atomIndices_j}</c>, destination in the tensor's row-major layout.</summary>
    void AddAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, Span<float> destination);
}

/// <summary>Creates the decomposition for a basis.</summary>
internal static class Decomposer
{
    /// <summary>A new, empty, reusable decomposition of <paramref name="basis"/>.</summary>
    public static IAtomDecomposition Create(Decomposition basis) => basis switch
    {
        Decomposition.Coordinate => new CoordinateAtoms(),
        Decomposition.Spectral => new SpectralAtoms(),
        Decomposition.Fourier => new FourierAtoms(),
        _ => throw new ArgumentOutOfRangeException(nameof(basis), basis, "Unknown decomposition."),
    };

    /// <summary>Decomposes <paramref name="tensor"/> in <paramref name="options"/>' basis.</summary>
    public static IAtomDecomposition Decompose(ReadOnlySpan<float> tensor, TensorShape shape, AtomoOptions options, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        IAtomDecomposition atoms = Create(options.Decomposition);
        atoms.Decompose(tensor, shape, options, seed);
        return atoms;
    }

    internal static void CheckLength(ReadOnlySpan<float> tensor, TensorShape shape)
    {
        if (tensor.Length != shape.ElementCount)
        {
            throw new ArgumentException($"The tensor has {tensor.Length} elements, the shape {shape} has {shape.ElementCount}.", nameof(tensor));
        }
    }

    internal static void CheckAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, int atomCount)
    {
        if (atomIndices.Length != weights.Length)
        {
            throw new ArgumentException("One weight per atom index is needed.", nameof(weights));
        }

        foreach (int index in atomIndices)
        {
            if ((uint)index >= (uint)atomCount)
            {
                throw new ArgumentException($"Atom index {index} is outside 0..{atomCount - 1}.", nameof(atomIndices));
            }
        }
    }
}

/// <summary>Unit-vector atoms: the coefficients are the tensor's entries.</summary>
internal sealed class CoordinateAtoms : IAtomDecomposition
{
    private float[] _coefficients = [];
    private int _length;

    public Decomposition Basis => Decomposition.Coordinate;

    public ReadOnlySpan<float> Coefficients => _coefficients.AsSpan(0, _length);

    public void Decompose(ReadOnlySpan<float> tensor, TensorShape shape, AtomoOptions options, ulong seed)
    {
        Decomposer.CheckLength(tensor, shape);
        if (_coefficients.Length < tensor.Length)
        {
            _coefficients = new float[tensor.Length];
        }

        _length = tensor.Length;
        tensor.CopyTo(_coefficients);
    }

    public void AddAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, Span<float> destination)
    {
        Decomposer.CheckAtoms(atomIndices, weights, _length);
        for (int j = 0; j < atomIndices.Length; j++)
        {
            destination[atomIndices[j]] += weights[j];
        }
    }
}

/// <summary>
/// Orthonormal DCT-II atoms of the flattened tensor: of its blocks (<see cref="BlockCosineTransform"/>) or, with
/// <see cref="AtomoOptions.FourierBlockLength"/> 0, of the whole tensor through the process's
/// <see cref="FourierTransformProvider"/> (FFTW or the managed <see cref="FourierTransform"/>). A kept atom is just its
/// index and value; reconstruction is the inverse DCT of the sparse coefficient vector (<see cref="AddSparse"/>).
/// </summary>
internal sealed class FourierAtoms : IAtomDecomposition
{
    private float[] _coefficients = [];
    private int _length;
    private int _blockLength;

    public Decomposition Basis => Decomposition.Fourier;

    public ReadOnlySpan<float> Coefficients => _coefficients.AsSpan(0, _length);

    /// <summary>The forward DCT-II: of blocks of <paramref name="blockLength"/>, or of the whole signal when it is 0.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> coefficients, int blockLength)
    {
        if (blockLength == 0)
        {
            FourierTransformProvider.Current.Forward(x, coefficients);
        }
        else
        {
            BlockCosineTransform.Forward(x, coefficients, blockLength);
        }
    }

    /// <summary>The inverse (the decode kernel): bitwise the same on every CPU for blocks; for the whole signal, see <see cref="FourierTransformProvider.DecodeKernel"/>.</summary>
    public static void Inverse(ReadOnlySpan<float> coefficients, Span<float> x, int blockLength)
    {
        if (blockLength == 0)
        {
            FourierTransformProvider.Current.Inverse(coefficients, x);
        }
        else
        {
            BlockCosineTransform.Inverse(coefficients, x, blockLength);
        }
    }

    /// <summary>
    /// <c>destination += Σ_j values_j · atom_{indices_j}</c> for a flattened tensor of <c>destination.Length</c> elements:
    /// the inverse DCT of the sparse coefficient vector.
    /// </summary>
    public static void AddSparse(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> destination, int blockLength)
    {
        int n = destination.Length;
        Decomposer.CheckAtoms(indices, values, n);
        float[] sparse = System.Buffers.ArrayPool<float>.Shared.Rent(n);
        float[] signal = System.Buffers.ArrayPool<float>.Shared.Rent(n);
        try
        {
            Span<float> coefficients = sparse.AsSpan(0, n);
            coefficients.Clear();
            for (int j = 0; j < indices.Length; j++)
            {
                coefficients[indices[j]] += values[j];
            }

            Span<float> x = signal.AsSpan(0, n);
            Inverse(coefficients, x, blockLength);
            System.Numerics.Tensors.TensorPrimitives.Add(destination, x, destination);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(sparse);
            System.Buffers.ArrayPool<float>.Shared.Return(signal);
        }
    }

    /// <summary>
    /// Refuses a tensor whose estimate on blocks float might not hold, whatever the draw: atom k of a block decodes to
    /// 0 or λ_k/p_k = ±max(|λ_k|, m) (m its bucket's kept magnitude), so a value of the block's inverse is at most
    /// W = Σ_k s_k·max(|λ_k|, m) over its non-zero coefficients (s_k the orthonormal scale, |cos| ≤ 1). The check depends
    /// on the tensor and the options only, so a tensor is refused on every draw or on none. It is O(kept atoms) unless
    /// √(2B)·(largest kept value), a bound on every W, comes within reach of float's range; then the coefficients are
    /// recomputed once.
    /// </summary>
    /// <exception cref="ArgumentException">Some block's W exceeds float's range.</exception>
    public static void CheckEstimateRange(ReadOnlySpan<float> tensor, AtomSelection selection, int blockLength, int bucketSize)
    {
        const double Limit = float.MaxValue * (1 - (1.0 / 1024)); // room for the inverse's float rounding
        double largestKept = 0;
        foreach (float value in selection.Values)
        {
            largestKept = Math.Max(largestKept, Math.Abs(value));
        }

        if (Math.Sqrt(2.0 * blockLength) * largestKept < Limit)
        {
            return;
        }

        float[] coefficients = System.Buffers.ArrayPool<float>.Shared.Rent(tensor.Length);
        try
        {
            BlockCosineTransform.ForwardRangeSafe(tensor, coefficients.AsSpan(0, tensor.Length), blockLength);
            int bucket = bucketSize == 0 ? Math.Max(tensor.Length, 1) : bucketSize;
            foreach ((int offset, int length) in BlockCosineTransform.Blocks(tensor.Length, blockLength))
            {
                double worst = 0;
                for (int k = 0; k < length; k++)
                {
                    float lambda = coefficients[offset + k];
                    if (lambda != 0)
                    {
                        double scale = Math.Sqrt((k == 0 ? 1.0 : 2.0) / length);
                        worst += scale * Math.Max(Math.Abs((double)lambda), selection.GroupMagnitudes[(offset + k) / bucket]);
                    }
                }

                if (!(worst < Limit))
                {
                    throw new ArgumentException($"The Fourier atoms of the block at {offset} could reconstruct values up to {worst:G4}, beyond float's range (±3.4E+38): scale the tensor down, raise the budget, or use larger blocks.", "tensor");
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(coefficients);
        }
    }

    public void Decompose(ReadOnlySpan<float> tensor, TensorShape shape, AtomoOptions options, ulong seed)
    {
        Decomposer.CheckLength(tensor, shape);
        if (_coefficients.Length < tensor.Length)
        {
            _coefficients = new float[tensor.Length];
        }

        _length = tensor.Length;
        _blockLength = options.FourierBlockLength;
        Span<float> coefficients = _coefficients.AsSpan(0, _length);
        if (_blockLength == 0)
        {
            FourierTransformProvider.Current.Forward(tensor, coefficients);
            return;
        }

        BlockCosineTransform.ForwardRangeSafe(tensor, coefficients, _blockLength);
        int overflow = FiniteValues.IndexOfNonFinite(coefficients);
        if (overflow >= 0 && FiniteValues.IndexOfNonFinite(tensor) < 0)
        {
            throw new ArgumentException($"Fourier coefficient {overflow} exceeds float's range (±3.4E+38): a block's coefficients can reach √{_blockLength} times its largest entry ({System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(tensor):G4}). Scale the tensor down.", "tensor");
        }
    }

    public void AddAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, Span<float> destination)
    {
        if (destination.Length != _length)
        {
            throw new ArgumentException($"The destination must have {_length} elements.", nameof(destination));
        }

        AddSparse(atomIndices, weights, destination, _blockLength);
    }
}
