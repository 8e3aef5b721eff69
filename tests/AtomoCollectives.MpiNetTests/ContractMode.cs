using System.Diagnostics;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using AtomoCollectives.MpiNet;
using AtomoCollectives.Tests.Collectives;
using AtomoCollectives.Tests.Transport;

namespace AtomoCollectives.MpiNetTests;

/// <summary>
/// The shared contracts (<see cref="CommunicatorContract"/>, <see cref="AllreduceContract"/>) and the cases only
/// MPI.NET has, on <see cref="MpiNetCommunicator"/> over <c>MPI.Communicator.world</c>. One line per case on rank 0
/// (<c>PASS</c>/<c>FAIL</c>, after a <c>PLAN n</c> line), the same format as tests/mpi/run-contract.sh reads.
/// </summary>
internal static class ContractMode
{
    public static int Run(string? filter)
    {
        MPI.Intracommunicator mpiWorld = MPI.Communicator.world;
        using var world = new MpiNetCommunicator(mpiWorld);
        var cases = Select(filter ?? "all");
        string label = $"mpinet n={world.Size}";
        if (world.Rank == 0)
        {
            Console.WriteLine($"PLAN {cases.Count} {label} (MPI.NET {typeof(MPI.Communicator).Assembly.GetName().Version} on {MpiNetLibrary.LibraryPath})");
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
            // Outcomes travel over MPI.NET's own collectives, so a broken transport under test cannot hide its failure.
            int[] outcomes = mpiWorld.Allgather(error is null ? 0 : 1);
            byte[] text = Encoding.UTF8.GetBytes(error ?? "");
            int[] lengths = mpiWorld.Allgather(text.Length);
            byte[] all = mpiWorld.AllgatherFlattened(text, lengths);
            bool passed = outcomes.All(s => s == 0);
            failures += passed ? 0 : 1;
            if (world.Rank == 0)
            {
                Console.WriteLine($"{(passed ? "PASS" : "FAIL")} {label} {name} ({clock.Elapsed.TotalMilliseconds:F0} ms on rank 0)");
                int offset = 0;
                for (int r = 0; r < lengths.Length; r++)
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

    /// <summary>
    /// The cases a comma-separated selection names, in the contracts' order: <c>all</c>; <c>transport</c> (the
    /// transport contract and the MPI.NET-only cases); any other word selects the cases whose name contains it, and
    /// <c>-word</c> drops them again.
    /// </summary>
    private static List<(string Name, Action<ICommunicator> Run)> Select(string selection)
    {
        var transport = CommunicatorContract.Cases.Concat(MpiNetCases()).ToList();
        var all = transport.Concat(AllreduceContract.Cases).ToList();
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string word in selection.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (word.StartsWith('-'))
            {
                chosen.RemoveWhere(name => name.Contains(word[1..], StringComparison.Ordinal));
                continue;
            }

            foreach ((string name, _) in word switch { "all" => all, "transport" => transport, _ => all.Where(c => c.Name.Contains(word, StringComparison.Ordinal)) })
            {
                chosen.Add(name);
            }
        }

        return [.. all.Where(c => chosen.Contains(c.Name))];
    }

    private static IEnumerable<(string Name, Action<ICommunicator> Run)> MpiNetCases() =>
    [
        ("mpinet-rank-and-size-are-mpinets", comm => Expect(comm, comm.Rank == MPI.Communicator.world.Rank && comm.Size == MPI.Communicator.world.Size, "Rank/Size differ from MPI.NET's")),
        ("mpinet-dense-sum-of-random-floats-bitwise-identical", DenseSumBitwiseIdentical),
        ("mpinet-interleaves-with-mpinet-calls", InterleavesWithMpiNetCalls),
        ("mpinet-split-communicator", SplitCommunicator),
        ("mpinet-mpi-errors-are-returned-not-fatal", ErrorsAreReturned),
        ("mpinet-null-communicator-refused", NullCommunicatorRefused),
    ];

    private static void Expect(ICommunicator comm, bool condition, string message)
    {
        if (!condition)
        {
            throw new ContractException($"rank {comm.Rank}/{comm.Size}: {message}");
        }
    }

    private static ulong Hash(ReadOnlySpan<float> data) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(data));

    /// <summary>
    /// The dense route's sum (<c>MPI_Allreduce</c>, <c>MPI_SUM</c>) of non-integer floats, whose result depends on the
    /// order of the additions: every rank must still hold the same bits (MPICH reduces each element in one order and
    /// sends the result), for a short vector (recursive doubling) and a long one (reduce-scatter + allgather).
    /// </summary>
    private static void DenseSumBitwiseIdentical(ICommunicator comm)
    {
        foreach (int n in new[] { 1000, (1 << 22) + 5 })
        {
            var random = new Random(17 + comm.Rank);
            float[] data = [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * MathF.Pow(10, random.Next(-6, 6)))];
            comm.AllreduceSum(data);
            ulong[] hashes = new ulong[comm.Size];
            comm.Allgather<ulong>([Hash(data)], hashes);
            Expect(comm, hashes.All(h => h == hashes[0]), $"n={n}: the sums differ across ranks");
        }
    }

    /// <summary>The program's own MPI.NET collectives on the same communicator, between and around the transport's calls.</summary>
    private static void InterleavesWithMpiNetCalls(ICommunicator comm)
    {
        MPI.Intracommunicator mpi = MPI.Communicator.world;
        float[] gradient = [.. Enumerable.Range(0, 4096).Select(i => (float)(i % 17) * (comm.Rank + 1))];
        float[] mine = (float[])gradient.Clone();
        float[] viaMpiNet = mpi.Allreduce(gradient, MPI.Operation<float>.Add);
        comm.AllreduceSum(mine);
        int sumOfRanks = mpi.Allreduce(comm.Rank, MPI.Operation<int>.Add);
        Expect(comm, sumOfRanks == comm.Size * (comm.Size - 1) / 2, $"MPI.NET's allreduce after ours gave {sumOfRanks}");
        Expect(comm, mine.AsSpan().SequenceEqual(viaMpiNet), "MpiNetCommunicator's sum differs from MPI.NET's own Allreduce on the same data");
    }

    /// <summary>A communicator from MPI.NET's Split: even and odd ranks each average within their half, bitwise identically.</summary>
    private static void SplitCommunicator(ICommunicator comm)
    {
        using MPI.Intracommunicator half = (MPI.Intracommunicator)MPI.Communicator.world.Split(comm.Rank % 2, comm.Rank);
        using var sub = new MpiNetCommunicator(half);
        Expect(comm, sub.Size == (comm.Size / 2) + (comm.Rank % 2 == 0 ? comm.Size % 2 : 0) && sub.Rank == comm.Rank / 2, $"sub-communicator rank {sub.Rank} of {sub.Size}");
        using var allreduce = new AtomoAllreduce(sub, new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 2, MinimumCompressedElements = 16, DenseWhenCheaper = false, Seed = 5 });
        float[][] tensors = AllreduceContract.Gradients(AllreduceContract.ModelShapes, comm.Rank, 0);
        allreduce.Average([.. tensors.Select(t => (Memory<float>)t)], AllreduceContract.ModelShapes);
        ulong[] hashes = new ulong[sub.Size];
        sub.Allgather<ulong>([Hash(tensors.SelectMany(t => t).ToArray())], hashes);
        Expect(comm, hashes.All(h => h == hashes[0]), "the ranks of one half differ");
        comm.Barrier();
    }

    /// <summary>
    /// MPI.NET sets <c>MPI_ERRORS_RETURN</c> on the communicators it creates: an invalid MPI call (a broadcast from a
    /// root that does not exist, made on purpose below the transport's argument checks) returns an error code on every
    /// rank instead of ending the job, so a failure inside the transport surfaces as <see cref="MpiException"/>.
    /// </summary>
    private static unsafe void ErrorsAreReturned(ICommunicator comm)
    {
        byte one = 0;
        int rc = MPI.Unsafe.MPI_Bcast((nint)(&one), 1, MPI.Unsafe.MPI_BYTE, comm.Size, MPI.Unsafe.MPI_COMM_WORLD);
        Expect(comm, rc != MPI.Unsafe.MPI_SUCCESS, "an invalid root was accepted");
        comm.Barrier(); // still usable, still in step
    }

    /// <summary>A null communicator is refused with ArgumentNullException before anything else.</summary>
    private static void NullCommunicatorRefused(ICommunicator comm)
    {
        try
        {
            _ = new MpiNetCommunicator(null!);
        }
        catch (ArgumentNullException)
        {
            comm.Barrier();
            return;
        }

        throw new ContractException($"rank {comm.Rank}: a null communicator was accepted");
    }
}
