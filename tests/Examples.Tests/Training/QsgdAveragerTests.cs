using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Training;

namespace AtomoCollectives.Examples.Tests.Training;

public sealed class QsgdAveragerTests
{
    private static float[] Gradient(int rank, int length)
    {
        var random = new Random(100 + rank);
        return [.. Enumerable.Range(0, length).Select(i => (float)((random.NextDouble() - 0.5) * (1 + (i % 7))))];
    }

    private static ParameterStore Store(float[] gradient)
    {
        var store = new ParameterStore();
        store.Declare("w.weight", TensorShape.Matrix(20, gradient.Length / 20));
        store.Allocate(1);
        gradient.CopyTo(store.Gradients, 0);
        return store;
    }

    [Fact]
    public void AtFifteenBitsTheAverageIsTheMeanWithinOneLevelAndTheSameOnEveryRank()
    {
        const int length = 1000;
        float[][] results = InProcessCluster.Run(2, world =>
        {
            ParameterStore store = Store(Gradient(world.Rank, length));
            using var averager = new QsgdAverager(world, bits: 15, bucketSize: 512, seed: 3);
            averager.Average(store.GradientTensors, store.Shapes);
            return store.Gradients;
        });

        Assert.Equal(results[0], results[1]); // bitwise
        float[] g0 = Gradient(0, length), g1 = Gradient(1, length);
        for (int i = 0; i < length; i++)
        {
            // Each rank's estimate is within one level ‖bucket‖/(2^15 − 1) of its value; the buckets' norms are below 60.
            Assert.InRange(results[0][i], ((g0[i] + g1[i]) / 2) - (60f / 32767), ((g0[i] + g1[i]) / 2) + (60f / 32767));
        }
    }

    [Fact]
    public void TwoBitAveragesAreUnbiasedWithTheExactVariance()
    {
        const int length = 1000, draws = 400;
        float[] g0 = Gradient(0, length), g1 = Gradient(1, length);
        var quantizer = new QsgdQuantizer(2, 512);
        double variance = (quantizer.Variance(g0) + quantizer.Variance(g1)) / 4; // E‖average − mean‖² for one call
        double[][] sums = InProcessCluster.Run(2, world =>
        {
            float[] mine = world.Rank == 0 ? g0 : g1;
            ParameterStore store = Store(mine);
            using var averager = new QsgdAverager(world, bits: 2, bucketSize: 512, seed: 11);
            var sum = new double[length];
            for (int draw = 0; draw < draws; draw++)
            {
                mine.CopyTo(store.Gradients, 0);
                averager.Average(store.GradientTensors, store.Shapes); // each call is a new step: fresh, independent rounding
                for (int i = 0; i < length; i++)
                {
                    sum[i] += store.Gradients[i];
                }
            }

            return sum;
        });

        double squaredError = Enumerable.Range(0, length).Sum(i => Math.Pow((sums[0][i] / draws) - ((g0[i] + g1[i]) / 2.0), 2));

        // E‖mean of draws − mean‖² = variance/draws exactly when unbiased. It is a sum over 1,000 independent entries,
        // so its relative standard deviation is about √(2/1000) ≈ 4.5 % (less with unequal terms): ±35 % is over 7 σ.
        // A bias would add ‖bias‖² on top, independent of the number of draws.
        Assert.InRange(squaredError, 0.65 * variance / draws, 1.35 * variance / draws);
        Assert.Equal(sums[0], sums[1]);
    }
}
