using System.IO.Hashing;
using System.Runtime.InteropServices;
using AtomoCollectives.MpiNet;

namespace AtomoCollectives.MpiNetTests;

/// <summary>
/// A short data-parallel training run on MPI.NET, the README's "Already on MPI.NET?" before and after: a linear layer
/// <c>y = W x + b</c> (W 64×48) fitted by SGD to a hidden rank-3 teacher, each rank on its own samples. First the
/// gradients are averaged the MPI.NET way (<c>comm.Allreduce(g, Operation&lt;float&gt;.Add)</c>, then ÷ N), then by
/// <see cref="AtomoAllreduce"/> (spectral atoms, budget 3) over <see cref="MpiNetCommunicator"/>. Both must cut the
/// held-out loss at least 20×, and the compressed run must compress and end with bitwise-identical replicas.
/// Prints one <c>TRAIN</c> line per run on rank 0 and exits non-zero on any failure.
/// </summary>
internal static class TrainMode
{
    private const int Rows = 64;
    private const int Columns = 48;
    private const int Batch = 32;
    private const int Steps = 150;
    private const float LearningRate = 0.3f;

    private static readonly TensorShape[] Shapes = [TensorShape.Matrix(Rows, Columns), TensorShape.Vector(Rows)];

    public static int Run()
    {
        MPI.Intracommunicator comm = MPI.Communicator.world;

        // Before: MPI.NET's own allreduce of each gradient, then ÷ N.
        Result dense = Train(comm, (gradW, gradB) =>
        {
            foreach (float[] g in new[] { gradW, gradB })
            {
                float[] sum = comm.Allreduce(g, MPI.Operation<float>.Add);
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] = sum[i] / comm.Size;
                }
            }
        });

        // After: one fused, compressed average of both tensors.
        using var world = new MpiNetCommunicator(comm);
        using var allreduce = new AtomoAllreduce(world, new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3, Seed = 1 });
        long compressed = 0;
        Result atomo = Train(comm, (gradW, gradB) =>
        {
            allreduce.Average([gradW, gradB], Shapes);
            compressed += allreduce.LastCall.CompressedTensors;
        });
        double ratio = allreduce.Statistics.CompressionRatio;

        ulong[] hashes = new ulong[world.Size];
        world.Allgather<ulong>([atomo.ParameterHash], hashes);
        bool identical = hashes.All(h => h == hashes[0]);
        bool ok = dense.Final * 20 < dense.Initial && atomo.Final * 20 < atomo.Initial && compressed > 0 && identical;
        if (comm.Rank == 0)
        {
            Console.WriteLine($"TRAIN mpinet n={comm.Size} MPI.NET Allreduce/N: held-out loss {dense.Initial:G4} -> {dense.Final:G4} in {Steps} steps");
            Console.WriteLine($"TRAIN mpinet n={comm.Size} AtomoAllreduce over MpiNetCommunicator (spectral, budget 3): held-out loss {atomo.Initial:G4} -> {atomo.Final:G4}, "
                + $"{ratio:F1}x fewer bytes than dense, {compressed} tensors compressed, replicas {(identical ? "bitwise identical" : "DIFFER")}");
            Console.WriteLine(ok ? "TRAIN passed" : "TRAIN FAILED: each run must cut the loss 20x, compress, and end identical on every rank");
        }

        return ok ? 0 : 1;
    }

    private readonly record struct Result(double Initial, double Final, ulong ParameterHash);

    private static Result Train(MPI.Intracommunicator comm, Action<float[], float[]> average)
    {
        (float[] teacherW, float[] teacherB) = Teacher();
        var w = new float[Rows * Columns];
        var b = new float[Rows];
        var gradW = new float[w.Length];
        var gradB = new float[b.Length];
        var x = new float[Columns];
        var error = new float[Rows];
        double initial = HeldOutLoss(w, b, teacherW, teacherB);
        for (int step = 0; step < Steps; step++)
        {
            Array.Clear(gradW);
            Array.Clear(gradB);
            var random = new Random((comm.Rank * 100_003) + step);   // each rank its own samples
            for (int s = 0; s < Batch; s++)
            {
                Sample(random, x);
                Residual(w, b, teacherW, teacherB, x, error);
                for (int r = 0; r < Rows; r++)
                {
                    gradB[r] += error[r] / Batch;
                    for (int c = 0; c < Columns; c++)
                    {
                        gradW[(r * Columns) + c] += error[r] * x[c] / Batch;
                    }
                }
            }

            average(gradW, gradB);
            for (int i = 0; i < w.Length; i++)
            {
                w[i] -= LearningRate * gradW[i];
            }

            for (int i = 0; i < b.Length; i++)
            {
                b[i] -= LearningRate * gradB[i];
            }
        }

        var hash = new XxHash3();
        hash.Append(MemoryMarshal.AsBytes(w.AsSpan()));
        hash.Append(MemoryMarshal.AsBytes(b.AsSpan()));
        return new Result(initial, HeldOutLoss(w, b, teacherW, teacherB), hash.GetCurrentHashAsUInt64());
    }

    /// <summary>The hidden model: a rank-3 W* and a bias, the same on every rank.</summary>
    private static (float[] W, float[] B) Teacher()
    {
        var random = new Random(7);
        var w = new float[Rows * Columns];
        for (int k = 0; k < 3; k++)
        {
            double[] u = [.. Enumerable.Range(0, Rows).Select(_ => random.NextDouble() - 0.5)];
            double[] v = [.. Enumerable.Range(0, Columns).Select(_ => random.NextDouble() - 0.5)];
            for (int i = 0; i < w.Length; i++)
            {
                w[i] += (float)(u[i / Columns] * v[i % Columns] * (3 - k));
            }
        }

        return (w, [.. Enumerable.Range(0, Rows).Select(_ => (float)(random.NextDouble() - 0.5))]);
    }

    private static void Sample(Random random, float[] x)
    {
        for (int c = 0; c < x.Length; c++)
        {
            x[c] = (float)((random.NextDouble() * 2) - 1) * 1.7f;   // variance ≈ 1
        }
    }

    /// <summary>error = (W x + b) − (W* x + b*).</summary>
    private static void Residual(float[] w, float[] b, float[] teacherW, float[] teacherB, float[] x, float[] error)
    {
        for (int r = 0; r < Rows; r++)
        {
            float e = b[r] - teacherB[r];
            for (int c = 0; c < Columns; c++)
            {
                e += (w[(r * Columns) + c] - teacherW[(r * Columns) + c]) * x[c];
            }

            error[r] = e;
        }
    }

    /// <summary>½ mean squared error on 256 samples that no rank trains on, the same on every rank.</summary>
    private static double HeldOutLoss(float[] w, float[] b, float[] teacherW, float[] teacherB)
    {
        var random = new Random(999_983);
        var x = new float[Columns];
        var error = new float[Rows];
        double loss = 0;
        for (int s = 0; s < 256; s++)
        {
            Sample(random, x);
            Residual(w, b, teacherW, teacherB, x, error);
            foreach (float e in error)
            {
                loss += 0.5 * e * e / 256;
            }
        }

        return loss;
    }
}
