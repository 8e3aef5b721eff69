namespace AtomoCollectives.LinearAlgebra;

/// <summary>
/// The dense linear algebra the decompositions need, on row-major float spans. Implementations are
/// thread-safe and allocate only workspaces (pooled).
/// </summary>
internal interface ILinearAlgebraProvider
{
    /// <summary>A short name for logs and statistics ("native (OpenBLAS …)" or "managed (MathNet.Numerics …)").</summary>
    string Name { get; }

    /// <summary>
    /// <c>C = alpha·op(A)·op(B) + beta·C</c>, row-major, op(A) m×k, op(B) k×n, C m×n;
    /// <paramref name="lda"/>, <paramref name="ldb"/>, <paramref name="ldc"/> are row strides of the stored matrices.
    /// </summary>
    void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);

    /// <summary>
    /// Thin QR of the row-major <paramref name="rows"/>×<paramref name="columns"/> matrix in <paramref name="matrix"/>
    /// (rows ≥ columns): overwrites it with Q (orthonormal columns, also when the input is rank-deficient or zero)
    /// and writes the upper-triangular R (columns×columns, row-major) to <paramref name="r"/>.
    /// </summary>
    void QR(Span<float> matrix, int rows, int columns, Span<float> r);

    /// <summary>
    /// Thin SVD of the row-major <paramref name="rows"/>×<paramref name="columns"/> matrix <paramref name="a"/>, with
    /// <c>p = min(rows, columns)</c>: singular values descending in <paramref name="s"/> (p), left vectors in
    /// <paramref name="u"/> (rows×p row-major, column i = u_i), right vectors in <paramref name="vt"/> (p×columns
    /// row-major, row i = v_i). <paramref name="a"/> is not modified.
    /// </summary>
    void Svd(ReadOnlySpan<float> a, int rows, int columns, Span<float> s, Span<float> u, Span<float> vt);
}
