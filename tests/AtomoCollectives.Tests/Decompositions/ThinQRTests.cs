using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Decompositions;

public class ThinQRTests
{
    /// <summary>
    /// Full-rank and rank-deficient panels both give QᵀQ = I within 8(m+k)·ε_f (float rounding of a double-accurate Q) and Q·R = A within 1e-5 relative.
    /// </summary>
    [Theory]
    [InlineData(300, 7, false, "native")]
    [InlineData(300, 7, true, "native")]
    [InlineData(50, 9, false, "managed")]
    [InlineData(50, 9, true, "managed")]
    [InlineData(8, 8, false, "managed")]
    public void FactorIsOrthonormalAndReproducesThePanel(int m, int k, bool rankDeficient, string provider)
    {
        float[] a = TestMatrices.Gaussian(m * k, m + k);
        if (rankDeficient)
        {
            for (int row = 0; row < m; row++)
            {
                a[(row * k) + 1] = 2 * a[row * k];
                a[(row * k) + k - 1] = 0;
            }
        }

        float[] q = (float[])a.Clone();
        var r = new float[k * k];
        ThinQR.Factor(AtomoCollectives.LinearAlgebraProvider.Select(provider, null).Provider, q, m, k, r);
        double norm = TestMatrices.Norm(a);
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < k; j++)
            {
                double dot = 0;
                for (int row = 0; row < m; row++)
                {
                    dot += (double)q[(row * k) + i] * q[(row * k) + j];
                }

                Assert.True(Math.Abs(dot - (i == j ? 1 : 0)) <= 8 * (m + k) * TestMatrices.FloatEpsilon, $"QᵀQ[{i},{j}] = {dot}");
            }
        }

        var product = new float[m * k];
        for (int row = 0; row < m; row++)
        {
            for (int j = 0; j < k; j++)
            {
                double sum = 0;
                for (int l = 0; l < k; l++)
                {
                    sum += (double)q[(row * k) + l] * r[(l * k) + j];
                }

                product[(row * k) + j] = (float)sum;
            }
        }

        Assert.True(TestMatrices.Distance(product, a) <= 1e-5 * norm);
    }
}
