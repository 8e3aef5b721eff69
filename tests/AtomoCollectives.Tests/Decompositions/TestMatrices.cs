using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Decompositions;

/// <summary>Seeded test tensors and dense helpers for the decomposition tests.</summary>
internal static class TestMatrices
{
    /// <summary>Unit round-off of float, 2⁻²⁴.</summary>
    public const double FloatEpsilon = 1.0 / (1 << 24);

    public static float[] Gaussian(int length, int seed)
    {
        var random = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            data[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return data;
    }

    /// <summary>A rows×columns matrix of exact rank <paramref name="rank"/>: Σ_i (rank − i)·a_i·b_iᵀ with Gaussian a, b.</summary>
    public static float[] LowRank(int rows, int columns, int rank, int seed)
    {
        float[] a = Gaussian(rows * rank, seed), b = Gaussian(columns * rank, seed + 1);
        var g = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                double sum = 0;
                for (int i = 0; i < rank; i++)
                {
                    sum += (rank - i) * (double)a[(r * rank) + i] * b[(c * rank) + i];
                }

                g[(r * columns) + c] = (float)sum;
            }
        }

        return g;
    }

    /// <summary>
    /// A rows×columns matrix whose j-th singular direction pair (Gaussian, so nearly orthogonal) has weight
    /// <paramref name="decay"/>^j, for all min(rows, columns) of them: a spectrum that decays without a gap.
    /// </summary>
    public static float[] Decaying(int rows, int columns, double decay, int seed)
    {
        int rank = Math.Min(rows, columns);
        float[] a = Gaussian(rows * rank, seed), b = Gaussian(columns * rank, seed + 1);
        var g = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                double sum = 0, weight = 1;
                for (int i = 0; i < rank; i++, weight *= decay)
                {
                    sum += weight * a[(r * rank) + i] * b[(c * rank) + i];
                }

                g[(r * columns) + c] = (float)sum;
            }
        }

        return g;
    }

    public static double Norm(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (float v in x)
        {
            sum += (double)v * v;
        }

        return Math.Sqrt(sum);
    }

    public static double Distance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = (double)x[i] - y[i];
            sum += d * d;
        }

        return Math.Sqrt(sum);
    }

    public static double Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += (double)x[i] * y[i];
        }

        return sum;
    }

    /// <summary>Every atom with a coefficient as a dense tensor (for spectral atoms, the rank-1 atoms; the residual's entries are unit vectors).</summary>
    public static float[][] DenseAtoms(IAtomDecomposition atoms, ReadOnlySpan<float> tensor)
    {
        int count = atoms.Coefficients.Length;
        var all = new int[count];
        for (int i = 0; i < count; i++)
        {
            all[i] = i;
        }

        var dense = new float[count][];
        for (int i = 0; i < count; i++)
        {
            dense[i] = new float[tensor.Length];
            atoms.AddAtoms([i], [1f], dense[i]);
        }

        return dense;
    }

    /// <summary>Σ λ_i·atom_i over all atoms, plus the residual of spectral atoms.</summary>
    public static float[] ReconstructAll(IAtomDecomposition atoms, ReadOnlySpan<float> tensor)
    {
        int count = atoms.Coefficients.Length;
        var all = new int[count];
        for (int i = 0; i < count; i++)
        {
            all[i] = i;
        }

        var result = new float[tensor.Length];
        atoms.AddAtoms(all, atoms.Coefficients.ToArray(), result);
        if (atoms is SpectralAtoms spectral && spectral.HasResidual)
        {
            ReadOnlySpan<float> residual = spectral.Residual;
            for (int i = 0; i < result.Length; i++)
            {
                result[i] += residual[i];
            }
        }

        return result;
    }
}
