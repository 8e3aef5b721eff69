using System.Diagnostics;
using System.Text;
using AtomoCollectives;
using AtomoCollectives.MpiTests;
using AtomoCollectives.Tests.Collectives;
using AtomoCollectives.Tests.Transport;

// Usage (always under mpiexec):
//   AtomoCollectives.MpiTests contract [name-substring]   every contract case + MPI-only cases; one line per case
//   AtomoCollectives.MpiTests throw                        rank 1 throws after a collective; the job must die fast
//   AtomoCollectives.MpiTests soak [calls] [set] [csv-prefix] memory of every rank over many fused calls (docs/reliability.md)
//   AtomoCollectives.MpiTests stall|finalize|exit          rank 1 stops calling or leaves; the others' 2 s watchdog must end the job
//   AtomoCollectives.MpiTests overhead [iterations-scale]  allgatherv/allreduce timings to compare with the C program
//   AtomoCollectives.MpiTests call-cost                    fixed cost per call at n = 1 (compare with call_cost.c)
//   AtomoCollectives.MpiTests cross-cpu                    every basis bitwise identical across ranks with different instruction sets (MPMD)
string mode = args.Length > 0 ? args[0] : "contract";
return mode switch
{
    "contract" => ContractRunner.Run(args.Length > 1 ? args[1] : null),
    "throw" => ThrowMode.Run(),
    "stall" or "finalize" or "exit" => StallMode.Run(args[0]),
    "soak" => SoakMode.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2000, args.Length > 2 ? args[2] : "model", args.Length > 3 ? args[3] : null),
    "overhead" => OverheadBenchmark.Run(args.Skip(1).ToArray()),
    "call-cost" => OverheadBenchmark.CallCost(),
    "cross-cpu" => CrossCpuMode.Run(),
    "info" => Info(),
    _ => Usage(),
};

static int Info()
{
    using MpiEnvironment mpi = MpiEnvironment.Initialize();
    Console.WriteLine($"rank {mpi.World.Rank}/{mpi.World.Size}: {mpi.Implementation} from {mpi.LibraryPath}, thread level {mpi.ThreadLevel}; {mpi.LibraryVersion.Split('\n')[0]}");
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: AtomoCollectives.MpiTests contract [filter] | throw | stall | overhead | call-cost | cross-cpu | info   (run under mpiexec)");
    return 2;
}

namespace AtomoCollectives.MpiTests
{
    internal static class ContractRunner
    {
        public static int Run(string? filter)
        {
            using MpiEnvironment mpi = MpiEnvironment.Initialize();
            ICommunicator world = mpi.World;
            string? perNode = Environment.GetEnvironmentVariable(NodeTopology.RanksPerNodeVariable);

            // ATOMO_CONTRACT_SKIP=text leaves out the cases whose names contain it (run-contract.sh: the long statistical
            // cases where MPICH busy-polls on more ranks than cores; they depend on the algorithm, not the transport).
            string? skip = Environment.GetEnvironmentVariable("ATOMO_CONTRACT_SKIP");
            string? perGroup = Environment.GetEnvironmentVariable(NodeGroups.SizeVariable);
            string label = $"{Flavor(mpi)} n={world.Size}{(string.IsNullOrEmpty(perNode) ? "" : $" ({perNode} per node)")}{(string.IsNullOrEmpty(perGroup) ? "" : $" (groups of {perGroup} nodes)")}{(string.IsNullOrEmpty(skip) ? "" : $" (skipping *{skip}*)")}";

            // With ranks grouped into nodes, the world communicator's own contract is the one the ungrouped run of the same
            // launch checked (the grouping changes only what is split from it), so it is left out.
            var cases = (string.IsNullOrEmpty(perNode) ? CommunicatorContract.Cases : [])
                .Concat(NodeTopologyContract.Cases)
                .Concat(MpiOnlyCases.Cases(mpi))
                .Concat(AllreduceContract.Cases)
                .Where(c => filter is null || c.Name.Contains(filter, StringComparison.Ordinal))
                .Where(c => string.IsNullOrEmpty(skip) || !c.Name.Contains(skip, StringComparison.Ordinal))
                .ToList();
            if (world.Rank == 0)
            {
                Console.WriteLine($"PLAN {cases.Count} {label} ({mpi.LibraryVersion.Split('\n')[0].Trim()})");
            }

            int failures = 0;
            int[] status = new int[world.Size];
            foreach ((string name, Action<ICommunicator> run) in cases)
            {
                string? error = null;
                var clock = Stopwatch.StartNew();
                try
                {
                    run(world);
                }
#pragma warning disable CA1031 // report every failure as a failed case
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    error = ex is ContractException ? ex.Message : ex.ToString();
                }

                clock.Stop();
                // Everyone learns every rank's outcome (and rank 0 the messages), over the transport under test.
                world.Allgather<int>([error is null ? 0 : 1], status);
                byte[] message = Encoding.UTF8.GetBytes(error ?? "");
                int[] lengths = new int[world.Size];
                world.Allgather<int>([message.Length], lengths);
                byte[] all = new byte[lengths.Sum()];
                world.Allgatherv(message, lengths, all);

                bool passed = status.All(s => s == 0);
                failures += passed ? 0 : 1;
                if (world.Rank == 0)
                {
                    Console.WriteLine($"{(passed ? "PASS" : "FAIL")} {label} {name} ({clock.Elapsed.TotalMilliseconds:F0} ms on rank 0)");
                    int offset = 0;
                    for (int r = 0; r < world.Size; r++)
                    {
                        if (lengths[r] > 0)
                        {
                            Console.WriteLine($"    rank {r}: {Encoding.UTF8.GetString(all, offset, lengths[r]).Replace("\n", "\n    ", StringComparison.Ordinal)}");
                        }

                        offset += lengths[r];
                    }

                    Console.Out.Flush();
                }
            }

            return failures == 0 ? 0 : 1;
        }

        public static string Flavor(MpiEnvironment mpi) => mpi.Implementation switch
        {
            MpiImplementation.OpenMpi => "openmpi",
            MpiImplementation.Mpich => "mpich",
            _ => mpi.Implementation.ToString(),
        };
    }

    /// <summary>Cases that only make sense on the MPI transport.</summary>
    internal static class MpiOnlyCases
    {
        public static IEnumerable<(string Name, Action<ICommunicator> Run)> Cases(MpiEnvironment mpi)
        {
            yield return ("mpi-environment-matches-launcher", comm => EnvironmentMatchesLauncher(mpi, comm));
            yield return ("mpi-blocking-calls-allocate-nothing", NoAllocation);
            yield return ("mpi-large-message-path-default", comm => LargePath(comm, disableLargeCount: false));
            yield return ("mpi-large-message-path-broadcast-fallback", comm => LargePath(comm, disableLargeCount: true));
            if (mpi.World.Size <= 2)
            {
                // More than MPICH's 2,048 communicator ids: fails without MPI_Comm_free. Two ranks only: with more than
                // cores, MPICH's busy polling makes each split cost tens of milliseconds.
                yield return ("mpi-split-by-node-1100-times-freed", comm => NodeTopologyContract.SplitRepeatedly(comm, 1100));
            }
            if (Environment.GetEnvironmentVariable("ATOMO_MPI_TEST_HUGE") == "1")
            {
                // Opt-in: about 2 GiB (receive) + 2 GiB / n (send) per rank.
                yield return ("mpi-allgatherv-over-2GiB-total", Over2GiB);
            }
        }

        /// <summary>A real total beyond 2 GiB through the per-rank-buffer overload, no lowered threshold.</summary>
        private static void Over2GiB(ICommunicator comm)
        {
            long total = (1L << 31) + (1 << 20) + 3;
            int length = (int)(total / comm.Size) + (comm.Rank == 0 ? (int)(total % comm.Size) : 0);
            static byte Pattern(int rank, int i) => (byte)((i * 13) ^ (rank * 101) ^ (i >> 20));
            byte[] mine = GC.AllocateUninitializedArray<byte>(length);
            for (int i = 0; i < length; i++)
            {
                mine[i] = Pattern(comm.Rank, i);
            }

            int[] counts = new int[comm.Size];
            comm.Allgather<int>([length], counts);
            Check(comm, counts.Sum(c => (long)c) == total, "counts do not add up.");
            var buffers = new Memory<byte>[comm.Size];
            for (int r = 0; r < comm.Size; r++)
            {
                buffers[r] = r == comm.Rank ? new byte[counts[r]] : GC.AllocateUninitializedArray<byte>(counts[r]);
            }

            comm.Allgatherv(mine, counts, buffers);
            for (int r = 0; r < comm.Size; r++)
            {
                Span<byte> got = buffers[r].Span;
                for (int i = 0; i < counts[r]; i++)
                {
                    if (got[i] != Pattern(r, i))
                    {
                        Check(comm, false, $"over-2GiB: byte {i} of rank {r} is {got[i]}, expected {Pattern(r, i)}.");
                    }
                }
            }
        }

        private static void Check(ICommunicator comm, bool condition, string message)
        {
            if (!condition)
            {
                throw new ContractException($"rank {comm.Rank}/{comm.Size}: {message}");
            }
        }

        private static void EnvironmentMatchesLauncher(MpiEnvironment mpi, ICommunicator comm)
        {
            Check(comm, MpiEnvironment.IsLaunchedByMpi, "IsLaunchedByMpi is false under mpiexec.");
            Check(comm, mpi.ThreadLevel >= 2, $"thread level {mpi.ThreadLevel} < MPI_THREAD_SERIALIZED.");
            string? ompi = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE");
            string? pmi = Environment.GetEnvironmentVariable("PMI_SIZE");
            if (ompi is not null)
            {
                Check(comm, mpi.Implementation == MpiImplementation.OpenMpi && int.Parse(ompi) == comm.Size, $"launcher says Open MPI, {ompi} ranks; bound {mpi.Implementation}, {comm.Size} ranks.");
                Check(comm, int.Parse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK")!) == comm.Rank, "rank differs from OMPI_COMM_WORLD_RANK.");
            }
            else if (pmi is not null)
            {
                Check(comm, mpi.Implementation == MpiImplementation.Mpich && int.Parse(pmi) == comm.Size, $"launcher says MPICH, {pmi} ranks; bound {mpi.Implementation}, {comm.Size} ranks.");
                Check(comm, int.Parse(Environment.GetEnvironmentVariable("PMI_RANK")!) == comm.Rank, "rank differs from PMI_RANK.");
            }
            else if (Environment.GetEnvironmentVariable("PMIX_RANK") is { } pmixRank)
            {
                // srun --mpi=pmix: the step's task count and this task's id are the world's size and rank.
                Check(comm, int.Parse(pmixRank) == comm.Rank, $"rank {comm.Rank} differs from PMIX_RANK={pmixRank}.");
                if (Environment.GetEnvironmentVariable("SLURM_STEP_NUM_TASKS") is { } tasks)
                {
                    Check(comm, int.Parse(tasks) == comm.Size, $"srun started {tasks} tasks; the world has {comm.Size} ranks.");
                }
            }
        }

        /// <summary>Blocking collectives must not allocate on the managed heap at all (after warm-up).</summary>
        private static void NoAllocation(ICommunicator comm)
        {
            byte[] send = new byte[1000 + comm.Rank];
            int[] counts = new int[comm.Size];
            int[] one = [send.Length];
            byte[] receive = new byte[(1000 + comm.Size) * comm.Size];
            float[] dense = new float[4096];
            byte[] bcast = new byte[256];

            void Calls()
            {
                comm.Allgather<int>(one, counts);
                comm.Allgatherv(send, counts, receive);
                comm.AllreduceSum(dense);
                comm.Broadcast(bcast, 0);
                comm.Barrier();
            }

            for (int i = 0; i < 20; i++)
            {
                Calls();
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                Calls();
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Check(comm, allocated == 0, $"200 rounds of blocking collectives allocated {allocated} managed bytes.");
        }

        /// <summary>Forces the beyond-2-GiB path at a small size and checks every byte.</summary>
        private static void LargePath(ICommunicator comm, bool disableLargeCount)
        {
            long threshold = MpiCommunicator.LargeMessageThreshold;
            int chunk = MpiCommunicator.LargeMessageChunkBytes;
            bool disabled = MpiCommunicator.DisableLargeCountCalls;
            try
            {
                MpiCommunicator.LargeMessageThreshold = 1000;
                MpiCommunicator.LargeMessageChunkBytes = 777;
                MpiCommunicator.DisableLargeCountCalls = disableLargeCount;
                int length = comm.Rank == 1 ? 0 : 5000 + (comm.Rank * 333);
                int[] counts = new int[comm.Size];
                comm.Allgather<int>([length], counts);
                byte[] mine = new byte[length];
                for (int i = 0; i < length; i++)
                {
                    mine[i] = (byte)((i * 7) + comm.Rank);
                }

                byte[] all = new byte[counts.Sum()];
                comm.Allgatherv(mine, counts, all);
                using (CollectiveRequest request = comm.StartAllgatherv(mine, counts, all))
                {
                    request.Wait();
                }

                var buffers = new Memory<byte>[comm.Size];
                for (int r = 0; r < comm.Size; r++)
                {
                    buffers[r] = new byte[counts[r]];
                }

                comm.Allgatherv(mine, counts, buffers);
                for (int r = 0; r < comm.Size; r++)
                {
                    Span<byte> got = buffers[r].Span;
                    for (int i = 0; i < counts[r]; i++)
                    {
                        Check(comm, got[i] == (byte)((i * 7) + r), $"per-rank buffers: byte {i} of rank {r} is {got[i]}.");
                    }
                }

                int[] values = Enumerable.Range(0, 400).Select(i => i + (comm.Rank * 1000)).ToArray();
                int[] gathered = new int[400 * comm.Size];
                comm.Allgather<int>(values, gathered); // 1600 bytes per rank: also over the threshold
                int offset = 0;
                for (int r = 0; r < comm.Size; r++)
                {
                    for (int i = 0; i < counts[r]; i++)
                    {
                        Check(comm, all[offset + i] == (byte)((i * 7) + r), $"large path: byte {i} of rank {r} is {all[offset + i]}.");
                    }

                    offset += counts[r];
                    for (int i = 0; i < 400; i++)
                    {
                        Check(comm, gathered[(r * 400) + i] == i + (r * 1000), $"large-path allgather: value {i} of rank {r} is {gathered[(r * 400) + i]}.");
                    }
                }
            }
            finally
            {
                MpiCommunicator.LargeMessageThreshold = threshold;
                MpiCommunicator.LargeMessageChunkBytes = chunk;
                MpiCommunicator.DisableLargeCountCalls = disabled;
            }
        }
    }

    /// <summary>
    /// Many fused calls of the default spectral collective on a soak set (<c>model</c>, 0.42 M parameters, or
    /// <c>resnet18</c>); every 100 calls each rank records its working set, managed heap and bytes allocated per call,
    /// and once more after a forced full collection at the end; with a CSV prefix, rank r also writes PREFIX-rankR.csv.
    /// </summary>
    internal static class SoakMode
    {
        public static int Run(int calls, string setName, string? csvPrefix)
        {
            TensorShape[] shapes = Benchmarks.Soak.Set(setName);
            using MpiEnvironment mpi = MpiEnvironment.Initialize();
            ICommunicator world = mpi.World;
            using TextWriter csv = csvPrefix is null ? TextWriter.Null : new StreamWriter($"{csvPrefix}-rank{world.Rank}.csv");
            void Emit(string row)
            {
                Console.WriteLine($"soak rank {world.Rank}: {row}");
                csv.WriteLine(row);
                csv.Flush();
            }

            Emit(Benchmarks.Soak.CsvHeader);
            using var allreduce = new AtomoAllreduce(world, new AtomoOptions { Seed = 5 });
            var random = new Random(world.Rank);
            float[][] tensors = [.. shapes.Select(s => new float[s.ElementCount])];
            Memory<float>[] memory = [.. tensors.Select(t => (Memory<float>)t)];
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            for (int call = 1; call <= calls; call++)
            {
                Benchmarks.Soak.Refill(tensors, random);
                allreduce.Average(memory, shapes);
                if (call % 100 == 0)
                {
                    long now = GC.GetAllocatedBytesForCurrentThread();
                    Emit(Benchmarks.Soak.Row(call, (now - allocated) / 1e3 / 100, afterForcedCollection: false));
                    allocated = now;
                }
            }

            Emit(Benchmarks.Soak.RowAfterForcedCollection(calls));
            return 0;
        }
    }

    /// <summary>
    /// After one call rank 1 stops calling (<c>stall</c>: sleeps a minute), or leaves: <c>finalize</c> disposes the
    /// collective and calls MPI_Finalize, then returns 0; <c>exit</c> ends the process with 0 without finalizing. Every
    /// other rank's AtomoAllreduce (Timeout 2 s) must abort the job.
    /// </summary>
    internal static class StallMode
    {
        public static int Run(string how)
        {
            MpiEnvironment mpi = MpiEnvironment.Initialize();
            ICommunicator world = mpi.World;
            var allreduce = new AtomoAllreduce(world, new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 10, Timeout = TimeSpan.FromSeconds(2) });
            var data = new float[4096];
            allreduce.Average(data, TensorShape.Vector(4096));
            if (world.Rank == 1)
            {
                Console.WriteLine($"rank 1: {how} instead of calling");
                Console.Out.Flush();
                switch (how)
                {
                    case "finalize":
                        allreduce.Dispose();
                        mpi.Dispose();
                        return 0;
                    case "exit":
                        Environment.Exit(0);
                        return 0;
                    default:
                        Thread.Sleep(TimeSpan.FromSeconds(60));
                        return 0;
                }
            }

            allreduce.Average(data, TensorShape.Vector(4096));
            Console.WriteLine($"rank {world.Rank}: the call completed (should not happen)");
            return 0;
        }
    }

    internal static class ThrowMode
    {
        public static int Run()
        {
            using MpiEnvironment mpi = MpiEnvironment.Initialize();
            ICommunicator world = mpi.World;
            world.Barrier();
            float[] x = [1f];
            world.AllreduceSum(x);
            if (world.Rank == 1)
            {
                throw new InvalidOperationException("rank 1 fails on purpose (throw mode)");
            }

            Console.WriteLine($"rank {world.Rank}: waiting in a barrier rank 1 will never reach");
            Console.Out.Flush();
            world.Barrier();
            Console.WriteLine($"rank {world.Rank}: left the barrier (should not happen)");
            return 0;
        }
    }
}
