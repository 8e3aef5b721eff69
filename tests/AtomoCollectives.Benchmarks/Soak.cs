using System.Diagnostics;
using System.Globalization;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Development aid (<c>--soak [calls] [ranks] [set] [csv]</c>; the workload is shared with <c>MpiTests soak</c>, which
/// links this file): many fused calls of the default spectral collective on in-process ranks over a gradient set,
/// recording every 100 calls the process's working set, the managed heap and the bytes allocated per call and rank, and
/// once more after a forced full collection at the end (which tells garbage from a leak). Growth that does not level
/// off is a leak. <c>--soak-plot OUT.png CSV…</c> draws the curves (<see cref="SoakPlot"/>).
/// </summary>
internal static class Soak
{
    /// <summary>The sets: <c>model</c> (MLP layers, a conv view and biases, 0.42 M parameters) and <c>resnet18</c> (ResNet-18's 11.7 M).</summary>
    public static readonly IReadOnlyDictionary<string, TensorShape[]> Sets = new Dictionary<string, TensorShape[]>
    {
        ["model"] =
        [
            TensorShape.Matrix(256, 784), TensorShape.Vector(256), TensorShape.Matrix(128, 256), TensorShape.Vector(128),
            TensorShape.Matrix(10, 128), TensorShape.Vector(10), TensorShape.Of(64, 3, 3, 64), TensorShape.Matrix(128, 1152),
        ],
        ["resnet18"] = ResNet18(),
    };

    public const string CsvHeader = "calls,working_set_mb,managed_mb,allocated_kb_per_call_rank,after_forced_gc";

    /// <summary>The set named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No such set.</exception>
    public static TensorShape[] Set(string name) =>
        Sets.TryGetValue(name, out TensorShape[]? shapes) ? shapes : throw new ArgumentException($"Unknown soak set '{name}'. Use one of: {string.Join(", ", Sets.Keys)}.", nameof(name));

    /// <summary>ResNet-18's parameters (ImageNet, 1000 classes): convolutions as out×in×kh×kw, batch norms' scale and shift, the classifier.</summary>
    private static TensorShape[] ResNet18()
    {
        var shapes = new List<TensorShape>();
        void Conv(int output, int input, int kernel)
        {
            shapes.Add(TensorShape.Of(output, input, kernel, kernel));
            shapes.Add(TensorShape.Vector(output));
            shapes.Add(TensorShape.Vector(output));
        }

        Conv(64, 3, 7);
        int channels = 64;
        foreach (int width in new[] { 64, 128, 256, 512 })
        {
            Conv(width, channels, 3);
            Conv(width, width, 3);
            if (width != channels)
            {
                Conv(width, channels, 1);
            }

            Conv(width, width, 3);
            Conv(width, width, 3);
            channels = width;
        }

        shapes.Add(TensorShape.Matrix(1000, 512));
        shapes.Add(TensorShape.Vector(1000));
        return [.. shapes];
    }

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

    /// <summary>One CSV row of the process's memory now.</summary>
    public static string Row(int calls, double allocatedKilobytesPerCallAndRank, bool afterForcedCollection) => string.Create(
        CultureInfo.InvariantCulture,
        $"{calls},{Process.GetCurrentProcess().WorkingSet64 / 1e6:F1},{GC.GetTotalMemory(false) / 1e6:F1},{allocatedKilobytesPerCallAndRank:F1},{(afterForcedCollection ? 1 : 0)}");

    /// <summary>A full, compacting collection, then the row that shows what was live.</summary>
    public static string RowAfterForcedCollection(int calls)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Row(calls, 0, afterForcedCollection: true);
    }

    public static void Run(int calls, int ranks, string setName, string? csvPath)
    {
        TensorShape[] shapes = Set(setName);
        using TextWriter csv = csvPath is null ? TextWriter.Null : new StreamWriter(csvPath);
        void Emit(string row)
        {
            Console.WriteLine(row);
            csv.WriteLine(row);
            csv.Flush();
        }

        Console.WriteLine($"soak: {calls} fused calls, {ranks} in-process ranks, set {setName} ({shapes.Sum(s => (long)s.ElementCount):N0} parameters), default spectral options");
        Emit(CsvHeader);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        int reported = 0;
        using var progress = new Barrier(ranks, _ =>
        {
            reported += 100;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            Emit(Row(reported, (allocated - allocatedBefore) / 1e3 / 100 / ranks, afterForcedCollection: false));
            if (reported == calls)
            {
                Emit(RowAfterForcedCollection(calls));   // every rank waits here, its collective still alive
            }

            allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        });
        InProcessCluster.Run(ranks, comm =>
        {
            using var allreduce = new AtomoAllreduce(comm, new AtomoOptions { Seed = 5 });
            var random = new Random(comm.Rank);
            float[][] tensors = [.. shapes.Select(s => new float[s.ElementCount])];
            Memory<float>[] memory = [.. tensors.Select(t => (Memory<float>)t)];
            for (int call = 1; call <= calls; call++)
            {
                Refill(tensors, random);
                allreduce.Average(memory, shapes);
                if (call % 100 == 0)
                {
                    progress.SignalAndWait();
                }
            }
        });
    }
}
