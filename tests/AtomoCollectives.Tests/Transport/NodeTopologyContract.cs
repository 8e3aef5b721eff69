using System.Globalization;

namespace AtomoCollectives.Tests.Transport;

/// <summary>
/// What <see cref="INodeAwareCommunicator.SplitByNode"/> must do on every transport that has it, written once: run by
/// xunit over <see cref="InProcessCluster"/> (with and without the <c>ATOMO_RANKS_PER_NODE</c> grouping) and by
/// <c>tests/AtomoCollectives.MpiTests</c> under mpiexec (which links this file), where it checks the real
/// <c>MPI_Comm_split_type</c> and <c>MPI_Comm_split</c>.
/// </summary>
public static class NodeTopologyContract
{
    /// <summary>Every case, by name.</summary>
    public static IReadOnlyList<(string Name, Action<ICommunicator> Run)> Cases { get; } =
    [
        ("split-by-node-groups-ranks", GroupsRanks),
        ("split-by-node-communicators-work", CommunicatorsWork),
        ("split-by-node-bad-override-fails-on-every-rank", BadOverrideFails),
        ("reduce-scatter-sums-each-block", ReduceScatterSumsEachBlock),
        ("split-by-node-20-times-freed", comm => SplitRepeatedly(comm, 20)),
    ];

    private static void Expect(ICommunicator comm, bool condition, string message)
    {
        if (!condition)
        {
            throw new ContractException($"rank {comm.Rank}/{comm.Size}: {message}");
        }
    }

    private static NodeTopology Split(ICommunicator comm) =>
        comm is INodeAwareCommunicator splittable ? splittable.SplitByNode() : throw new ContractException($"{comm.GetType().Name} does not implement {nameof(INodeAwareCommunicator)}.");

    /// <summary>
    /// The grouping seen from every rank: under the override k, ranks [jk, (j+1)k) are node j; without it, the ranks of
    /// one machine (its name, gathered) are one node, as MPI_COMM_TYPE_SHARED and the in-process transport's threads
    /// say. Nodes are numbered by lowest rank, node ranks follow world ranks, and each rail holds the ranks of one
    /// node-local rank in node order.
    /// </summary>
    private static void GroupsRanks(ICommunicator comm)
    {
        using NodeTopology topology = Split(comm);
        int size = comm.Size;
        var views = new int[5 * size];
        comm.Allgather<int>([topology.NodeIndex, topology.Node.Rank, topology.Node.Size, topology.Rail.Rank, topology.Rail.Size], views);
        int Field(int rank, int field) => views[(5 * rank) + field];

        int[] expectedNode = ExpectedNodes(comm);
        int nodeCount = expectedNode.Max() + 1;
        Expect(comm, topology.NodeCount == nodeCount, $"{topology.NodeCount} nodes, expected {nodeCount}");
        int[] sizes = [.. Enumerable.Range(0, nodeCount).Select(j => expectedNode.Count(e => e == j))];
        Expect(comm, topology.IsUniform == sizes.All(s => s == sizes[0]), $"IsUniform {topology.IsUniform} with node sizes {string.Join(",", sizes)}");
        for (int r = 0; r < size; r++)
        {
            int node = expectedNode[r];
            int local = Enumerable.Range(0, r).Count(q => expectedNode[q] == node);
            int rail = Enumerable.Range(0, nodeCount).Count(j => j < node && sizes[j] > local);
            int railSize = sizes.Count(s => s > local);
            Expect(comm, Field(r, 0) == node && Field(r, 1) == local && Field(r, 2) == sizes[node] && Field(r, 3) == rail && Field(r, 4) == railSize,
                $"rank {r} reports node {Field(r, 0)}, node rank {Field(r, 1)} of {Field(r, 2)}, rail rank {Field(r, 3)} of {Field(r, 4)}; expected {node}, {local} of {sizes[node]}, {rail} of {railSize}");
        }
    }

    /// <summary>The node of each rank: rank / k under the override, else by machine name, numbered by lowest rank.</summary>
    private static int[] ExpectedNodes(ICommunicator comm)
    {
        if (RanksPerNode() is int k)
        {
            return [.. Enumerable.Range(0, comm.Size).Select(r => r / k)];
        }

        byte[] name = System.Text.Encoding.UTF8.GetBytes(Environment.MachineName);
        var lengths = new int[comm.Size];
        comm.Allgather<int>([name.Length], lengths);
        var names = new byte[lengths.Sum()];
        comm.Allgatherv(name, lengths, names);
        var hosts = new List<string>();
        var nodes = new int[comm.Size];
        for (int r = 0, offset = 0; r < comm.Size; offset += lengths[r], r++)
        {
            string host = System.Text.Encoding.UTF8.GetString(names, offset, lengths[r]);
            if (!hosts.Contains(host))
            {
                hosts.Add(host);
            }

            nodes[r] = hosts.IndexOf(host);
        }

        return nodes;
    }

    private static int? RanksPerNode() =>
        TestHooks.RanksPerNode ?? (int.TryParse(Environment.GetEnvironmentVariable(NodeTopology.RanksPerNodeVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int k) ? k : null);

    /// <summary>
    /// The node and rail communicators are communicators of their own: exact sums, gathers and broadcasts over their
    /// members only, in step with the world's collectives in between.
    /// </summary>
    private static void CommunicatorsWork(ICommunicator comm)
    {
        using NodeTopology topology = Split(comm);
        var nodeRanks = new int[topology.Node.Size];
        topology.Node.Allgather<int>([comm.Rank], nodeRanks);
        Expect(comm, nodeRanks.SequenceEqual(nodeRanks.Order()) && nodeRanks[topology.Node.Rank] == comm.Rank, $"node members [{string.Join(",", nodeRanks)}] out of order");
        var railRanks = new int[topology.Rail.Size];
        topology.Rail.Allgather<int>([comm.Rank], railRanks);
        Expect(comm, railRanks[topology.Rail.Rank] == comm.Rank, $"rail members [{string.Join(",", railRanks)}]");

        float[] nodeSum = [comm.Rank + 1, 1];
        topology.Node.AllreduceSum(nodeSum);
        Expect(comm, nodeSum[0] == nodeRanks.Sum(r => r + 1) && nodeSum[1] == topology.Node.Size, $"node sum [{nodeSum[0]}, {nodeSum[1]}]");
        comm.Barrier();   // a world collective between two of the rail's
        float[] railSum = [comm.Rank + 1];
        topology.Rail.AllreduceSum(railSum);
        Expect(comm, railSum[0] == railRanks.Sum(r => r + 1), $"rail sum {railSum[0]}, members [{string.Join(",", railRanks)}]");

        byte[] fromFirst = [(byte)(comm.Rank % 251), 7];
        topology.Rail.Broadcast(fromFirst, root: 0);
        Expect(comm, fromFirst[0] == (byte)(railRanks[0] % 251) && fromFirst[1] == 7, $"rail broadcast gave {fromFirst[0]}");
    }

    /// <summary>
    /// The reduce-scatter the node-aware collectives sum a node with (internal: the library's transports have it), over the
    /// world and over the node: each rank gets the exact sum of its block, blocks of uneven sizes and empty ones included
    /// (integer-valued floats, so any order of addition gives the exact sum); counts that do not add up to the data are
    /// refused on every rank before anything moves.
    /// </summary>
    private static void ReduceScatterSumsEachBlock(ICommunicator comm)
    {
        using NodeTopology topology = Split(comm);
        foreach (ICommunicator group in new[] { comm, topology.Node })
        {
            var reduceScatter = group as IReduceScatterCommunicator ?? throw new ContractException($"{group.GetType().Name} has no reduce-scatter.");
            int[] counts = [.. Enumerable.Range(0, group.Size).Select(r => (r * 7) % 5 * 300)];
            float[] data = [.. Enumerable.Range(0, counts.Sum()).Select(i => (float)(((group.Rank + 1) * (i + 3)) % 1000))];
            var mine = new float[counts[group.Rank] + 1];
            mine[^1] = -7;
            reduceScatter.ReduceScatterSum(data, mine, counts);
            int start = counts.Take(group.Rank).Sum();
            for (int i = 0; i < counts[group.Rank]; i++)
            {
                int index = start + i;
                float expected = Enumerable.Range(0, group.Size).Sum(r => (float)(((r + 1) * (index + 3)) % 1000));
                Expect(comm, mine[i] == expected, $"group of {group.Size}: element {index} is {mine[i]}, expected {expected}");
            }

            Expect(comm, mine[^1] == -7, "the reduce-scatter wrote past this rank's block");
            bool refused = false;
            try
            {
                reduceScatter.ReduceScatterSum(data.AsSpan(1), mine, counts);
            }
            catch (ArgumentException)
            {
                refused = true;
            }

            Expect(comm, refused, "counts that do not add up to the data were not refused");
        }
    }

    /// <summary>
    /// A grouping that does not divide the ranks, and one set on some ranks only, raise InvalidOperationException naming
    /// the variable on every rank, before any split; the next split works.
    /// </summary>
    private static void BadOverrideFails(ICommunicator comm)
    {
        int? saved = TestHooks.RanksPerNode;
        try
        {
            foreach ((string what, int? value, string words) in new[] { ("not a divisor", (int?)(comm.Size + 1), "does not divide"), ("on rank 0 only", comm.Rank == 0 ? 1 : null, "differs between ranks") })
            {
                if (comm.Size == 1 && what == "on rank 0 only")
                {
                    continue;
                }

                TestHooks.RanksPerNode = value;
                Exception? error = null;
                try
                {
                    Split(comm).Dispose();
                }
#pragma warning disable CA1031 // the contract inspects whatever was thrown
                catch (Exception caught)
#pragma warning restore CA1031
                {
                    error = caught;
                }

                Expect(comm, error is InvalidOperationException && error.Message.Contains(NodeTopology.RanksPerNodeVariable, StringComparison.Ordinal) && error.Message.Contains(words, StringComparison.Ordinal), $"{what}: {error?.GetType().Name ?? "no error"}: {error?.Message}");
            }
        }
        finally
        {
            TestHooks.RanksPerNode = saved;
        }

        using NodeTopology topology = Split(comm);
        Expect(comm, topology.NodeCount >= 1, "the split after the refusals");
    }

    /// <summary>
    /// Splitting and disposing many times: every split's communicators are freed (an MPI library has a few thousand
    /// communicator ids; MPICH runs out near 2,000 without MPI_Comm_free) and the world stays in step.
    /// </summary>
    public static void SplitRepeatedly(ICommunicator comm, int times)
    {
        for (int i = 0; i < times; i++)
        {
            using NodeTopology topology = Split(comm);
            if (i % 10 == 0)
            {
                float[] one = [1];
                topology.Node.AllreduceSum(one);
                Expect(comm, one[0] == topology.Node.Size, $"split {i}: node sum {one[0]}");
            }
        }

        var sizes = new int[comm.Size];
        comm.Allgather<int>([comm.Size], sizes);
        Expect(comm, sizes.All(s => s == comm.Size), "the world after the splits");
    }
}
