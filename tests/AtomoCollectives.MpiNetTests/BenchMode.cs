using System.Diagnostics;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using AtomoCollectives.MpiNet;

namespace AtomoCollectives.MpiNetTests;

/// <summary>
/// One averaging step of the ResNet-18 gradient set (11,689,512 floats in 62 tensors, the shapes of Examples'
/// <c>bench --sets resnet18</c>) through three transports in the same job, interleaved step by step so that they share
/// the machine's state: the library's own MPI transport on <c>MPI_COMM_WORLD</c>, <see cref="MpiNetCommunicator"/> on
/// <c>MPI.Communicator.world</c>, and <see cref="MpiNetArrayCommunicator"/> (MPI.NET's public array collectives). Each
/// averager is dense (one fused <c>MPI_Allreduce</c>) and spectral ATOMO, budget 3. Rank 0 prints the median step time
/// of each and checks that all three gave the same bits.
/// </summary>
internal static class BenchMode
{
    public static int Run(int steps)
    {
        MPI.Intracommunicator mpiWorld = MPI.Communicator.world;
        using var mpinet = new MpiNetCommunicator(mpiWorld);
        nint library = NativeLibrary.Load(MpiNetLibrary.LibraryPath!);   // the library MPI.NET was bound to (same handle)
        var flavor = new MpichFlavor(library);
        using var ours = new MpiCommunicator(flavor, flavor.CommWorld);
        using var arrays = new MpiNetArrayCommunicator(mpiWorld);
        (string Name, ICommunicator Comm)[] transports = [("mpi", ours), ("mpinet", mpinet), ("mpinet-arrays", arrays)];

        TensorShape[] shapes = ResNet18();
        long parameters = shapes.Sum(s => (long)s.ElementCount);
        var random = new Random(1 + mpinet.Rank);
        float[][] gradients = [.. shapes.Select(s => Enumerable.Range(0, s.ElementCount).Select(_ => (float)((random.NextDouble() - 0.5) * 1e-2)).ToArray())];
        float[][] work = [.. gradients.Select(g => new float[g.Length])];
        Memory<float>[] tensors = [.. work.Select(w => (Memory<float>)w)];
        if (mpinet.Rank == 0)
        {
            Console.WriteLine($"BENCH resnet18: {shapes.Length} tensors, {parameters:N0} floats ({parameters * 4 / 1e6:F1} MB), n={mpinet.Size}, {steps} timed steps after 2 warm-up steps, median ms per step (rank 0)");
        }

        bool identical = true;
        foreach (string kind in new[] { "dense", "atomo-spectral-s3" })
        {
            IGradientAverager[] averagers = [.. transports.Select(t => Create(kind, t.Comm))];
            var times = transports.Select(_ => new List<double>()).ToArray();
            for (int step = 0; step < steps + 2; step++)
            {
                ulong? reference = null;
                for (int i = 0; i < transports.Length; i++)
                {
                    int t = (i + step) % transports.Length;   // rotate who goes first
                    for (int g = 0; g < gradients.Length; g++)
                    {
                        gradients[g].CopyTo(work[g], 0);
                    }

                    mpinet.Barrier();
                    long start = Stopwatch.GetTimestamp();
                    averagers[t].Average(tensors, shapes);
                    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (step >= 2)
                    {
                        times[t].Add(ms);
                    }

                    ulong hash = Hash(work);
                    identical &= (reference ??= hash) == hash;
                }
            }

            foreach (IGradientAverager averager in averagers)
            {
                averager.Dispose();
            }

            if (mpinet.Rank == 0)
            {
                double baseline = Median(times[0]);
                string row = string.Join(", ", transports.Select((tr, i) => $"{tr.Name} {Median(times[i]):F1} ms ({Median(times[i]) / baseline:F2}x)"));
                Console.WriteLine($"BENCH resnet18 {kind}: {row}");
            }
        }

        bool everywhere = mpiWorld.Allreduce(identical ? 1 : 0, MPI.Operation<int>.Min) == 1;
        if (mpinet.Rank == 0)
        {
            Console.WriteLine(everywhere ? "BENCH the three transports gave bitwise-identical averages at every step" : "BENCH FAILED: the transports' averages differ");
        }

        return everywhere ? 0 : 1;
    }

    private static IGradientAverager Create(string kind, ICommunicator comm) => kind == "dense"
        ? new DenseAllreduce(comm)
        : new AtomoAllreduce(comm, new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3, Seed = 1 });

    private static double Median(List<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static ulong Hash(float[][] tensors)
    {
        var hash = new XxHash3();
        foreach (float[] tensor in tensors)
        {
            hash.Append(MemoryMarshal.AsBytes(tensor.AsSpan()));
        }

        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>torchvision's ResNet-18 for ImageNet, in the order of Examples' GradientSets.ResNet18 (11,689,512 floats).</summary>
    private static TensorShape[] ResNet18()
    {
        var shapes = new List<TensorShape>();
        void ConvAndBatchNorm(int output, int input, int kernel)
        {
            shapes.Add(TensorShape.Of(output, input, kernel, kernel));
            shapes.Add(TensorShape.Vector(output));
            shapes.Add(TensorShape.Vector(output));
        }

        ConvAndBatchNorm(64, 3, 7);
        int inputs = 64;
        foreach (int width in new[] { 64, 128, 256, 512 })
        {
            for (int block = 0; block < 2; block++)
            {
                int blockInputs = block == 0 ? inputs : width;
                ConvAndBatchNorm(width, blockInputs, 3);
                ConvAndBatchNorm(width, width, 3);
                if (block == 0 && blockInputs != width)
                {
                    ConvAndBatchNorm(width, blockInputs, 1);
                }
            }

            inputs = width;
        }

        shapes.Add(TensorShape.Matrix(1000, 512));
        shapes.Add(TensorShape.Vector(1000));
        long total = shapes.Sum(s => (long)s.ElementCount);
        return total == 11_689_512 ? [.. shapes] : throw new InvalidOperationException($"ResNet-18 has 11,689,512 parameters, these shapes {total}");
    }
}
