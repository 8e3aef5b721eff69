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
/// Orthonormal DCT-II atoms of the flattened tensor, through the process's <see cref="FourierTransformProvider"/> (FFTW or
/// the managed <see cref="FourierTransform"/>). A kept atom is just its index and value; reconstruction is the inverse
/// DCT of the sparse coefficient vector (<see cref="AddSparse"/>).
/// </summary>
internal sealed class FourierAtoms : IAtomDecomposition
{
    private float[] _coefficients = [];
    private int _length;

    public Decomposition Basis => Decomposition.Fourier;

    public ReadOnlySpan<float> Coefficients => _coefficients.AsSpan(0, _length);

    /// <summary>
    /// <c>destination += Σ_j values_j · atom_{indices_j}</c> for a flattened tensor of <c>destination.Length</c> elements:
    /// the inverse DCT of the sparse coefficient vector. The decoder uses this directly on received indices and values.
    /// </summary>
    public static void AddSparse(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> destination)
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
            FourierTransformProvider.Current.Inverse(coefficients, x);
            System.Numerics.Tensors.TensorPrimitives.Add(destination, x, destination);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(sparse);
            System.Buffers.ArrayPool<float>.Shared.Return(signal);
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
        FourierTransformProvider.Current.Forward(tensor, _coefficients.AsSpan(0, _length));
    }

    public void AddAtoms(ReadOnlySpan<int> atomIndices, ReadOnlySpan<float> weights, Span<float> destination)
    {
        if (destination.Length != _length)
        {
            throw new ArgumentException($"The destination must have {_length} elements.", nameof(destination));
        }

        AddSparse(atomIndices, weights, destination);
    }
}
