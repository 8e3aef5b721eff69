using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Tests.Decompositions;

public class LinearAlgebraProviderTests
{
    [Fact]
    public void NativeOpenBlasIsSelectedWhenInstalled()
    {
        LinearAlgebraProvider.Selection selection = LinearAlgebraProvider.Select(null, null);
        Assert.IsType<NativeOpenBlasProvider>(selection.Provider);
        Assert.Contains("OpenBLAS", selection.Provider.Name, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(LinearAlgebraProvider.ActiveProvider));
        Assert.False(string.IsNullOrWhiteSpace(LinearAlgebraProvider.SelectionReason));
    }

    [Fact]
    public void ManagedFallbackWhenTheLibraryCannotBeLoaded()
    {
        // The same inputs as ATOMO_OPENBLAS_LIBRARY=/nonexistent/libopenblas.so with ATOMO_LINEAR_ALGEBRA unset.
        LinearAlgebraProvider.Selection selection = LinearAlgebraProvider.Select(null, "/nonexistent/libopenblas.so");
        Assert.IsType<ManagedProvider>(selection.Provider);
        Assert.Contains("apt-get install libopenblas0-pthread", selection.Reason, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/libopenblas.so", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ForcingNativeWithoutTheLibraryThrowsWithTheFix()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LinearAlgebraProvider.Select("native", "/nonexistent/libopenblas.so"));
        Assert.Contains("apt-get install libopenblas0-pthread", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverrideSelectsManagedAndRejectsUnknownValues()
    {
        Assert.IsType<ManagedProvider>(LinearAlgebraProvider.Select("managed", null).Provider);
        Assert.IsType<NativeOpenBlasProvider>(LinearAlgebraProvider.Select(" Native ", null).Provider);
        Assert.Throws<InvalidOperationException>(() => LinearAlgebraProvider.Select("cuda", null));
    }

    [Theory]
    [InlineData("native")]
    [InlineData("managed")]
    public void ProvidersPassTheirOwnVerificationAndGemmTransposes(string name)
    {
        ILinearAlgebraProvider provider = LinearAlgebraProvider.Select(name, null).Provider;
        Assert.True(LinearAlgebraProvider.Verify(provider, out string error), error);

        // C = Aᵀ·Bᵀ with A 3×2, B 2×3 (both stored row-major): compare to the definition.
        float[] a = [1, 2, 3, 4, 5, 6], b = [1, -1, 2, 0.5f, 3, -2];
        var c = new float[4];
        provider.Gemm(true, true, 2, 2, 3, 1, a, 2, b, 3, 0, c, 2);
        for (int i = 0; i < 2; i++)
        {
            for (int j = 0; j < 2; j++)
            {
                float expected = 0;
                for (int p = 0; p < 3; p++)
                {
                    expected += a[(p * 2) + i] * b[(j * 3) + p];
                }

                Assert.Equal(expected, c[(i * 2) + j], 5);
            }
        }
    }

    [Theory]
    [InlineData("native")]
    [InlineData("managed")]
    public void QrOfARankDeficientMatrixIsStillOrthonormal(string name)
    {
        ILinearAlgebraProvider provider = LinearAlgebraProvider.Select(name, null).Provider;
        const int M = 9, K = 4;

        // Columns 0 and 2 equal, column 3 zero.
        float[] q = new float[M * K];
        float[] x = TestMatrices.Gaussian(2 * M, 3);
        for (int r = 0; r < M; r++)
        {
            q[(r * K) + 0] = x[r];
            q[(r * K) + 1] = x[M + r];
            q[(r * K) + 2] = x[r];
        }

        float[] original = (float[])q.Clone();
        var rFactor = new float[K * K];
        provider.QR(q, M, K, rFactor);
        for (int i = 0; i < K; i++)
        {
            for (int j = 0; j < K; j++)
            {
                double dot = 0, product = 0;
                for (int r = 0; r < M; r++)
                {
                    dot += (double)q[(r * K) + i] * q[(r * K) + j];
                }

                Assert.True(Math.Abs(dot - (i == j ? 1 : 0)) <= 8 * (M + K) * TestMatrices.FloatEpsilon, $"QᵀQ[{i},{j}] = {dot}");
                for (int r = 0; r < M && i < K; r++)
                {
                    product = 0;
                    for (int l = 0; l < K; l++)
                    {
                        product += (double)q[(r * K) + l] * rFactor[(l * K) + j];
                    }

                    Assert.True(Math.Abs(product - original[(r * K) + j]) <= 1e-5 * (1 + Math.Abs(original[(r * K) + j])) * 10);
                }
            }
        }
    }

    [Fact]
    public void PublicGemmMultipliesWithStridesAndTranspositions()
    {
        // A = [1 2; 3 4; 5 6] stored with a stride of 3 (a padding column), B = [1 0 2; 0 1 3].
        float[] a = [1, 2, -9, 3, 4, -9, 5, 6, -9];
        float[] b = [1, 0, 2, 0, 1, 3];
        float[] c = [1, 1, 1, 1, 1, 1, 1, 1, 1];
        LinearAlgebraProvider.Gemm(false, false, 3, 3, 2, 2, a, 3, b, 3, 1, c, 3);
        Assert.Equal([3, 5, 17, 7, 9, 37, 11, 13, 57], c); // 2·A·B + 1

        // Aᵀ·A = [35 44; 44 56]
        float[] gram = new float[4];
        LinearAlgebraProvider.Gemm(true, false, 2, 2, 3, 1, a, 3, a, 3, 0, gram, 2);
        Assert.Equal([35, 44, 44, 56], gram);
    }

    [Fact]
    public void PublicGemmRefusesShortSpansAndStridesWithoutWriting()
    {
        float[] c = [7, 7, 7, 7];
        var shortA = Assert.Throws<ArgumentException>(() => LinearAlgebraProvider.Gemm(false, false, 2, 2, 3, 1, new float[5], 3, new float[6], 2, 0, c, 2));
        Assert.Contains("a 2×3 matrix with row stride 3 needs 6", shortA.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearAlgebraProvider.Gemm(false, true, 2, 2, 3, 1, new float[6], 3, new float[6], 2, 0, c, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearAlgebraProvider.Gemm(false, false, -1, 2, 3, 1, new float[6], 3, new float[6], 2, 0, c, 2));
        Assert.Equal([7, 7, 7, 7], c);
    }
}
