using System.Diagnostics;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Development aid (<c>--soak [calls] [ranks]</c>; the workload is shared with <c>MpiTests soak</c>, which links this file): many fused calls of the default spectral collective on in-process
/// ranks over a model-like set (matrices, a conv view, biases; 0.5 M parameters), printing every 100 calls the process's
/// working set, the managed heap and the bytes allocated per call and rank: growth that does not level off is a leak.
/// </summary>
internal static class Soak
{
    public static readonly TensorShape[] Shapes =
    [
        TensorShape.Matrix(256, 784), TensorShape.Vector(256), TensorShape.Matrix(128, 256), TensorShape.Vector(128),
        TensorShape.Matrix(10, 128), TensorShape.Vector(10), TensorShape.Of(64, 3, 3, 64), TensorShape.Matrix(128, 1152),
    ];

    /// <summary>New gradients for the next call: uniform in [−0.5, 0.5).</summary>
    public static void Refill(float[][] tensors, Random random)
    {
        foreach (float[] tensor in tensors)
        {
            for (int i = 0; i < tensor.Length; i++)
            {
                tensor[i] = (float)(random.NextDouble() - 0.5);
            }
        }
    }

    public static void Run(int calls, int ranks)
    {
        Console.WriteLine($"soak: {calls} fused calls, {ranks} in-process ranks, {Shapes.Sum(s => (long)s.ElementCount):N0} parameters, default spectral options");
        Console.WriteLine($"{"calls",6} {"working set MB",15} {"managed MB",11} {"allocated KB/call/rank",23}");
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        int reported = 0;
        using var progress = new Barrier(ranks, _ =>
        {
            reported += 100;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            Console.WriteLine($"{reported,6} {Process.GetCurrentProcess().WorkingSet64 / 1e6,15:F1} {GC.GetTotalMemory(false) / 1e6,11:F1} {(allocated - allocatedBefore) / 1e3 / 100 / ranks,23:F1}");
            allocatedBefore = allocated;
        });
        InProcessCluster.Run(ranks, comm =>
        {
            using var allreduce = new AtomoAllreduce(comm, new AtomoOptions { Seed = 5 });
            var random = new Random(comm.Rank);
            float[][] tensors = [.. Shapes.Select(s => new float[s.ElementCount])];
            Memory<float>[] memory = [.. tensors.Select(t => (Memory<float>)t)];
            for (int call = 1; call <= calls; call++)
            {
                Refill(tensors, random);
                allreduce.Average(memory, Shapes);
                if (call % 100 == 0)
                {
                    progress.SignalAndWait();
                }
            }
        });
    }
}
