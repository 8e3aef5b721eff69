using System.Buffers;
using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Decompositions;

/// <summary>
/// Thin QR of a tall m×k panel (k ≤ ~16) for the range finder. CholeskyQR2 in double: R₁ = chol(AᵀA), Q₁ = A·R₁⁻¹,
/// R₂ = chol(Q₁ᵀQ₁), Q = Q₁·R₂⁻¹, R = R₂·R₁ — two Gram matrices and two triangular solves, no per-call LAPACK overhead,
/// and orthogonality ‖QᵀQ − I‖ at double level as long as cond(A) ≲ 10⁶ (it is checked through the Cholesky pivots).
/// Ill-conditioned or rank-deficient panels (a zero or low-rank tensor) go to the provider's Householder QR, which
/// returns an orthonormal Q whatever the rank.
/// </summary>
internal static class ThinQR
{
    /// <summary>Pivots below this fraction of the largest Gram diagonal mean cond(A)² ≳ 10¹²: use Householder.</summary>
    private const double PivotFloor = 1e-12;

    public static void Factor(ILinearAlgebraProvider provider, Span<float> a, int m, int k, Span<float> r)
    {
        if (k > 32 || !TryCholeskyQR2(a, m, k, r))
        {
            provider.QR(a, m, k, r);
        }
    }

    private static bool TryCholeskyQR2(Span<float> a, int m, int k, Span<float> r)
    {
        double[] q = ArrayPool<double>.Shared.Rent(m * k);
        Span<double> gram = stackalloc double[k * k];
        Span<double> r1 = stackalloc double[k * k];
        Span<double> r2 = stackalloc double[k * k];
        try
        {
            Span<double> qd = q.AsSpan(0, m * k);
            for (int i = 0; i < qd.Length; i++)
            {
                qd[i] = a[i];
            }

            if (!Step(qd, m, k, gram, r1) || !Step(qd, m, k, gram, r2))
            {
                return false;
            }

            // R = R₂·R₁ (both upper triangular).
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    double sum = 0;
                    for (int l = i; l <= j; l++)
                    {
                        sum += r2[(i * k) + l] * r1[(l * k) + j];
                    }

                    r[(i * k) + j] = j >= i ? (float)sum : 0f;
                }
            }

            for (int i = 0; i < qd.Length; i++)
            {
                a[i] = (float)qd[i];
            }

            return true;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(q);
        }
    }

    /// <summary>One CholeskyQR step in place on the row-major m×k panel: R = chol(QᵀQ), Q ← Q·R⁻¹.</summary>
    private static bool Step(Span<double> q, int m, int k, Span<double> gram, Span<double> upper)
    {
        gram.Clear();
        for (int row = 0; row < m; row++)
        {
            Span<double> x = q.Slice(row * k, k);
            for (int i = 0; i < k; i++)
            {
                double xi = x[i];
                for (int j = i; j < k; j++)
                {
                    gram[(i * k) + j] += xi * x[j];
                }
            }
        }

        double largest = 0;
        for (int i = 0; i < k; i++)
        {
            largest = Math.Max(largest, gram[(i * k) + i]);
        }

        // Cholesky: gram = UᵀU, U upper.
        upper.Clear();
        for (int j = 0; j < k; j++)
        {
            double diagonal = gram[(j * k) + j];
            for (int l = 0; l < j; l++)
            {
                diagonal -= upper[(l * k) + j] * upper[(l * k) + j];
            }

            if (!(diagonal > PivotFloor * largest))
            {
                return false;
            }

            double pivot = Math.Sqrt(diagonal);
            upper[(j * k) + j] = pivot;
            for (int i = j + 1; i < k; i++)
            {
                double sum = gram[(j * k) + i];
                for (int l = 0; l < j; l++)
                {
                    sum -= upper[(l * k) + j] * upper[(l * k) + i];
                }

                upper[(j * k) + i] = sum / pivot;
            }
        }

        // Q ← Q·U⁻¹ row by row: solve y·U = x by forward substitution.
        for (int row = 0; row < m; row++)
        {
            Span<double> x = q.Slice(row * k, k);
            for (int j = 0; j < k; j++)
            {
                double sum = x[j];
                for (int l = 0; l < j; l++)
                {
                    sum -= x[l] * upper[(l * k) + j];
                }

                x[j] = sum / upper[(j * k) + j];
            }
        }

        return true;
    }
}
