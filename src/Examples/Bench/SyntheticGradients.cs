using System.Numerics.Tensors;

namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// How the synthetic gradients are made. Real gradients of weight matrices are approximately low-rank with a
/// decaying spectrum; uniform random full-rank data would make spectral ATOMO send its residual atom and the
/// cost rule send the tensor dense, which measures nothing useful.
/// </summary>
/// <param name="Terms">Rank-1 terms per matrix (capped at min(m, n)).</param>
/// <param name="Decay">Weight ratio between consecutive terms: term j has weight <c>Decay^j</c>.</param>
/// <param name="Noise">Frobenius norm of the added Gaussian noise relative to that of the low-rank part.</param>
/// <param name="Seed">Base seed; each (rank, tensor) draws from its own stream.</param>
internal sealed record GradientModel(int Terms = 6, double Decay = 0.5, double Noise = 0.01, ulong Seed = 2018)
{
    /// <summary>One line saying how the data were made, for the output and the CSV.</summary>
    public string Describe() =>
        $"each weight matrix (matrix view out x in*k*k) = sum of {Terms} rank-1 terms u_j v_j^T (Gaussian unit vectors) with weights {Decay.ToString(System.Globalization.CultureInfo.InvariantCulture)}^j, "
        + $"plus Gaussian noise of {(Noise * 100).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} % of its Frobenius norm; vectors (biases, BN) Gaussian; seed {Seed}, different on every rank";
}

/// <summary>Fills a gradient set with synthetic, approximately low-rank gradients (see <see cref="GradientModel"/>).</summary>
internal static class SyntheticGradients
{
    /// <summary>One freshly allocated array per tensor of <paramref name="set"/>, for <paramref name="rank"/>.</summary>
    public static float[][] Create(GradientSet set, GradientModel model, int rank)
    {
        var gradients = new float[set.Tensors.Count][];
        for (int t = 0; t < gradients.Length; t++)
        {
            gradients[t] = new float[set.Tensors[t].Shape.ElementCount];
            Fill(gradients[t], set.Tensors[t].Shape, model, RandomStreams.SyntheticGradient(model.Seed, rank, t));
        }

        return gradients;
    }

    /// <summary>Fills one tensor; deterministic in <paramref name="seed"/>.</summary>
    public static void Fill(Span<float> destination, TensorShape shape, GradientModel model, ulong seed)
    {
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        const float scale = 1e-3f;   // gradient-like magnitudes; the collectives are scale-free
        if (shape.Rank < 2 || Math.Min(shape.MatrixView.Rows, shape.MatrixView.Columns) < 2)
        {
            FillGaussian(random, destination, scale);
            return;
        }

        (int rows, int columns) = shape.MatrixView;
        int terms = Math.Min(model.Terms, Math.Min(rows, columns));
        var u = new float[rows];
        var v = new float[columns];
        double signalSquared = 0;
        destination.Clear();
        for (int j = 0; j < terms; j++)
        {
            float weight = (float)Math.Pow(model.Decay, j) * scale;
            signalSquared += (double)weight * weight;
            FillGaussian(random, u, 1f);
            FillGaussian(random, v, 1f);
            TensorPrimitives.Divide(u, TensorPrimitives.Norm(u), u);
            TensorPrimitives.Multiply(v, weight / TensorPrimitives.Norm(v), v);
            for (int i = 0; i < rows; i++)
            {
                Span<float> row = destination.Slice(i * columns, columns);
                TensorPrimitives.MultiplyAdd(v, u[i], row, row);
            }
        }

        if (model.Noise > 0)
        {
            float sigma = (float)(model.Noise * Math.Sqrt(signalSquared / ((double)rows * columns)));
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] += sigma * NextGaussian(random);
            }
        }
    }

    private static void FillGaussian(Random random, Span<float> destination, float scale)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = scale * NextGaussian(random);
        }
    }

    private static float NextGaussian(Random random)
    {
        // Box–Muller; one value per call is plenty fast for a one-off setup.
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}
