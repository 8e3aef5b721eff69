namespace AtomoCollectives;

/// <summary>
/// The body of a payload whose atoms are indexed coefficients (coordinate and Fourier bases): per-group
/// magnitudes, the positions and signs of atoms drawn with p &lt; 1, and the positions and values of atoms with
/// p = 1 (docs/wire-format.md).
/// </summary>
internal static class CoordinatePayload
{
    public static void Write(BitWriter writer, AtomSelection selection, int length, int bucketSize)
    {
        writer.WriteVarint((ulong)bucketSize);
        writer.WriteVarint((ulong)selection.GroupCount);
        foreach (float magnitude in selection.GroupMagnitudes)
        {
            writer.WriteSingle(magnitude);
        }

        int scaledCount = selection.Count - selection.ExactCount;
        int[]? rented = scaledCount > 4096 || selection.ExactCount > 1024 ? System.Buffers.ArrayPool<int>.Shared.Rent(selection.Count) : null;
        Span<int> scaled = rented is not null ? rented.AsSpan(0, scaledCount) : stackalloc int[scaledCount];
        Span<int> exact = rented is not null ? rented.AsSpan(scaledCount, selection.ExactCount) : stackalloc int[selection.ExactCount];
        try
        {
            WriteAtoms(writer, selection, length, scaled, exact);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private static void WriteAtoms(BitWriter writer, AtomSelection selection, int length, Span<int> scaled, Span<int> exact)
    {
        int scaledCount = scaled.Length;
        int s = 0, e = 0;
        for (int j = 0; j < selection.Count; j++)
        {
            if (selection.IsExact[j])
            {
                exact[e++] = selection.Indices[j];
            }
            else
            {
                scaled[s++] = selection.Indices[j];
            }
        }

        writer.WriteVarint((ulong)scaledCount);
        PositionCoding.Write(writer, scaled, length);
        for (int j = 0; j < selection.Count; j++)
        {
            if (!selection.IsExact[j])
            {
                writer.WriteBit(selection.Values[j] < 0);
            }
        }

        writer.AlignToByte();
        writer.WriteVarint((ulong)selection.ExactCount);
        PositionCoding.Write(writer, exact, length);
        for (int j = 0; j < selection.Count; j++)
        {
            if (selection.IsExact[j])
            {
                writer.WriteSingle(selection.Values[j]);
            }
        }
    }

    /// <summary>Parses and validates the body into <paramref name="atoms"/> without touching any caller buffer.</summary>
    public static void Read(ref BitReader reader, int length, DecodedAtoms atoms)
    {
        int bucketSize = reader.ReadCount("bucketSize", int.MaxValue);
        int effectiveBucket = bucketSize == 0 ? Math.Max(length, 1) : bucketSize;
        int expectedGroups = length == 0 ? 0 : (int)(((long)length + effectiveBucket - 1) / effectiveBucket);
        int groupCount = reader.ReadCount("groupCount", int.MaxValue);
        if (groupCount != expectedGroups)
        {
            throw new AtomoFormatException("groupCount", $"{groupCount} groups, but {length} entries in buckets of {effectiveBucket} make {expectedGroups}");
        }

        if ((long)groupCount * 4 > reader.Remaining)
        {
            throw new AtomoFormatException("groupMagnitudes", $"{groupCount} magnitudes need {4L * groupCount} bytes but only {reader.Remaining} remain");
        }

        Span<float> magnitudes = atoms.RentMagnitudes(groupCount);
        for (int g = 0; g < groupCount; g++)
        {
            magnitudes[g] = reader.ReadSingle("groupMagnitudes");
            if (!float.IsFinite(magnitudes[g]) || magnitudes[g] < 0)
            {
                throw new AtomoFormatException("groupMagnitudes", $"magnitude of group {g} is {magnitudes[g]}");
            }
        }

        int scaledCount = ReadAtomCount(ref reader, "scaledCount", length);
        Span<int> scaled = atoms.RentScaled(scaledCount);
        PositionCoding.Read(ref reader, scaled, length, "scaledPositions");
        Span<float> scaledValues = atoms.ScaledValues;
        for (int j = 0; j < scaledCount; j++)
        {
            float magnitude = magnitudes[scaled[j] / effectiveBucket];
            scaledValues[j] = reader.ReadBit("signs") ? -magnitude : magnitude;
        }

        reader.AlignToByte();
        int exactCount = ReadAtomCount(ref reader, "exactCount", length - scaledCount);
        Span<int> exact = atoms.RentExact(exactCount);
        PositionCoding.Read(ref reader, exact, length, "exactPositions");
        if ((long)exactCount * 4 > reader.Remaining)
        {
            throw new AtomoFormatException("exactValues", $"{exactCount} values need {4L * exactCount} bytes but only {reader.Remaining} remain");
        }

        Span<float> exactValues = atoms.ExactValues;
        for (int j = 0; j < exactCount; j++)
        {
            exactValues[j] = reader.ReadSingle("exactValues");
            if (!float.IsFinite(exactValues[j]))
            {
                throw new AtomoFormatException("exactValues", $"value of atom {exact[j]} is {exactValues[j]}");
            }
        }

        // An index may appear once: the two ascending lists must not share one.
        for (int a = 0, b = 0; a < scaledCount && b < exactCount;)
        {
            if (scaled[a] == exact[b])
            {
                throw new AtomoFormatException("exactPositions", $"index {exact[b]} is listed both as a drawn and as an exact atom");
            }

            if (scaled[a] < exact[b])
            {
                a++;
            }
            else
            {
                b++;
            }
        }
    }

    /// <summary>
    /// A count of atoms, refused above <paramref name="maximum"/> or above the bits left (every position costs at
    /// least one), so that no buffer is sized by a count the payload cannot back.
    /// </summary>
    private static int ReadAtomCount(ref BitReader reader, string field, int maximum) =>
        reader.ReadCount(field, (int)Math.Min(maximum, 8L * reader.Remaining));
}
