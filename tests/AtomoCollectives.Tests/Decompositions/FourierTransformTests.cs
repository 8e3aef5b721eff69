using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Decompositions;

public class FourierTransformTests
{
    public static TheoryData<int> Lengths => [1, 2, 3, 4, 5, 7, 8, 16, 17, 31, 64, 97, 100, 128, 243, 1000, 1024, 4099];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ForwardMatchesTheDefinitionOfTheOrthonormalDctII(int n)
    {
        float[] x = TestMatrices.Gaussian(n, 11 + n);
        var actual = new float[n];
        FourierTransform.Forward(x, actual);

        // The definition in double, O(n²): c_k = s_k Σ x_j cos(π(2j+1)k/2n).
        int checkedCount = Math.Min(n, 64);
        double maxError = 0;
        for (int k = 0; k < checkedCount; k++)
        {
            int index = (int)((long)k * (n - 1) / Math.Max(1, checkedCount - 1));
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += x[j] * Math.Cos(Math.PI * ((2 * j) + 1) * index / (2.0 * n));
            }

            sum *= index == 0 ? Math.Sqrt(1.0 / n) : Math.Sqrt(2.0 / n);
            maxError = Math.Max(maxError, Math.Abs(sum - actual[index]));
        }

        // Double FFT error is ~1e-15·log n·‖x‖; the float output rounding is ≤ ε_f·|c_k| ≤ ε_f·‖x‖ (orthonormal: |c_k| ≤ ‖x‖).
        Assert.True(maxError <= 2 * TestMatrices.FloatEpsilon * TestMatrices.Norm(x), $"max error {maxError}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void InverseUndoesForward(int n)
    {
        float[] x = TestMatrices.Gaussian(n, 5 + n);
        var c = new float[n];
        var back = new float[n];
        FourierTransform.Forward(x, c);
        FourierTransform.Inverse(c, back);

        // Two float roundings of orthonormal maps: ‖error‖ ≤ 2·ε_f·‖x‖ plus double FFT error; 1e-5 relative is the brief's bound.
        Assert.True(TestMatrices.Distance(x, back) <= 1e-5 * TestMatrices.Norm(x));
        Assert.InRange(TestMatrices.Norm(c), TestMatrices.Norm(x) * (1 - 1e-6), TestMatrices.Norm(x) * (1 + 1e-6));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(13)]
    [InlineData(32)]
    [InlineData(45)]
    public void AtomsAreOrthonormal(int n)
    {
        var atoms = new FourierAtoms();
        float[] x = TestMatrices.Gaussian(n, n);
        atoms.Decompose(x, TensorShape.Vector(n), new AtomoOptions { Decomposition = Decomposition.Fourier }, 0);
        float[][] dense = TestMatrices.DenseAtoms(atoms, x);

        // Each atom is a float rounding of an exact unit vector: |⟨a_i, a_j⟩ − δ_ij| ≤ 2ε_f + ε_f² plus ~1e-15 of double FFT error; bound 4ε_f.
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                Assert.True(Math.Abs(TestMatrices.Dot(dense[i], dense[j]) - (i == j ? 1 : 0)) <= 4 * TestMatrices.FloatEpsilon, $"<{i},{j}>");
            }
        }
    }

    [Theory]
    [InlineData(1, 50)]
    [InlineData(50, 1)]
    [InlineData(30, 7)]
    [InlineData(7, 30)]
    [InlineData(20, 10)]
    public void AtomsReconstructTheTensor(int rows, int columns)
    {
        float[] g = TestMatrices.Gaussian(rows * columns, rows + (7 * columns));
        var atoms = new FourierAtoms();
        atoms.Decompose(g, TensorShape.Matrix(rows, columns), new AtomoOptions { Decomposition = Decomposition.Fourier }, 0);
        float[] back = TestMatrices.ReconstructAll(atoms, g);
        Assert.True(TestMatrices.Distance(g, back) <= 1e-5 * TestMatrices.Norm(g));
    }

    [Fact]
    public void ZeroTensorHasZeroCoefficients()
    {
        var g = new float[37];
        var atoms = new FourierAtoms();
        atoms.Decompose(g, TensorShape.Vector(37), new AtomoOptions { Decomposition = Decomposition.Fourier }, 0);
        Assert.All(atoms.Coefficients.ToArray(), c => Assert.Equal(0f, c));
    }
}
