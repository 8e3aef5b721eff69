namespace AtomoCollectives.Decompositions;

/// <summary>
/// One tensor's warm start for the fast spectral atoms: the orthonormal right basis Z (n×k, kept as Zᵀ) of its last
/// call. The next call starts its one power iteration from it instead of from a random subspace: one pass over the
/// gradient instead of two, and a subspace that carries what the previous gradients had in common. The basis only
/// shapes this rank's own payload (the atoms it picks); any basis gives an exactly unbiased estimate, so ranks need not
/// share it. A basis for another shape or width is ignored.
/// </summary>
internal sealed class SpectralSketch
{
    private float[] _basis = [];

    /// <summary>Rows m of the matrix view the basis was made for (0: no basis yet).</summary>
    public int Rows { get; private set; }

    /// <summary>Columns n of the matrix view.</summary>
    public int Columns { get; private set; }

    /// <summary>Width k of the basis.</summary>
    public int Width { get; private set; }

    /// <summary>Calls that used the kept basis instead of a cold start.</summary>
    public long WarmCalls { get; private set; }

    /// <summary>Zᵀ (k×n row-major) for an m×n view and width k; empty when there is none for that shape and width.</summary>
    public ReadOnlySpan<float> BasisFor(int rows, int columns, int width) =>
        Rows == rows && Columns == columns && Width == width ? _basis.AsSpan(0, width * columns) : default;

    /// <summary>Keeps <paramref name="basis"/> (Zᵀ, k×n) for the next call on an m×n view.</summary>
    public void Store(int rows, int columns, int width, ReadOnlySpan<float> basis)
    {
        if (_basis.Length < width * columns)
        {
            _basis = new float[width * columns];
        }

        basis[..(width * columns)].CopyTo(_basis);
        (Rows, Columns, Width) = (rows, columns, width);
    }

    /// <summary>Counts a call that started from the kept basis.</summary>
    public void CountWarmCall() => WarmCalls++;

    /// <summary>Forgets the basis: the next call starts cold.</summary>
    public void Reset() => (Rows, Columns, Width) = (0, 0, 0);

    /// <summary>Writes the basis (or its absence) and the warm-call count for <see cref="AveragerState"/>.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Rows);
        writer.Write(Columns);
        writer.Write(Width);
        writer.Write(WarmCalls);
        AveragerState.WriteFloats(writer, Rows == 0 ? default : _basis.AsSpan(0, Width * Columns));
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    /// <exception cref="InvalidDataException">The dimensions are impossible or the basis is not finite.</exception>
    public static SpectralSketch Load(BinaryReader reader)
    {
        int rows = reader.ReadInt32(), columns = reader.ReadInt32(), width = reader.ReadInt32();
        long warmCalls = reader.ReadInt64();
        bool none = rows == 0 && columns == 0 && width == 0;
        if (!none && (rows < 2 || columns < 2 || width < 1 || width > Math.Min(rows, columns) || warmCalls < 0))
        {
            throw new InvalidDataException($"The averager state holds a {rows}×{columns} warm-start basis of width {width}, which no tensor can have.");
        }

        var sketch = new SpectralSketch { WarmCalls = warmCalls };
        float[] basis = AveragerState.ReadFloats(reader, none ? 0 : checked(width * columns), "warm-start basis");
        if (!none)
        {
            sketch.Store(rows, columns, width, basis);
        }

        return sketch;
    }
}
