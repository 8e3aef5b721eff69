using System.Buffers;

namespace AtomoCollectives.LinearAlgebra;

/// <summary>
/// OpenBLAS and its LAPACK through P/Invoke. LAPACK is column-major: a row-major m×n matrix is handed over as the
/// column-major n×m matrix it already is in memory, so nothing is transposed: the SVD of that transpose gives U and Vᵀ
/// of the row-major matrix swapped (its Vᵀ buffer is the row-major U, its U buffer the row-major Vᵀ), and the LQ
/// factorisation of it is the QR of the row-major matrix.
/// </summary>
internal sealed unsafe class NativeOpenBlasProvider : ILinearAlgebraProvider
{
    private NativeOpenBlasProvider(string name) => Name = name;

    public string Name { get; }

    /// <summary>Loads the library (<paramref name="path"/> or the system default), sets one OpenBLAS thread, and returns a provider.</summary>
    internal static NativeOpenBlasProvider? TryCreate(string? path, out string error)
    {
        if (!Interop.OpenBlasLibrary.TryLoad(path, out error))
        {
            return null;
        }

        // Parallelism comes from .NET across tensors; OpenBLAS threads would oversubscribe the cores.
        Interop.openblas_set_num_threads(1);
        return new NativeOpenBlasProvider($"native (OpenBLAS, {(string.IsNullOrEmpty(path) ? Interop.Libraries.OpenBlasDefaultFile : path)})");
    }

    public void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            Interop.cblas_sgemm(Interop.CblasRowMajor, transposeA ? Interop.CblasTrans : Interop.CblasNoTrans, transposeB ? Interop.CblasTrans : Interop.CblasNoTrans,
                m, n, k, alpha, pa, Math.Max(1, lda), pb, Math.Max(1, ldb), beta, pc, Math.Max(1, ldc));
        }
    }

    public void QR(Span<float> matrix, int rows, int columns, Span<float> r)
    {
        // Row-major rows×columns = column-major columns×rows = Aᵀ. Aᵀ = L·Q̃ (LQ), so A = Q̃ᵀ·Lᵀ: Q̃ in place is the
        // row-major Q and Lᵀ is R.
        if (columns == 0)
        {
            return;
        }

        int m = columns, n = rows, lda = columns, info = 0, lwork = -1, kk = columns;
        float query = 0;
        float[] tau = ArrayPool<float>.Shared.Rent(columns);
        try
        {
            fixed (float* pa = matrix)
            fixed (float* ptau = tau)
            {
                Interop.sgelqf_(&m, &n, pa, &lda, ptau, &query, &lwork, &info);
                Check("sgelqf_", info);
                lwork = Math.Max(1, (int)query);
                float[] work = ArrayPool<float>.Shared.Rent(lwork);
                try
                {
                    fixed (float* pw = work)
                    {
                        Interop.sgelqf_(&m, &n, pa, &lda, ptau, pw, &lwork, &info);
                        Check("sgelqf_", info);

                        // L is lower-triangular in the column-major Aᵀ: L[i,j] at i + j·lda, j ≤ i; R = Lᵀ.
                        for (int i = 0; i < columns; i++)
                        {
                            for (int j = 0; j < columns; j++)
                            {
                                r[(j * columns) + i] = j <= i ? matrix[i + (j * lda)] : 0f;
                            }
                        }

                        int queryWork = -1;
                        Interop.sorglq_(&m, &n, &kk, pa, &lda, ptau, &query, &queryWork, &info);
                        Check("sorglq_", info);
                        int need = Math.Max(1, (int)query);
                        if (need > work.Length)
                        {
                            ArrayPool<float>.Shared.Return(work);
                            work = ArrayPool<float>.Shared.Rent(need);
                        }

                        lwork = work.Length;
                        fixed (float* pw2 = work)
                        {
                            Interop.sorglq_(&m, &n, &kk, pa, &lda, ptau, pw2, &lwork, &info);
                        }

                        Check("sorglq_", info);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(work);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tau);
        }
    }

    public void Svd(ReadOnlySpan<float> a, int rows, int columns, Span<float> s, Span<float> u, Span<float> vt)
    {
        int p = Math.Min(rows, columns);
        if (p == 0)
        {
            return;
        }

        // Column-major n×m view of the row-major m×n input: LAPACK m' = columns, n' = rows.
        int m = columns, n = rows, lda = columns, ldu = columns, ldvt = p, info = 0, lwork = -1;
        float[] copy = ArrayPool<float>.Shared.Rent(a.Length);
        int[] iwork = ArrayPool<int>.Shared.Rent(8 * p);
        byte jobz = (byte)'S';
        float query = 0;
        try
        {
            a.CopyTo(copy);
            fixed (float* pa = copy)
            fixed (float* ps = s)
            fixed (float* pu = u)
            fixed (float* pvt = vt)
            fixed (int* piw = iwork)
            {
                // LAPACK's U (columns×p, column-major) is the row-major p×columns Vᵀ; its Vᵀ (p×rows, column-major)
                // is the row-major rows×p U.
                Interop.sgesdd_(&jobz, &m, &n, pa, &lda, ps, pvt, &ldu, pu, &ldvt, &query, &lwork, piw, &info, 1);
                Check("sgesdd_", info);
                lwork = Math.Max(1, (int)query + 1);
                float[] work = ArrayPool<float>.Shared.Rent(lwork);
                try
                {
                    fixed (float* pw = work)
                    {
                        Interop.sgesdd_(&jobz, &m, &n, pa, &lda, ps, pvt, &ldu, pu, &ldvt, pw, &lwork, piw, &info, 1);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(work);
                }

                Check("sgesdd_", info);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(copy);
            ArrayPool<int>.Shared.Return(iwork);
        }
    }

    private static void Check(string routine, int info)
    {
        if (info != 0)
        {
            throw new InvalidOperationException($"OpenBLAS {routine} failed with info = {info}.");
        }
    }
}
