using AtomoCollectives.Decompositions;

namespace AtomoCollectives;

/// <summary>
/// The body of a spectral payload (docs/wire-format.md): which of the decomposition's atoms were kept, their
/// values, and each kept atom's vectors (u and v, or the dense residual atom).
/// </summary>
internal static class SpectralPayload
{
    public static void Write(BitWriter writer, SpectralAtoms atoms, AtomSelection selection, ValuePrecision precision)
    {
        writer.WriteVarint((ulong)atoms.Rows);
        writer.WriteVarint((ulong)atoms.Columns);
        writer.WriteVarint((ulong)(atoms.Rank + 1));
        writer.WriteSingle(selection.GroupCount > 0 ? selection.GroupMagnitudes[0] : 0f);
        writer.WriteVarint((ulong)selection.Count);
        PositionCoding.Write(writer, selection.Indices, atoms.Rank + 1);
        foreach (bool exact in selection.IsExact)
        {
            writer.WriteBit(exact);
        }

        writer.AlignToByte();
        for (int j = 0; j < selection.Count; j++)
        {
            if (selection.IsExact[j])
            {
                writer.WriteSingle(selection.Values[j]);
            }
        }

        foreach (int atom in selection.Indices)
        {
            if (atom == atoms.ResidualIndex)
            {
                ValueCoding.Write(writer, atoms.Residual, precision);
            }
            else
            {
                ValueCoding.Write(writer, atoms.LeftVector(atom), precision);
                ValueCoding.Write(writer, atoms.RightVector(atom), precision);
            }
        }
    }

    /// <summary>
    /// Parses and validates a body, appending <c>weight · value</c> and the vectors of every rank-1 atom to
    /// <paramref name="stack"/>, and adding a kept residual atom into <paramref name="residual"/>.
    /// </summary>
    public static void Read(ref BitReader reader, int rows, int columns, ValuePrecision precision, float weight, SpectralStack stack, ref float[] residual, ref bool hasResidual)
    {
        int readRows = reader.ReadCount("rows", int.MaxValue);
        int readColumns = reader.ReadCount("columns", int.MaxValue);
        if (readRows != rows || readColumns != columns)
        {
            throw new AtomoFormatException("rows", $"the body is for a {readRows}×{readColumns} matrix, the shape's matrix view is {rows}×{columns}");
        }

        int atomCount = reader.ReadCount("atomCount", Math.Min(rows, columns) + 1);
        if (atomCount == 0)
        {
            throw new AtomoFormatException("atomCount", "a spectral decomposition has at least its residual atom");
        }

        float magnitude = reader.ReadSingle("magnitude");
        if (!float.IsFinite(magnitude) || magnitude < 0)
        {
            throw new AtomoFormatException("magnitude", $"{magnitude}");
        }

        int kept = reader.ReadCount("keptCount", (int)Math.Min(atomCount, 8L * reader.Remaining));
        Span<int> indices = kept <= 256 ? stackalloc int[kept] : new int[kept];
        PositionCoding.Read(ref reader, indices, atomCount, "keptAtoms");
        Span<bool> exact = kept <= 256 ? stackalloc bool[kept] : new bool[kept];
        int exactCount = 0;
        for (int j = 0; j < kept; j++)
        {
            exact[j] = reader.ReadBit("exactFlags");
            exactCount += exact[j] ? 1 : 0;
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

        int residualIndex = atomCount - 1;
        bool residualKept = kept > 0 && indices[kept - 1] == residualIndex;
        long needed = (((long)(kept - (residualKept ? 1 : 0)) * (rows + columns)) + (residualKept ? (long)rows * columns : 0)) * ValueCoding.BytesPerValue(precision);
        if (needed > reader.Remaining)
        {
            throw new AtomoFormatException("vectors", $"{kept} atoms of a {rows}×{columns} matrix need {needed} bytes but {reader.Remaining} remain");
        }

        for (int j = 0; j < kept; j++)
        {
            if (indices[j] == residualIndex)
            {
                if (!hasResidual)
                {
                    if (residual.Length < rows * columns)
                    {
                        residual = new float[rows * columns];
                    }

                    residual.AsSpan(0, rows * columns).Clear();
                    hasResidual = true;
                }

                float[] atom = System.Buffers.ArrayPool<float>.Shared.Rent(rows * columns);
                try
                {
                    ValueCoding.Read(ref reader, atom.AsSpan(0, rows * columns), precision, "residual");
                    SpectralAtoms.AddResidual(atom.AsSpan(0, rows * columns), weight * values[j], residual.AsSpan(0, rows * columns));
                }
                finally
                {
                    System.Buffers.ArrayPool<float>.Shared.Return(atom);
                }
            }
            else
            {
                int slot = stack.Append(weight * values[j]);
                ValueCoding.Read(ref reader, stack.Left(slot), precision, "leftVectors");
                ValueCoding.Read(ref reader, stack.Right(slot), precision, "rightVectors");
            }
        }
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
