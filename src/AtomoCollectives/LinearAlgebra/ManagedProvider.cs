using System.Buffers;
using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;

namespace AtomoCollectives.LinearAlgebra;

/// <summary>
/// The fallback when OpenBLAS is missing: MathNet.Numerics (managed) for the SVD, a Householder QR in double and a
/// vectorised GEMM written here. Slower than OpenBLAS for large SVDs, same results to float rounding.
/// </summary>
internal sealed class ManagedProvider : ILinearAlgebraProvider
{
    internal static readonly ManagedProvider Instance = new();

    private ManagedProvider()
    {
    }

    public string Name => $"managed (MathNet.Numerics {typeof(Matrix<float>).Assembly.GetName().Version})";

    public void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        float[]? packed = null;
        ReadOnlySpan<float> bRows = b;
        int bStride = ldb;
        if (transposeB)
        {
            // op(B) = Bᵀ with B stored n×k: pack op(B) as k×n rows so the inner loop is a contiguous axpy.
            packed = ArrayPool<float>.Shared.Rent(k * n);
            for (int p = 0; p < k; p++)
            {
                for (int j = 0; j < n; j++)
                {
                    packed[(p * n) + j] = b[(j * ldb) + p];
                }
            }

            bRows = packed;
            bStride = n;
        }

        try
        {
            for (int i = 0; i < m; i++)
            {
                Span<float> row = c.Slice(i * ldc, n);
                if (beta == 0)
                {
                    row.Clear();
                }
                else if (beta != 1)
                {
                    TensorPrimitives.Multiply(row, beta, row);
                }

                for (int p = 0; p < k; p++)
                {
                    float aip = alpha * (transposeA ? a[(p * lda) + i] : a[(i * lda) + p]);
                    if (aip != 0)
                    {
                        TensorPrimitives.MultiplyAdd(bRows.Slice(p * bStride, n), aip, row, row);
                    }
                }
            }
        }
        finally
        {
            if (packed is not null)
            {
                ArrayPool<float>.Shared.Return(packed);
            }
        }
    }

    public void QR(Span<float> matrix, int rows, int columns, Span<float> r)
    {
        // Householder in double on a column-major copy. A zero (or already eliminated) column gets the identity
        // reflector, so Q stays orthonormal for rank-deficient input.
        int m = rows, k = columns;
        double[] work = ArrayPool<double>.Shared.Rent(m * k);
        double[] q = ArrayPool<double>.Shared.Rent(m * k);
        double[] scales = ArrayPool<double>.Shared.Rent(k);
        try
        {
            Span<double> v = work.AsSpan(0, m * k);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    v[(j * m) + i] = matrix[(i * k) + j];
                }
            }

            r[..(k * k)].Clear();
            for (int j = 0; j < k; j++)
            {
                Span<double> x = v.Slice((j * m) + j, m - j);
                double norm = Math.Sqrt(TensorPrimitives.Dot<double>(x, x));
                if (norm == 0)
                {
                    // Identity reflector: row j of R is what the earlier reflectors left in row j.
                    scales[j] = 0;
                    for (int l = j + 1; l < k; l++)
                    {
                        r[(j * k) + l] = (float)v[(l * m) + j];
                    }

                    continue;
                }

                double alpha = x[0] >= 0 ? -norm : norm;
                x[0] -= alpha;
                double vv = TensorPrimitives.Dot<double>(x, x);
                scales[j] = 2 / vv;
                r[(j * k) + j] = (float)alpha;
                for (int l = j + 1; l < k; l++)
                {
                    Span<double> y = v.Slice((l * m) + j, m - j);
                    double f = scales[j] * TensorPrimitives.Dot<double>(x, y);
                    TensorPrimitives.MultiplyAdd(x, -f, y, y);
                    r[(j * k) + l] = (float)y[0];
                }
            }

            // Q = H_0 … H_{k−1} · I[:, :k], column-major.
            Span<double> qs = q.AsSpan(0, m * k);
            qs.Clear();
            for (int j = 0; j < k; j++)
            {
                qs[(j * m) + j] = 1;
            }

            for (int j = k - 1; j >= 0; j--)
            {
                if (scales[j] == 0)
                {
                    continue;
                }

                ReadOnlySpan<double> x = v.Slice((j * m) + j, m - j);
                for (int l = 0; l < k; l++)
                {
                    Span<double> y = qs.Slice((l * m) + j, m - j);
                    double f = scales[j] * TensorPrimitives.Dot(x, (ReadOnlySpan<double>)y);
                    TensorPrimitives.MultiplyAdd(x, -f, y, y);
                }
            }

            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    matrix[(i * k) + j] = (float)qs[(j * m) + i];
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(work);
            ArrayPool<double>.Shared.Return(q);
            ArrayPool<double>.Shared.Return(scales);
        }
    }

    public void Svd(ReadOnlySpan<float> a, int rows, int columns, Span<float> s, Span<float> u, Span<float> vt)
    {
        int p = Math.Min(rows, columns);
        if (p == 0)
        {
            return;
        }

        // The row-major rows×columns buffer is the column-major columns×rows Aᵀ = U'ΣV'ᵀ, so A = V'ΣU'ᵀ.
        var transposed = Matrix<float>.Build.Dense(columns, rows, a.ToArray());
        var svd = transposed.Svd(computeVectors: true);
        for (int i = 0; i < p; i++)
        {
            s[i] = svd.S[i];
        }

        Matrix<float> left = svd.VT; // rows×rows: row i of V'ᵀ is the i-th left singular vector of A.
        Matrix<float> right = svd.U; // columns×columns: column i of U' is the i-th right singular vector of A.
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < p; i++)
            {
                u[(r * p) + i] = left[i, r];
            }
        }

        for (int i = 0; i < p; i++)
        {
            for (int c = 0; c < columns; c++)
            {
                vt[(i * columns) + c] = right[c, i];
            }
        }
    }
}
