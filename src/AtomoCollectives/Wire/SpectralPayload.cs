using AtomoCollectives.Decompositions;

namespace AtomoCollectives;

/// <summary>
/// The body of a spectral payload (docs/wire-format.md): which rank-1 atoms were kept, their values and vectors (u and
/// v), then the residual's kept entries as a coordinate body over the m·n entries of the matrix view.
/// </summary>
internal static class SpectralPayload
{
    public static void Write(BitWriter writer, SpectralAtoms atoms, AtomSelection rankOne, AtomSelection residual, ValuePrecision precision)
    {
        writer.WriteVarint((ulong)atoms.Rows);
        writer.WriteVarint((ulong)atoms.Columns);
        writer.WriteVarint((ulong)atoms.Rank);
        writer.WriteSingle(rankOne.GroupCount > 0 ? rankOne.GroupMagnitudes[0] : 0f);
        writer.WriteVarint((ulong)rankOne.Count);
        PositionCoding.Write(writer, rankOne.Indices, atoms.Rank);
        foreach (bool exact in rankOne.IsExact)
        {
            writer.WriteBit(exact);
        }

        writer.AlignToByte();
        for (int j = 0; j < rankOne.Count; j++)
        {
            if (rankOne.IsExact[j])
            {
                writer.WriteSingle(rankOne.Values[j]);
            }
        }

        foreach (int atom in rankOne.Indices)
        {
            ValueCoding.Write(writer, atoms.LeftVector(atom), precision);
            ValueCoding.Write(writer, atoms.RightVector(atom), precision);
        }

        CoordinatePayload.Write(writer, residual, atoms.Rows * atoms.Columns, bucketSize: 0);
    }

    /// <summary>
    /// Parses and validates a body, appending <c>weight · value</c> and the vectors of every rank-1 atom to
    /// <paramref name="stack"/> and the residual's entries to <paramref name="residual"/>; nothing of the caller's is written.
    /// </summary>
    public static void Read(ref BitReader reader, int rows, int columns, ValuePrecision precision, float weight, SpectralStack stack, DecodedAtoms residual)
    {
        int readRows = reader.ReadCount("rows", int.MaxValue);
        int readColumns = reader.ReadCount("columns", int.MaxValue);
        if (readRows != rows || readColumns != columns)
        {
            throw new AtomoFormatException("rows", $"the body is for a {readRows}×{readColumns} matrix, the shape's matrix view is {rows}×{columns}");
        }

        int atomCount = reader.ReadCount("atomCount", Math.Min(rows, columns));
        float magnitude = reader.ReadSingle("magnitude");
        if (!float.IsFinite(magnitude) || magnitude < 0)
        {
            throw new AtomoFormatException("magnitude", $"{magnitude}");
        }

        int kept = reader.ReadCount("keptCount", (int)Math.Min(atomCount, 8L * reader.Remaining));
        Span<int> indices = kept <= 256 ? stackalloc int[kept] : new int[kept];
        PositionCoding.Read(ref reader, indices, atomCount, "keptAtoms");
        Span<bool> exact = kept <= 256 ? stackalloc bool[kept] : new bool[kept];
        for (int j = 0; j < kept; j++)
        {
            exact[j] = reader.ReadBit("exactFlags");
        }

        reader.AlignToByte();
        Span<float> values = kept <= 256 ? stackalloc float[kept] : new float[kept];
        for (int j = 0; j < kept; j++)
        {
            values[j] = exact[j] ? reader.ReadSingle("exactValues") : magnitude;
            if (!float.IsFinite(values[j]))
            {
                throw new AtomoFormatException("exactValues", $"value of atom {indices[j]} is {values[j]}");
            }
        }

        long needed = (long)kept * (rows + columns) * ValueCoding.BytesPerValue(precision);
        if (needed > reader.Remaining)
        {
            throw new AtomoFormatException("vectors", $"{kept} atoms of a {rows}×{columns} matrix need {needed} bytes but {reader.Remaining} remain");
        }

        for (int j = 0; j < kept; j++)
        {
            int slot = stack.Append(weight * values[j]);
            ValueCoding.Read(ref reader, stack.Left(slot), precision, "leftVectors");
            ValueCoding.Read(ref reader, stack.Right(slot), precision, "rightVectors");
        }

        CoordinatePayload.Read(ref reader, rows * columns, residual);
    }
}

/// <summary>Rank-1 atoms gathered from one or more payloads, reconstructed together by one GEMM.</summary>
internal sealed class SpectralStack
{
    private float[] _left = [];
    private float[] _right = [];
    private float[] _weights = [];

    public int Rows { get; private set; }

    public int Columns { get; private set; }

    public int Count { get; private set; }

    public void Reset(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        Count = 0;
    }

    /// <summary>Adds an atom with <paramref name="weight"/>; returns its slot, whose vectors the caller fills through Left and Right.</summary>
    public int Append(float weight)
    {
        if (Count == _weights.Length)
        {
            Array.Resize(ref _weights, Math.Max(8, Count * 2));
        }

        if (_left.Length < (Count + 1) * Rows)
        {
            Array.Resize(ref _left, _weights.Length * Rows);
        }

        if (_right.Length < (Count + 1) * Columns)
        {
            Array.Resize(ref _right, _weights.Length * Columns);
        }

        _weights[Count] = weight;
        return Count++;
    }

    public Span<float> Left(int slot) => _left.AsSpan(slot * Rows, Rows);

    public Span<float> Right(int slot) => _right.AsSpan(slot * Columns, Columns);

    /// <summary>destination += Σ weight_j · left_j right_jᵀ.</summary>
    public void AddTo(Span<float> destination) =>
        SpectralAtoms.AddRankOneAtoms(Rows, Columns, _left.AsSpan(0, Count * Rows), _right.AsSpan(0, Count * Columns), _weights.AsSpan(0, Count), destination);
}
