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
    /// ProjectOut against a double reference: y = g·Z within the float dot-product bound γ_n·Σ|g·z|; each residual entry
    /// r = g − y·Zᵀ (with the kernel's float y) within γ_(k+1)·(|g| + Σ|y·z|); Wᵀ = Yᵀ·G (from the float y) within γ_m;
    /// the statistics equal the residual's own Σ|r|, Σr², max|r| and non-zero count (float lanes within a row: 1e-5
    /// relative). k = 3, 8 take the single-sweep path, k = 11 the blocked one.
    /// </summary>
    [Theory]
    [InlineData(9, 17, 3)]
    [InlineData(37, 70, 8)]
    [InlineData(20, 33, 11)]
    public void ProjectOutIsTheProjectionItsResidualAndThePowerIteration(int m, int n, int k)
    {
        float[] g = TestMatrices.Gaussian(m * n, 3 + m);
        float[] zt = TestMatrices.Gaussian(k * n, 4 + n);
        var y = new float[m * k];
        var residual = new float[m * n];
        var wt = new float[k * n];
        ResidualMagnitudes statistics = ThinKernels.ProjectOut(g, m, n, zt, k, y, residual, wt);
        double unit = Math.Pow(2, -24);
        double Gamma(int terms) => terms * unit / (1 - (terms * unit));
        double absolute = 0, squares = 0, largest = 0;
        int nonZero = 0;
        for (int r = 0; r < m; r++)
        {
            var yBound = new double[k];
            for (int j = 0; j < k; j++)
            {
                double exact = 0, magnitude = 0;
                for (int c = 0; c < n; c++)
                {
                    exact += (double)g[(r * n) + c] * zt[(j * n) + c];
                    magnitude += Math.Abs((double)g[(r * n) + c] * zt[(j * n) + c]);
                }

                yBound[j] = Gamma(n) * magnitude;
                Assert.True(Math.Abs(y[(r * k) + j] - exact) <= yBound[j], $"y[{r},{j}]");
            }

            for (int c = 0; c < n; c++)
            {
                double exact = g[(r * n) + c], magnitude = Math.Abs(g[(r * n) + c]);
                for (int j = 0; j < k; j++)
                {
                    exact -= (double)y[(r * k) + j] * zt[(j * n) + c];
                    magnitude += Math.Abs((double)y[(r * k) + j] * zt[(j * n) + c]);
                }

                float value = residual[(r * n) + c];
                Assert.True(Math.Abs(value - exact) <= (Gamma(k + 1) * magnitude) + 1e-30, $"r[{r},{c}]: {value} vs {exact}");
                absolute += Math.Abs(value);
                squares += (double)value * value;
                largest = Math.Max(largest, Math.Abs(value));
                nonZero += value != 0 ? 1 : 0;
            }
        }

        Assert.True(Math.Abs(statistics.AbsoluteSum - absolute) <= 1e-5 * absolute);
        Assert.True(Math.Abs(statistics.SquareSum - squares) <= 1e-5 * squares);
        Assert.Equal((float)largest, statistics.Max);
        Assert.Equal(nonZero, statistics.NonZeroCount);
        AssertWithinDotProductBound(g, y, m, n, k, m, j => wt[j]);

        // Without a residual the pass forms y and W only, and reports no residual.
        var w2 = new float[k * n];
        Assert.Equal(ResidualMagnitudes.None, ThinKernels.ProjectOut(g, m, n, zt, k, y, default, w2));
        Assert.Equal(wt, w2);
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
