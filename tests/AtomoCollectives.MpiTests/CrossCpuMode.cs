using System.IO.Hashing;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using AtomoCollectives.Tests.Collectives;

namespace AtomoCollectives.MpiTests;

/// <summary>
/// <c>cross-cpu</c> mode (docs/determinism.md): launched as MPMD with each rank given another instruction set
/// (<c>DOTNET_EnableAVX512F=0</c>, <c>DOTNET_EnableAVX2=0</c>, <c>DOTNET_EnableHWIntrinsic=0</c>, another
/// <c>OPENBLAS_CORETYPE</c>), every rank averages the same fused set with each basis over several calls, hashes its
/// results, and compares the hash with every other rank's. Rank 0 prints each rank's instruction sets and native
/// libraries, then one PASS/FAIL line per basis; the exit code is non-zero on any difference.
/// </summary>
internal static class CrossCpuMode
{
    private const int Calls = 4;

    // A conv layer's view (64×147), a matrix, a 4-D conv weight, an odd-length matrix (Fourier's odd path, spectral's
    // small side) and a prime-length one (FFTW's generic path).
    private static readonly TensorShape[] Shapes = [TensorShape.Matrix(64, 147), TensorShape.Matrix(256, 128), TensorShape.Of(32, 16, 3, 3), TensorShape.Matrix(45, 33), TensorShape.Matrix(1, 4099)];

    /// <summary>Each basis and decode kernel: Fourier atoms on blocks (our kernel) and on the whole tensor (FFTW or managed).</summary>
    private static readonly (string Name, Decomposition Basis, int FourierBlockLength)[] Bases =
    [
        ("coordinate", Decomposition.Coordinate, 0), ("spectral", Decomposition.Spectral, 0),
        ("fourier", Decomposition.Fourier, new AtomoOptions().FourierBlockLength), ("fourier-whole-tensor", Decomposition.Fourier, 0),
    ];

    public static int Run()
    {
        using MpiEnvironment mpi = MpiEnvironment.Initialize();
        ICommunicator world = mpi.World;
        string label = $"{ContractRunner.Flavor(mpi)} n={world.Size}";
        PrintFromRank0(world, $"rank {world.Rank}: {Describe()}");
        if (world.Rank == 0)
        {
            Console.WriteLine($"PLAN {Bases.Length} cross-cpu {label}");
        }

        int failures = 0;
        foreach ((string name, Decomposition basis, int fourierBlockLength) in Bases)
        {
            var options = new AtomoOptions
            {
                Decomposition = basis,
                FourierBlockLength = fourierBlockLength,
                Budget = basis == Decomposition.Spectral ? 3 : 10,
                BucketSize = basis == Decomposition.Spectral ? 0 : 512,
                MinimumCompressedElements = 16,
                CompressVectors = true,
                DenseWhenCheaper = false,
                Seed = 2018,
                // With a grouping set (ATOMO_RANKS_PER_NODE, e.g. 1 with ATOMO_NODE_GROUP_SIZE), every call is node-aware.
                NodeAware = Environment.GetEnvironmentVariable(NodeTopology.RanksPerNodeVariable) is null ? NodeAwareMode.Auto : NodeAwareMode.On,
            };
            string? problem = null;
            var hash = new XxHash3();
            try
            {
                using var allreduce = new AtomoAllreduce(world, options);
                for (int call = 0; call < Calls; call++)
                {
                    float[][] tensors = AllreduceContract.Gradients(Shapes, world.Rank, call);
                    allreduce.Average([.. tensors.Select(t => (Memory<float>)t)], Shapes);
                    foreach (float[] tensor in tensors)
                    {
                        hash.Append(MemoryMarshal.AsBytes(tensor.AsSpan()));
                    }

                    if (options.NodeAware == NodeAwareMode.On && !allreduce.IsNodeAware)
                    {
                        problem = "the grouping was set, but the call was not node-aware";
                    }

                    if (world.Size > 1 && allreduce.LastCall.Decisions.Any(d => d.Route != TensorRoute.Compressed))
                    {
                        problem = $"call {call}: a tensor was not compressed ({string.Join(", ", allreduce.LastCall.Decisions.Select(d => $"{d.Route}/{d.Decomposition}"))}), so the basis was not tested";
                    }
                }
            }
#pragma warning disable CA1031 // report every failure as a failed case
            catch (Exception ex)
#pragma warning restore CA1031
            {
                problem = ex.Message;
            }

            var hashes = new ulong[world.Size];
            world.Allgather<ulong>([hash.GetCurrentHashAsUInt64()], hashes);
            var failed = new int[world.Size];
            world.Allgather<int>([problem is null ? 0 : 1], failed);
            bool passed = failed.All(f => f == 0) && hashes.All(h => h == hashes[0]);
            failures += passed ? 0 : 1;
            if (world.Rank == 0)
            {
                Console.WriteLine($"{(passed ? "PASS" : "FAIL")} {label} cross-cpu-{name}-bitwise-identical ({Calls} calls, {Shapes.Length} tensors; hashes {string.Join(" ", hashes.Select(h => h.ToString("x16", System.Globalization.CultureInfo.InvariantCulture)))})");
            }

            PrintFromRank0(world, problem is null ? "" : $"    rank {world.Rank}: {problem}");
        }

        return failures == 0 ? 0 : 1;
    }

    /// <summary>What this rank computes with: the instruction sets .NET uses, and the native libraries.</summary>
    private static string Describe()
    {
        string isa = Avx512F.IsSupported ? "AVX-512F" : Avx2.IsSupported ? "AVX2" : Avx.IsSupported ? "AVX" : Sse2.IsSupported ? "SSE2" : "no SIMD";
        return $"{isa} (FMA {Fma.IsSupported}, Vector<float> {Vector<float>.Count} lanes, Vector256 accelerated {Vector256.IsHardwareAccelerated}); " +
            $"OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "(auto)"}; linear algebra {LinearAlgebraProvider.ActiveProvider}; " +
            $"Fourier on whole tensors {FourierTransformProvider.ActiveProvider}, decode kernel '{FourierTransformProvider.DecodeKernel}'";
    }

    /// <summary>Every rank's <paramref name="line"/> printed by rank 0 in rank order (empty lines skipped).</summary>
    private static void PrintFromRank0(ICommunicator world, string line)
    {
        byte[] mine = Encoding.UTF8.GetBytes(line);
        var lengths = new int[world.Size];
        world.Allgather<int>([mine.Length], lengths);
        var all = new byte[lengths.Sum()];
        world.Allgatherv(mine, lengths, all);
        if (world.Rank == 0)
        {
            int offset = 0;
            foreach (int length in lengths)
            {
                if (length > 0)
                {
                    Console.WriteLine(Encoding.UTF8.GetString(all, offset, length));
                }

                offset += length;
            }

            Console.Out.Flush();
        }
    }
}
