using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Decompositions;

public class BlockCosineTransformTests
{
    /// <summary>Tensor lengths: shorter than a block, whole numbers of blocks and of lane groups, and every kind of tail.</summary>
    public static TheoryData<int, int> Cases => new()
    {
        { 8, 1 }, { 8, 7 }, { 8, 8 }, { 8, 64 }, { 8, 75 }, { 8, 1000 },
        { 32, 10 }, { 32, 31 }, { 32, 32 }, { 32, 74 }, { 32, 256 }, { 32, 8 * 32 * 17 }, { 32, (8 * 32 * 17) + 95 },
        { 64, 4095 }, { 256, 3000 }, { 1024, 1024 * 9 }, { 1024, 20000 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardIsTheOrthonormalDctIIOfEveryBlock(int blockLength, int n)
    {
        float[] x = TestMatrices.Gaussian(n, blockLength + n);
        var actual = new float[n];
        BlockCosineTransform.Forward(x, actual, blockLength);

        double[] expected = ReferenceForward(x, blockLength);
        double error = Distance(expected, actual);

        // Lee's network has log₂B stages whose multipliers reach B/π: each stage adds at most (1 + B/π)·ε_f relative
        // error, so ‖error‖ ≤ log₂B·(1 + B/π)·ε_f·‖x‖ (loose: the measured error is 7–90× smaller).
        Assert.True(error <= Bound(blockLength) * TestMatrices.Norm(x), $"error {error:E3}, ‖x‖ {TestMatrices.Norm(x):F2}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InverseIsTheTransposeOfForward(int blockLength, int n)
    {
        float[] c = TestMatrices.Gaussian(n, (3 * blockLength) + n);
        var actual = new float[n];
        BlockCosineTransform.Inverse(c, actual, blockLength);

        double[] expected = ReferenceInverse(c, blockLength);
        double error = Distance(expected, actual);

        // The transposed network: the same stages and multipliers, the same bound as the forward.
        Assert.True(error <= Bound(blockLength) * TestMatrices.Norm(c), $"error {error:E3}");
    }

    [Theory]
    [InlineData(8)]
    [InlineData(32)]
    [InlineData(1024)]
    public void InverseUndoesForward(int blockLength)
    {
        int n = (blockLength * 19) + 7;
        float[] x = TestMatrices.Gaussian(n, blockLength);
        var c = new float[n];
        var back = new float[n];
        BlockCosineTransform.Forward(x, c, blockLength);
        BlockCosineTransform.Inverse(c, back, blockLength);

        Assert.True(TestMatrices.Distance(x, back) <= 2 * Bound(blockLength) * TestMatrices.Norm(x));
    }

    [Fact]
    public void ABlockHasTheSameBitsInEveryLaneAndEveryPath()
    {
        // Nine blocks: the first eight run as one lane group (AVX transposes where the CPU has AVX), the ninth alone in a
        // group padded with zeros (the scalar path). A block's bits must not depend on where it runs.
        const int B = 32;
        float[] block = TestMatrices.Gaussian(B, 77);
        float[] noise = TestMatrices.Gaussian(9 * B, 78);
        for (int lane = 0; lane < 9; lane++)
        {
            float[] x = (float[])noise.Clone();
            block.CopyTo(x, lane * B);
            var forward = new float[x.Length];
            var inverse = new float[x.Length];
            BlockCosineTransform.Forward(x, forward, B);
            BlockCosineTransform.Inverse(x, inverse, B);

            var aloneForward = new float[B];
            var aloneInverse = new float[B];
            BlockCosineTransform.Forward(block, aloneForward, B);
            BlockCosineTransform.Inverse(block, aloneInverse, B);
            Assert.Equal(aloneForward, forward.AsSpan(lane * B, B).ToArray());
            Assert.Equal(aloneInverse, inverse.AsSpan(lane * B, B).ToArray());
        }
    }

    [Fact]
    public void TheBlocksCoverTheTensorInOrder()
    {
        Assert.Equal([(0, 32), (32, 32), (64, 8), (72, 2)], BlockCosineTransform.Blocks(74, 32));
        Assert.Equal([(0, 4), (4, 2), (6, 1)], BlockCosineTransform.Blocks(7, 8));
        Assert.Empty(BlockCosineTransform.Blocks(0, 8));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(2048)]
    public void ABlockLengthThatIsNotAPowerOfTwoFrom8To1024IsRefused(int blockLength)
    {
        var error = Assert.Throws<ArgumentException>(() => BlockCosineTransform.Forward(new float[16], new float[16], blockLength));
        Assert.Contains("power of two from 8 to 1024", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AtomoOptions { FourierBlockLength = blockLength == 0 ? -1 : blockLength });
    }

    [Fact]
    public void LengthsThatDifferAreRefused() =>
        Assert.Throws<ArgumentException>(() => BlockCosineTransform.Inverse(new float[16], new float[15], 8));

    private static double Bound(int blockLength) =>
        Math.Log2(blockLength) * (1 + (blockLength / Math.PI)) * TestMatrices.FloatEpsilon;

    private static double[] ReferenceForward(float[] x, int blockLength)
    {
        var c = new double[x.Length];
        foreach ((int offset, int length) in BlockCosineTransform.Blocks(x.Length, blockLength))
        {
            for (int k = 0; k < length; k++)
            {
                double sum = 0;
                for (int j = 0; j < length; j++)
                {
                    sum += x[offset + j] * Math.Cos(Math.PI * ((2 * j) + 1) * k / (2.0 * length));
                }

                c[offset + k] = sum * (k == 0 ? Math.Sqrt(1.0 / length) : Math.Sqrt(2.0 / length));
            }
        }

        return c;
    }

    private static double[] ReferenceInverse(float[] c, int blockLength)
    {
        var x = new double[c.Length];
        foreach ((int offset, int length) in BlockCosineTransform.Blocks(c.Length, blockLength))
        {
            for (int j = 0; j < length; j++)
            {
                double sum = 0;
                for (int k = 0; k < length; k++)
                {
                    sum += c[offset + k] * (k == 0 ? Math.Sqrt(1.0 / length) : Math.Sqrt(2.0 / length)) * Math.Cos(Math.PI * ((2 * j) + 1) * k / (2.0 * length));
                }

                x[offset + j] = sum;
            }
        }

        return x;
    }

    private static double Distance(double[] expected, float[] actual)
    {
        double sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = expected[i] - actual[i];
            sum += d * d;
        }

        return Math.Sqrt(sum);
    }
}
