namespace AtomoCollectives.Tests.Transport;

/// <summary>
/// <see cref="NodeTopologyContract"/> over <see cref="InProcessCluster"/>: its threads as one node, and grouped by the
/// <c>ATOMO_RANKS_PER_NODE</c> override (<see cref="TestHooks.RanksPerNode"/>, which reaches every rank's thread and no
/// other test); then what only the in-process transport shows (a failure reaching the ranks waiting on a node or a
/// rail) and the rules of <see cref="NodeTopology"/> itself.
/// </summary>
[Collection("Transport")]
public sealed class NodeTopologyTests
{
    /// <summary>Ranks and ranks per node (0: no override, the process is one node).</summary>
    private static readonly (int Ranks, int PerNode)[] Groupings = [(1, 0), (4, 0), (16, 0), (4, 2), (8, 4), (8, 2), (6, 3), (5, 1)];

    public static TheoryData<string, int, int> CasesAndGroupings()
    {
        var data = new TheoryData<string, int, int>();
        foreach ((string name, _) in NodeTopologyContract.Cases)
        {
            foreach ((int ranks, int perNode) in Groupings)
            {
                data.Add(name, ranks, perNode);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CasesAndGroupings))]
    public void Contract(string name, int ranks, int perNode)
    {
        Action<ICommunicator> run = NodeTopologyContract.Cases.Single(c => c.Name == name).Run;
        RunGrouped(ranks, perNode, run);
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="ranks"/> in-process ranks, <paramref name="perNode"/> per node (0: one node).</summary>
    internal static void RunGrouped(int ranks, int perNode, Action<ICommunicator> body)
    {
        TestHooks.RanksPerNode = perNode == 0 ? null : perNode;
        try
        {
            InProcessCluster.Run(ranks, body);
        }
        finally
        {
            TestHooks.RanksPerNode = null;
        }
    }

    [Fact]
    public void A_rank_that_throws_releases_the_ranks_waiting_on_its_node_and_rail()
    {
        var error = Assert.Throws<AggregateException>(() => RunGrouped(8, 4, comm =>
        {
            using NodeTopology topology = ((INodeAwareCommunicator)comm).SplitByNode();
            if (comm.Rank == 5)
            {
                throw new InvalidOperationException("rank 5 broke");
            }

            // Node 1 waits for rank 5 in a node collective, rail 1 (ranks 1 and 5) in a rail collective, the others in
            // the world: all are released with the failure, none waits forever.
            var failure = Assert.Throws<RankFailedException>(() =>
            {
                if (comm.Rank is 4 or 6 or 7)
                {
                    topology.Node.AllreduceSum(new float[3]);
                }
                else if (comm.Rank == 1)
                {
                    topology.Rail.Barrier();
                }
                else
                {
                    comm.Barrier();
                }
            });
            Assert.Equal(5, failure.FailedRank);
            throw failure;
        }));
        Assert.Equal("rank 5 broke", Assert.IsType<InvalidOperationException>(Assert.Single(error.InnerExceptions)).Message);
    }

    [Fact]
    public void A_rank_that_returns_fails_the_ranks_waiting_for_it_on_its_rail()
    {
        var error = Assert.Throws<AggregateException>(() => RunGrouped(4, 2, comm =>
        {
            NodeTopology topology = ((INodeAwareCommunicator)comm).SplitByNode();
            if (comm.Rank == 2)
            {
                return;   // leaves without the rail collective rank 0 waits in
            }

            if (comm.Rank == 0)
            {
                var abandoned = Assert.Throws<InvalidOperationException>(() => topology.Rail.AllreduceSum(new float[1]));
                Assert.Contains("returned without calling", abandoned.Message, StringComparison.Ordinal);
                throw abandoned;
            }
        }));
        Assert.Contains("Rank 2 returned", Assert.Single(error.InnerExceptions).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_constructor_refuses_counts_that_do_not_fit_together() => InProcessCluster.Run(2, comm =>
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeTopology(comm, comm, nodeCount: 0, nodeIndex: 0, isUniform: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeTopology(comm, comm, nodeCount: 2, nodeIndex: 2, isUniform: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeTopology(comm, comm, nodeCount: 1, nodeIndex: 0, isUniform: false));   // a rail of 2 over 1 node
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeTopology(comm, comm, nodeCount: 3, nodeIndex: 0, isUniform: true));   // uniform: rail size = nodes
        Assert.Throws<ArgumentNullException>(() => new NodeTopology(null!, comm, 1, 0, true));
        var made = new NodeTopology(comm, comm, nodeCount: 2, nodeIndex: comm.Rank, isUniform: true);
        Assert.Equal((2, comm.Rank, true), (made.NodeCount, made.NodeIndex, made.IsUniform));
    });
}
