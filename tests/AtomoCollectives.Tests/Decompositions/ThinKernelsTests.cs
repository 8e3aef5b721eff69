using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Decompositions;

public class ThinKernelsTests
{
    /// <summary>
    /// <c>Pᵀ·G</c> against a double reference, entry by entry, within the standard bound for a float dot product of
    /// m terms: |error| ≤ γ_m·Σ_r|p_rj·g_rc| with γ_m = m·ε_f/(1 − m·ε_f) (ε_f = 2⁻²⁴). Shapes cover row counts around
    /// the 8-row tile, widths around the 16-column strip (scalar tail columns included) and k around the group of 4.
    /// The k×n destination is overwritten whatever it held; nothing past it is written.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 2)]
    [InlineData(8, 16, 4)]
    [InlineData(9, 17, 5)]
    [InlineData(33, 47, 7)]
    [InlineData(64, 576, 7)]
    [InlineData(17, 130, 12)]
    [InlineData(130, 40, 3)]
    public void TransposeMultiplyMatchesTheDoubleProduct(int m, int n, int k)
    {
        float[] g = TestMatrices.Gaussian(m * n, 11 + m);
        float[] p = TestMatrices.Gaussian(m * k, 29 + n);
        float[] wt = new float[(k * n) + 3];
        wt.AsSpan().Fill(float.NaN);

        ThinKernels.TransposeMultiply(g, m, n, p, k, wt.AsSpan(0, k * n));

        AssertWithinDotProductBound(g, p, m, n, k, m, j => wt[j]);
        Assert.All(wt[(k * n)..], value => Assert.True(float.IsNaN(value), "wrote past k×n"));
    }

    /// <summary>
    /// The accurate variant sums float partial products over blocks of 64 rows and adds the blocks in double: each entry
    /// is within γ_min(m,64)·Σ|p·g| of the exact product (plus double roundings, far smaller).
    /// </summary>
    [Theory]
    [InlineData(9, 17, 5)]
    [InlineData(200, 47, 7)]
    [InlineData(130, 130, 12)]
    public void TransposeMultiplyAccurateHasTheErrorOfA64TermSum(int m, int n, int k)
    {
        float[] g = TestMatrices.Gaussian(m * n, 5 + m);
        float[] p = TestMatrices.Gaussian(m * k, 7 + n);
        var wtd = new double[k * n];
        var scratch = new float[k * n];

        ThinKernels.TransposeMultiplyAccurate(g, m, n, p, k, wtd, scratch);

        AssertWithinDotProductBound(g, p, m, n, k, Math.Min(m, 64), j => wtd[j]);
    }

    private static void AssertWithinDotProductBound(float[] g, float[] p, int m, int n, int k, int terms, Func<int, double> actual)
    {
        double unit = Math.Pow(2, -24);
        double gamma = terms * unit / (1 - (terms * unit));
        for (int j = 0; j < k; j++)
        {
            for (int c = 0; c < n; c++)
            {
                double exact = 0, magnitude = 0;
                for (int r = 0; r < m; r++)
                {
                    double term = (double)p[(r * k) + j] * g[(r * n) + c];
                    exact += term;
                    magnitude += Math.Abs(term);
                }

                double error = Math.Abs(actual((j * n) + c) - exact);
                Assert.True(error <= gamma * magnitude, $"entry ({j}, {c}) of {m}×{n}, k = {k}: error {error:E3} > γ·Σ|p·g| = {gamma * magnitude:E3}");
            }
        }
    }
}
