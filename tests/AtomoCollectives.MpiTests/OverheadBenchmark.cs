using System.Globalization;
using System.Runtime.InteropServices;

namespace AtomoCollectives.MpiTests;

/// <summary>
/// The .NET half of tests/AtomoCollectives.Benchmarks/mpi: the same loop as <c>mpi_overhead.c</c>. Per sample:
/// barrier, <c>MPI_Wtime</c>, <c>reps</c> back-to-back calls, <c>MPI_Wtime</c>; the per-call time of a rank is the
/// median over samples, and the reported figure is the maximum of that over ranks.
/// </summary>
internal static unsafe class OverheadBenchmark
{
    public static int Run(string[] args)
    {
        double scale = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 1.0;
        using MpiEnvironment mpi = MpiEnvironment.Initialize();
        ICommunicator world = mpi.World;
        foreach (int bytes in new[] { 4 << 10, 1 << 20, 16 << 20 })
        {
            (int reps, int samples) = Plan(bytes, scale);
            int[] counts = new int[world.Size];
            counts.AsSpan().Fill(bytes);

            // "dotnet": buffers from malloc, exactly like the C program, so only the binding differs.
            byte* sendNative = (byte*)NativeMemory.Alloc((nuint)bytes);
            byte* receiveNative = (byte*)NativeMemory.Alloc((nuint)bytes * (nuint)world.Size);
            float* denseNative = (float*)NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                new Span<byte>(sendNative, bytes).Fill((byte)world.Rank);
                Report(world, "dotnet", "allgatherv", bytes, Measure(world, reps, samples, () =>
                    world.Allgatherv(new ReadOnlySpan<byte>(sendNative, bytes), counts, new Span<byte>(receiveNative, bytes * world.Size))));
                Report(world, "dotnet", "allreduce", bytes, Measure(world, reps, samples, () =>
                    world.AllreduceSum(new Span<float>(denseNative, bytes / sizeof(float)))));
            }
            finally
            {
                NativeMemory.Free(sendNative);
                NativeMemory.Free(receiveNative);
                NativeMemory.Free(denseNative);
            }

            // "dotnet-array": ordinary managed arrays, as most callers will pass.
            byte[] send = new byte[bytes];
            send.AsSpan().Fill((byte)world.Rank);
            byte[] receive = new byte[(long)bytes * world.Size];
            Report(world, "dotnet-array", "allgatherv", bytes, Measure(world, reps, samples, () => world.Allgatherv(send, counts, receive)));
            float[] dense = new float[bytes / sizeof(float)];
            Report(world, "dotnet-array", "allreduce", bytes, Measure(world, reps, samples, () => world.AllreduceSum(dense)));
        }

        return 0;
    }

    /// <summary>
    /// Fixed cost of one call, same loops as call_cost.c: run at n = 1, where a barrier and an in-place
    /// allreduce do no communication, so the binding's own cost is what is timed.
    /// </summary>
    public static int CallCost()
    {
        using MpiEnvironment mpi = MpiEnvironment.Initialize();
        ICommunicator world = mpi.World;
        float[] dense = new float[1024];
        const int n = 2_000_000;
        for (int round = 0; round < 5; round++)
        {
            double t0 = MpiEnvironment.Wtime();
            for (int i = 0; i < n; i++)
            {
                world.Barrier();
            }

            double t1 = MpiEnvironment.Wtime();
            for (int i = 0; i < n; i++)
            {
                world.AllreduceSum(dense);
            }

            double t2 = MpiEnvironment.Wtime();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"CALLCOST impl=dotnet barrier_ns={(t1 - t0) / n * 1e9:F1} allreduce_ns={(t2 - t1) / n * 1e9:F1}"));
        }

        return 0;
    }

    /// <summary>Same table as <c>plan()</c> in mpi_overhead.c.</summary>
    internal static (int Reps, int Samples) Plan(int bytes, double scale)
    {
        (int reps, int samples) = bytes switch
        {
            <= 4096 => (200, 31),
            <= 1 << 20 => (10, 31),
            _ => (2, 15),
        };
        return (Math.Max(1, (int)(reps * scale)), samples);
    }

    private static double Measure(ICommunicator world, int reps, int samples, Action call)
    {
        // Warm-up, same rule as mpi_overhead.c: at least reps + 2 calls and at least 0.3 s (rank 0's clock,
        // broadcast so all ranks make the same number of calls). The time matters for .NET: tiered JIT
        // replaces the first, unoptimised code only after ~100 ms, and hot loops run optimised code.
        int[] keepGoing = new int[1];
        double start = MpiEnvironment.Wtime();
        do
        {
            for (int i = 0; i < reps + 2; i++)
            {
                call();
            }

            keepGoing[0] = MpiEnvironment.Wtime() - start < 0.3 ? 1 : 0;
            world.Broadcast(System.Runtime.InteropServices.MemoryMarshal.AsBytes(keepGoing.AsSpan()), 0);
        }
        while (keepGoing[0] != 0);

        double[] times = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            world.Barrier();
            double t0 = MpiEnvironment.Wtime();
            for (int i = 0; i < reps; i++)
            {
                call();
            }

            times[s] = (MpiEnvironment.Wtime() - t0) / reps;
        }

        Array.Sort(times);
        double median = times[samples / 2];
        double[] all = new double[world.Size];
        world.Allgather<double>([median], all);
        return all.Max();
    }

    private static void Report(ICommunicator world, string impl, string op, int bytes, double seconds)
    {
        if (world.Rank == 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT impl={impl} op={op} n={world.Size} bytes={bytes} median_us={seconds * 1e6:F3}"));
            Console.Out.Flush();
        }
    }
}
