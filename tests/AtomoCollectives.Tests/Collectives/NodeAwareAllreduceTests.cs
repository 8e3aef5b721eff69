using AtomoCollectives.Tests.Transport;

namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// The whole <see cref="AllreduceContract"/> over in-process ranks grouped into nodes (<see cref="TestHooks.RanksPerNode"/>,
/// the in-process form of <c>ATOMO_RANKS_PER_NODE</c>): 2 nodes of 2, 2 of 4 and 4 of 2, where
/// <see cref="AtomoAllreduce"/> (Auto) takes the node-aware exchange; then what only a grouping shows.
/// </summary>
public sealed class NodeAwareAllreduceTests
{
    private static readonly (int Ranks, int PerNode)[] Groupings = [(4, 2), (8, 4), (8, 2)];

    private static readonly TensorShape[] Shapes = AllreduceContract.ModelShapes;

    public static TheoryData<string, int, int> CasesAndGroupings()
    {
        var data = new TheoryData<string, int, int>();
        foreach ((string name, _) in AllreduceContract.Cases)
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
    public void Contract_holds_over_nodes(string name, int ranks, int perNode)
        => NodeTopologyTests.RunGrouped(ranks, perNode, AllreduceContract.Cases.Single(c => c.Name == name).Run);

    /// <summary>
    /// The dense node-aware way of the choice of exchange (<see cref="Exchange.DenseNode"/>) checks every tensor before
    /// the header, as the other ways do: a NaN on one rank raises there (naming the tensor and index) and on every other
    /// rank, no rank's tensors change; the call again (a failed call is not counted, so it takes the same way) gives every
    /// rank the same bits, the mean to within the rounding of the node's and the rail's sums (bound: 3 additions of 4
    /// floats and an exact scale by 1/4, each within 2^-24 of the absolute sum; 2^-21 of it), every tensor dense.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_dense_node_aware_call_refuses_a_NaN_on_every_rank_then_averages(bool sharedMemory)
    {
        TestHooks.NodeSharedMemory = sharedMemory;
        try
        {
            NodeTopologyTests.RunGrouped(4, 2, comm =>
            {
                AtomoOptions options = AllreduceContract.TimedOptions();
                options.NodeAware = NodeAwareMode.Auto;
                options.DenseWarmupSteps = 0;
                using var allreduce = new AtomoAllreduce(comm, options);
                int firstDenseNode = Array.FindIndex(ExchangeChoice.FirstRound([Exchange.NodeAware, Exchange.Flat, Exchange.Dense, Exchange.DenseNode]), t => t.Way == Exchange.DenseNode);
                for (int call = 0; call < firstDenseNode; call++)
                {
                    allreduce.Average(AllreduceContract.AsMemory(AllreduceContract.Gradients(Shapes, comm.Rank, call)), Shapes);
                }

                float[][] tensors = AllreduceContract.Gradients(Shapes, comm.Rank, 100);
                float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
                if (comm.Rank == 1)
                {
                    tensors[2][5] = float.NaN;
                }

                Exception? error = Record.Exception(() => allreduce.Average(AllreduceContract.AsMemory(tensors), Shapes));
                if (comm.Rank == 1)
                {
                    Assert.Contains("Tensor 2 ", Assert.IsType<ArgumentException>(error).Message, StringComparison.Ordinal);
                    tensors[2][5] = before[2][5];
                }
                else
                {
                    Assert.Contains("Rank 1 failed", Assert.IsType<InvalidOperationException>(error).Message, StringComparison.Ordinal);
                }

                Assert.All(Enumerable.Range(0, tensors.Length), t => Assert.Equal(before[t], tensors[t]));
                allreduce.Average(AllreduceContract.AsMemory(tensors), Shapes);
                Assert.Equal(sharedMemory, allreduce.SharesNodeMemory);
                Assert.True(allreduce.LastCall.BytesSentWithinNode > 0, "the dense node-aware way sums within the node");
                Assert.All(allreduce.LastCall.Decisions, d => Assert.NotEqual(TensorRoute.Compressed, d.Route));
                AssertSameOnEveryRank(comm, tensors);
                AssertDenseMeanOfFour(comm, Shapes, 100, tensors);
            });
        }
        finally
        {
            TestHooks.NodeSharedMemory = null;
        }
    }

    /// <summary>
    /// The node-aware cases with the node's shared memory off (<c>ATOMO_NODE_SHARED_MEMORY=0</c>): the node sums go
    /// through the transport's reduce-scatter and allgather instead, to the same contract.
    /// </summary>
    [Theory]
    [MemberData(nameof(NodeCases), true)]
    public void Contract_holds_with_node_sums_through_the_collectives(string name)
    {
        TestHooks.NodeSharedMemory = false;
        try
        {
            NodeTopologyTests.RunGrouped(8, 4, AllreduceContract.Cases.Single(c => c.Name == name).Run);
        }
        finally
        {
            TestHooks.NodeSharedMemory = null;
        }
    }

    /// <summary>
    /// The contract's cases that exercise the node's sums, for the runs over other node sums than the default; with
    /// <paramref name="ownTransport"/> also those that pin the library's own transports (its traffic counts, its shared memory).
    /// </summary>
    public static TheoryData<string> NodeCases(bool ownTransport)
    {
        string[] names =
        [
            "allreduce-bitwise-identical-on-every-rank",
            "allreduce-exact-when-budget-covers-every-atom",
            "allreduce-unbiased-over-steps-coordinate",
            "allreduce-decode-failure-on-one-rank-fails-on-every-rank",
            "node-aware-dense-equals-flat-dense",
            "dense-node-bitwise-identical-on-every-rank",
            .. ownTransport ? (string[])["node-aware-traffic-within-and-between-nodes", "node-sums-through-shared-memory"] : [],
        ];
        return [.. names];
    }

    public static TheoryData<int, int> GroupingData()
    {
        var data = new TheoryData<int, int>();
        foreach ((int ranks, int perNode) in Groupings)
        {
            data.Add(ranks, perNode);
        }

        return data;
    }

    /// <summary>
    /// <see cref="RoutingRule.Time"/> (the default) with the node-aware exchange (On, so that every call takes it): past
    /// the steps the time rule needs to decide (it would from the 5th call on), no tensor is routed or predicted by time,
    /// the exchange between nodes routes by bytes, and every rank ends with the same bits.
    /// </summary>
    [Theory]
    [MemberData(nameof(GroupingData))]
    public void The_node_aware_exchange_routes_by_bytes(int ranks, int perNode) => NodeTopologyTests.RunGrouped(ranks, perNode, comm =>
    {
        AtomoOptions options = AllreduceContract.TimedOptions();
        options.NodeAware = NodeAwareMode.On;
        using var allreduce = new AtomoAllreduce(comm, options);
        for (int step = 0; step < 8; step++)
        {
            float[][] tensors = AllreduceContract.Gradients(Shapes, comm.Rank, step);
            allreduce.Average(AllreduceContract.AsMemory(tensors), Shapes);
            AssertSameOnEveryRank(comm, tensors);
            Assert.True(allreduce.IsNodeAware && allreduce.ChosenExchange is null);
            Assert.All(allreduce.LastCall.Decisions, d => Assert.Null(d.Prediction));
            Assert.DoesNotContain(allreduce.LastCall.Decisions, d => d.Route == TensorRoute.DenseFaster);
            Assert.Contains(allreduce.LastCall.Decisions, d => d.Route == TensorRoute.Compressed);
        }
    });

    /// <summary>
    /// Auto under the time rule (<see cref="ExchangeChoice"/>): past the dense warm-up, the interleaved trials of the
    /// node-aware exchange (bytes within the node, no time predictions), the flat one (no bytes within the node; the time
    /// rule predicts from its 5th call on, the other ways' calls between its own) and the two dense ways (every tensor dense
    /// by time; the node-aware one with bytes within the node), then whichever every rank agreed was fastest; every call
    /// gives every rank the same bits.
    /// </summary>
    [Theory]
    [MemberData(nameof(GroupingData))]
    public void Auto_under_the_time_rule_tries_every_way_and_keeps_one(int ranks, int perNode) => NodeTopologyTests.RunGrouped(ranks, perNode, comm =>
    {
        AtomoOptions options = AllreduceContract.TimedOptions();
        options.NodeAware = NodeAwareMode.Auto;
        options.DenseWarmupSteps = 2;
        using var allreduce = new AtomoAllreduce(comm, options);
        Exchange[] round = [.. ExchangeChoice.FirstRound([Exchange.NodeAware, Exchange.Flat, Exchange.Dense, Exchange.DenseNode]).Select(t => t.Way)];
        int trialsEnd = options.DenseWarmupSteps + round.Length, flatCalls = 0;
        for (int step = 0; step < trialsEnd + 3; step++)
        {
            Exchange way = step < options.DenseWarmupSteps ? Exchange.NodeAware : step < trialsEnd ? round[step - options.DenseWarmupSteps] : allreduce.ChosenExchange!.Value;
            float[][] tensors = AllreduceContract.Gradients(Shapes, comm.Rank, step);
            allreduce.Average(AllreduceContract.AsMemory(tensors), Shapes);
            AssertSameOnEveryRank(comm, tensors);
            bool nodeAware = allreduce.LastCall.BytesSentWithinNode > 0;
            bool allDenseByTime = allreduce.LastCall.Decisions.All(d => d.Route is TensorRoute.DenseFaster or TensorRoute.DenseSmall or TensorRoute.DenseVector);
            if (step < trialsEnd)
            {
                Assert.Equal(way is Exchange.NodeAware or Exchange.DenseNode, nodeAware);
                Assert.Equal(way.IsDense(), allDenseByTime);
            }

            if (nodeAware)
            {
                Assert.All(allreduce.LastCall.Decisions, d => Assert.Null(d.Prediction));
            }
            else if (way == Exchange.Flat && ++flatCalls > 5 && step < trialsEnd)
            {
                Assert.Contains(allreduce.LastCall.Decisions, d => d.Prediction is not null);
            }

            var taken = new int[comm.Size];
            comm.Allgather<int>([(nodeAware ? 1 : 0) + (allDenseByTime ? 2 : 0)], taken);
            Assert.All(taken, c => Assert.Equal(taken[0], c));
        }

        Assert.NotNull(allreduce.ChosenExchange);
    });

    /// <summary>
    /// Auto is node-aware over these groupings, Off is not, and the default spectral ATOMO gives the same bits on every
    /// rank, spreads the encoding over the node's ranks (each rank's atoms are only those of the tensors it owns; the
    /// node's ranks together send each compressed tensor's payload once) and moves fewer bytes between nodes than flat.
    /// </summary>
    [Theory]
    [MemberData(nameof(GroupingData))]
    public void Auto_goes_node_aware_and_splits_the_encoding(int ranks, int perNode) => NodeTopologyTests.RunGrouped(ranks, perNode, comm =>
    {
        using var auto = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, Seed = 4 });
        using var off = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, Seed = 4, NodeAware = NodeAwareMode.Off });
        float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
        auto.Average(AllreduceContract.AsMemory(a), Shapes);
        off.Average(AllreduceContract.AsMemory(b), Shapes);
        Assert.True(auto.IsNodeAware);
        Assert.False(off.IsNodeAware);
        AssertSameOnEveryRank(comm, a);

        var atoms = new long[comm.Size];
        comm.Allgather<long>([auto.LastCall.AtomsSent], atoms);
        int node = comm.Rank / perNode;
        long nodeAtoms = atoms.Skip(node * perNode).Take(perNode).Sum();
        long decided = auto.LastCall.Decisions.Sum(d => (long)d.Atoms);
        Assert.Equal(decided, nodeAtoms);   // the decisions carry the node's payload of each tensor, sent by one of its ranks
        long between = auto.LastCall.BytesSent - auto.LastCall.BytesSentWithinNode;
        Assert.True(between < off.LastCall.BytesSent, $"between nodes {between} B node-aware, {off.LastCall.BytesSent} B flat");
    });

    /// <summary>
    /// One rank's options differ only in <see cref="AtomoOptions.NodeAware"/>: the first call raises on every rank (the
    /// rank with Off at its flat header, the others at the header they exchange before grouping), none waits forever, and
    /// the collective keeps refusing until the options agree.
    /// </summary>
    [Fact]
    public void Ranks_that_disagree_on_node_awareness_fail_together() => NodeTopologyTests.RunGrouped(4, 2, comm =>
    {
        var options = new AtomoOptions { NodeAware = comm.Rank == 3 ? NodeAwareMode.Off : NodeAwareMode.Auto, Seed = 2 };
        using var allreduce = new AtomoAllreduce(comm, options);
        for (int call = 0; call < 2; call++)
        {
            float[][] tensors = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
            var error = Assert.Throws<InvalidOperationException>(() => allreduce.Average(AllreduceContract.AsMemory(tensors), Shapes));
            Assert.Contains("different AtomoOptions", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, allreduce.Step);
        }
    });

    /// <summary>
    /// A saved state resumes the node-aware exchange where it was: each position's warm-start basis stays with the rank
    /// that encodes it, so a fresh averager loaded with every rank's state gives the bits the first one gives.
    /// </summary>
    [Fact]
    public void A_loaded_state_continues_with_the_same_bits() => NodeTopologyTests.RunGrouped(4, 2, comm =>
    {
        var options = new AtomoOptions { MinimumCompressedElements = 16, Seed = 6 };
        using var first = new AtomoAllreduce(comm, options);
        for (int step = 0; step < 3; step++)
        {
            first.Average(AllreduceContract.AsMemory(AllreduceContract.Gradients(Shapes, comm.Rank, step)), Shapes);
        }

        using var state = new MemoryStream();
        first.SaveState(state);
        state.Position = 0;
        using var resumed = new AtomoAllreduce(comm, options);
        resumed.LoadState(state);
        float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 3), b = AllreduceContract.Gradients(Shapes, comm.Rank, 3);
        first.Average(AllreduceContract.AsMemory(a), Shapes);
        resumed.Average(AllreduceContract.AsMemory(b), Shapes);
        Assert.True(resumed.IsNodeAware && resumed.Step == 4);
        Assert.Equal(AllreduceContract.Hash(a), AllreduceContract.Hash(b));
    });

    /// <summary>
    /// The node's sharing in rounds (a total above <see cref="NodeAllreduce.ShareRoundBytes"/>, lowered here to 1 KiB)
    /// gives the bits of the one-round sharing, for the dense route and for ATOMO.
    /// </summary>
    [Fact]
    public void Sharing_in_rounds_gives_the_same_bits()
    {
        ulong[] Run() => InProcessClusterWithNodes(8, 4, comm =>
        {
            using var dense = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
            using var atomo = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, Seed = 8 });
            float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
            dense.Average(AllreduceContract.AsMemory(a), Shapes);
            atomo.Average(AllreduceContract.AsMemory(b), Shapes);
            return AllreduceContract.Hash(a) ^ (AllreduceContract.Hash(b) * 31);
        });

        ulong[] once = Run();
        int saved = NodeAllreduce.ShareRoundBytes;
        NodeAllreduce.ShareRoundBytes = 1024;
        try
        {
            Assert.Equal(once, Run());
        }
        finally
        {
            NodeAllreduce.ShareRoundBytes = saved;
        }

        Assert.All(once, h => Assert.Equal(once[0], h));
    }

    /// <summary>
    /// Large dense sums go to the transport in pieces (<see cref="Pieces"/>): lowered here to 5 floats per allreduce and 7
    /// per reduce-scatter round (blocks then take many rounds, the last ones with empty blocks), every averager gives
    /// the bits it gives with the default pieces, over nodes and flat.
    /// </summary>
    [Fact]
    public void Pieces_give_the_same_bits()
    {
        ulong[] Run()
        {
            ulong[] overNodes = InProcessClusterWithNodes(8, 4, comm =>
            {
                using var dense = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
                using var atomo = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, Seed = 8 });
                float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
                dense.Average(AllreduceContract.AsMemory(a), Shapes);
                atomo.Average(AllreduceContract.AsMemory(b), Shapes);
                Assert.True(atomo.IsNodeAware && dense.IsNodeAware);
                return AllreduceContract.Hash(a) ^ (AllreduceContract.Hash(b) * 31);
            });
            ulong[] flat = InProcessCluster.Run(4, comm =>
            {
                using var dense = new DenseAllreduce(comm);
                using var atomo = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, Seed = 8, NodeAware = NodeAwareMode.Off });
                using var powerSgd = new PowerSgdAllreduce(comm, new PowerSgdOptions { Seed = 8 });
                float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0), c = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
                dense.Average(AllreduceContract.AsMemory(a), Shapes);
                atomo.Average(AllreduceContract.AsMemory(b), Shapes);
                powerSgd.Average(AllreduceContract.AsMemory(c), Shapes);
                return AllreduceContract.Hash(a) ^ (AllreduceContract.Hash(b) * 31) ^ (AllreduceContract.Hash(c) * 961);
            });
            return [.. overNodes, .. flat];
        }

        ulong[] whole = Run();
        (int allreduce, int block, int round) = (Pieces.AllreduceFloats, Pieces.AllreduceBlockFloats, Pieces.ReduceScatterRoundFloats);
        (Pieces.AllreduceFloats, Pieces.AllreduceBlockFloats, Pieces.ReduceScatterRoundFloats) = (5, 1, 7);
        try
        {
            Assert.Equal(whole, Run());
        }
        finally
        {
            (Pieces.AllreduceFloats, Pieces.AllreduceBlockFloats, Pieces.ReduceScatterRoundFloats) = (allreduce, block, round);
        }

        Assert.All(whole[..8], h => Assert.Equal(whole[0], h));
        Assert.All(whole[8..], h => Assert.Equal(whole[8], h));
    }

    /// <summary>
    /// Nodes of different sizes (a transport's own grouping; the override always divides evenly): Auto stays flat and
    /// averages, On refuses on every rank with a message naming the uneven nodes.
    /// </summary>
    [Fact]
    public void Uneven_nodes_stay_flat_under_Auto_and_are_refused_under_On() => InProcessCluster.Run(3, world =>
    {
        using var comm = new ForwardedNodes(world, perNode: 2);
        using var auto = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16 });
        float[][] tensors = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
        auto.Average(AllreduceContract.AsMemory(tensors), Shapes);
        Assert.False(auto.IsNodeAware);
        AssertSameOnEveryRank(comm, tensors);

        using var on = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
        var error = Assert.Throws<InvalidOperationException>(() => on.Average(AllreduceContract.AsMemory(AllreduceContract.Gradients(Shapes, comm.Rank, 0)), Shapes));
        Assert.Contains("same number of ranks on every node", error.Message, StringComparison.Ordinal);
    });

    /// <summary>
    /// A transport's own grouping whose node communicator has no reduce-scatter (a transport written on the public API):
    /// the node's sum falls back to an allreduce, and the contract's cases still hold over it.
    /// </summary>
    [Theory]
    [MemberData(nameof(NodeCases), false)]
    public void Contract_holds_over_nodes_without_a_reduce_scatter(string name) => InProcessCluster.Run(4, world =>
    {
        using var comm = new ForwardedNodes(world, perNode: 2);
        AllreduceContract.Cases.Single(c => c.Name == name).Run(comm);
        using var probe = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16 });
        probe.Average(AllreduceContract.AsMemory(AllreduceContract.Gradients(Shapes, comm.Rank, 0)), Shapes);
        Assert.True(probe.IsNodeAware);
    });

    /// <summary>On over one node, and over one rank per node: the node-aware route still averages, the same bits everywhere.</summary>
    [Theory]
    [InlineData(4, 0)]
    [InlineData(4, 1)]
    public void On_works_over_one_node_and_over_one_rank_per_node(int ranks, int perNode) => NodeTopologyTests.RunGrouped(ranks, perNode, comm =>
    {
        using var atomo = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, NodeAware = NodeAwareMode.On });
        using var dense = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
        float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
        atomo.Average(AllreduceContract.AsMemory(a), Shapes);
        dense.Average(AllreduceContract.AsMemory(b), Shapes);
        Assert.True(atomo.IsNodeAware && dense.IsNodeAware);
        AssertSameOnEveryRank(comm, a);
        AssertSameOnEveryRank(comm, b);
    });

    private static T[] InProcessClusterWithNodes<T>(int ranks, int perNode, Func<ICommunicator, T> body)
    {
        TestHooks.RanksPerNode = perNode;
        try
        {
            return InProcessCluster.Run(ranks, body);
        }
        finally
        {
            TestHooks.RanksPerNode = null;
        }
    }

    /// <summary>
    /// Groups of nodes (<see cref="NodeGroups"/>, set through <see cref="TestHooks.NodeGroupSize"/>): 4 nodes of 2 in 2
    /// groups of 2; 4 nodes in groups of 3 and 1 (a group of one passes its node's payloads on as they are); 6 nodes in
    /// groups of 4 and 2.
    /// </summary>
    private static readonly (int Ranks, int PerNode, int GroupSize)[] GroupedGroupings = [(8, 2, 2), (8, 2, 3), (12, 2, 4)];

    /// <summary>
    /// The contract's cases over <see cref="GroupedGroupings"/>, but for those unbiased over steps: their bound is the
    /// variance of one compression of the node sums, and groups add a second
    /// (<see cref="Groups_stay_unbiased_with_the_variance_of_the_second_compression"/> bounds that one).
    /// </summary>
    public static TheoryData<string, int, int, int> CasesOverGroups()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach ((string name, _) in AllreduceContract.Cases.Where(c => !c.Name.StartsWith("allreduce-unbiased-over-steps", StringComparison.Ordinal)))
        {
            foreach ((int ranks, int perNode, int groupSize) in GroupedGroupings)
            {
                data.Add(name, ranks, perNode, groupSize);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CasesOverGroups))]
    public void Contract_holds_over_groups_of_nodes(string name, int ranks, int perNode, int groupSize)
        => RunInGroups(ranks, perNode, groupSize, AllreduceContract.Cases.Single(c => c.Name == name).Run);

    /// <summary>
    /// The second compression alone is random here: each node's ranks write only its own 10 coordinates, so a node's sum
    /// has 10 non-zero coordinate atoms, all kept with budget 12 (the test checks every probability is 0 or 1); a group's
    /// sum has 20, sampled independently. The mean of 2,000 steps must lie within 5 standard errors of the true mean,
    /// the variance being the sparsifier's at each group's exact sum, over N² (<see cref="AllreduceContract.ExpectUnbiased"/>).
    /// The first compression's unbiasedness over nodes is the contract's (<see cref="Contract_holds_over_nodes"/>); with
    /// both, the result is unbiased by the tower property.
    /// </summary>
    [Fact]
    public void Groups_stay_unbiased_with_the_variance_of_the_second_compression() => RunInGroups(8, 2, 2, comm =>
    {
        const int steps = 2000, perNodeSupport = 10;
        TensorShape shape = TensorShape.Matrix(24, 20);
        var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 12, Sampling = Sampling.Independent, MinimumCompressedElements = 16, NodeAware = NodeAwareMode.On, Seed = 23 };
        using var allreduce = new AtomoAllreduce(comm, options);
        float[][] inputs = [.. Enumerable.Range(0, comm.Size).Select(r => NodeSupported(shape, r, node: r / 2, perNodeSupport))];
        var sum = new double[shape.ElementCount];
        var buffer = new float[shape.ElementCount];
        for (int step = 0; step < steps; step++)
        {
            inputs[comm.Rank].CopyTo(buffer, 0);
            allreduce.Average(buffer, shape);
            Assert.Equal(TensorRoute.Compressed, allreduce.LastCall.Decisions[0].Route);
            for (int i = 0; i < buffer.Length; i++)
            {
                sum[i] += buffer[i];
            }
        }

        var mean = new double[shape.ElementCount];
        float[][] nodeSums = [.. Enumerable.Range(0, 4).Select(_ => new float[shape.ElementCount])];
        for (int r = 0; r < comm.Size; r++)
        {
            for (int i = 0; i < shape.ElementCount; i++)
            {
                mean[i] += inputs[r][i] / (double)comm.Size;
                nodeSums[r / 2][i] += inputs[r][i];
            }
        }

        foreach (float[] nodeSum in nodeSums)
        {
            var p = new double[nodeSum.Length];
            AtomicSparsifier.Probabilities(nodeSum, options.Budget, p);
            Assert.All(p, q => Assert.True(q is 0 or 1, $"a node's atom is kept with probability {q}: the first compression is random"));
        }

        float[][] groupSums = [.. Enumerable.Range(0, 2).Select(g => nodeSums[2 * g].Zip(nodeSums[(2 * g) + 1], (a, b) => a + b).ToArray())];
        double[] variance = AllreduceContract.EstimateVariance(groupSums, shape, options, comm.Size);
        Assert.True(variance.Count(v => v > 0) >= 2 * 2 * perNodeSupport, "the group sums' atoms are sampled");
        AllreduceContract.ExpectUnbiased(comm, sum, steps, mean, variance, "groups");
    });

    /// <summary>
    /// 6 nodes in 2 groups of 3 against no groups: each rank receives the payloads of its group's 2 other nodes and of the
    /// other group (3) instead of the 5 other nodes', so fewer bytes between nodes, and every rank ends with the same bits.
    /// </summary>
    [Fact]
    public void Groups_cut_what_a_node_receives() => NodeTopologyTests.RunGrouped(12, 2, comm =>
    {
        var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 40, MinimumCompressedElements = 16, NodeAware = NodeAwareMode.On, Seed = 5 };
        using var flat = new AtomoAllreduce(comm, options);
        options.NodeGroupSize = 3;
        using var grouped = new AtomoAllreduce(comm, options);
        float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
        flat.Average(AllreduceContract.AsMemory(a), Shapes);
        grouped.Average(AllreduceContract.AsMemory(b), Shapes);
        AssertSameOnEveryRank(comm, b);
        Assert.Equal(flat.LastCall.Decisions.Select(d => d.Route), grouped.LastCall.Decisions.Select(d => d.Route));
        long Between(AtomoAllreduce x) => x.LastCall.BytesReceived - x.LastCall.BytesReceivedWithinNode;
        Assert.True(Between(grouped) < Between(flat), $"received between nodes: {Between(grouped)} B in groups, {Between(flat)} B without");
    });

    /// <summary>
    /// Every node's sum of tensor 0 is finite (2·10³⁸), but each group's sum of two nodes overflows float: the leaders'
    /// owners of tensor 0 fail to decode it (one per group), every rank raises, no rank's tensors change, and the next
    /// call gives every rank the same bits.
    /// </summary>
    [Fact]
    public void A_group_sum_that_overflows_fails_on_every_rank() => RunInGroups(8, 2, 2, comm =>
    {
        var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 1e9, MinimumCompressedElements = 16, DenseWhenCheaper = false, NodeAware = NodeAwareMode.On, Seed = 3 };
        using var allreduce = new AtomoAllreduce(comm, options);
        float[][] tensors = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
        Array.Fill(tensors[0], 1e38f);
        float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
        Exception? error = Record.Exception(() => allreduce.Average(AllreduceContract.AsMemory(tensors), Shapes));
        Assert.IsType<InvalidOperationException>(error);
        var again = new int[comm.Size];
        comm.Allgather<int>([error.Message.Contains("cannot be compressed again", StringComparison.Ordinal) && error.Message.Contains("overflow", StringComparison.Ordinal) ? 1 : 0], again);
        Assert.Equal(2, again.Sum());
        for (int t = 0; t < tensors.Length; t++)
        {
            Assert.Equal(before[t], tensors[t]);
        }

        float[][] good = AllreduceContract.Gradients(Shapes, comm.Rank, 1);
        allreduce.Average(AllreduceContract.AsMemory(good), Shapes);
        AssertSameOnEveryRank(comm, good);
    });

    private static void RunInGroups(int ranks, int perNode, int groupSize, Action<ICommunicator> body)
    {
        TestHooks.NodeGroupSize = groupSize;
        try
        {
            NodeTopologyTests.RunGrouped(ranks, perNode, body);
        }
        finally
        {
            TestHooks.NodeGroupSize = null;
        }
    }

    /// <summary>Rank <paramref name="rank"/>'s values: non-zero only on its node's <paramref name="support"/> coordinates, <c>[node·support, (node + 1)·support)</c>.</summary>
    private static float[] NodeSupported(TensorShape shape, int rank, int node, int support)
    {
        var values = new float[shape.ElementCount];
        var random = new Random(500 + rank);
        for (int i = node * support; i < (node + 1) * support; i++)
        {
            values[i] = (float)(random.NextDouble() + 0.5);
        }

        return values;
    }

    /// <summary>
    /// <paramref name="tensors"/> hold the mean of the 4 ranks' <see cref="AllreduceContract.Gradients"/> at
    /// <paramref name="step"/>, summed densely: 3 additions of 4 floats, each within 2^-24 of the absolute sum, and an
    /// exact scale by 1/4 (bound: 2^-21 of the absolute sum over 4).
    /// </summary>
    internal static void AssertDenseMeanOfFour(ICommunicator comm, TensorShape[] shapes, long step, float[][] tensors)
    {
        Assert.Equal(4, comm.Size);
        float[][][] all = [.. Enumerable.Range(0, comm.Size).Select(r => AllreduceContract.Gradients(shapes, r, step))];
        for (int t = 0; t < tensors.Length; t++)
        {
            for (int i = 0; i < tensors[t].Length; i++)
            {
                double exact = all.Sum(g => (double)g[t][i]) / comm.Size;
                double bound = Math.Pow(2, -21) * all.Sum(g => Math.Abs((double)g[t][i])) / comm.Size;
                Assert.True(Math.Abs(tensors[t][i] - exact) <= bound, $"tensor {t} element {i}: {tensors[t][i]} against {exact}, bound {bound}");
            }
        }
    }

    private static void AssertSameOnEveryRank(ICommunicator comm, float[][] tensors)
    {
        var hashes = new ulong[comm.Size];
        comm.Allgather<ulong>([AllreduceContract.Hash(tensors)], hashes);
        Assert.All(hashes, h => Assert.Equal(hashes[0], h));
    }

    /// <summary>
    /// A transport that groups <paramref name="perNode"/> consecutive ranks into a node (the last node may hold fewer),
    /// written with the public pieces a transport of one's own has: its node and rail communicators are plain
    /// <see cref="ICommunicator"/>s (the in-process splits behind them stand in for the transport's).
    /// </summary>
    private sealed class ForwardedNodes(ICommunicator world, int perNode) : Forwarding(world, owns: false), INodeAwareCommunicator
    {
        private readonly ICommunicatorSplitter _splitter = (ICommunicatorSplitter)world;

        public NodeTopology SplitByNode()
        {
            int nodeIndex = Rank / perNode;
            ICommunicator node = _splitter.Split(nodeIndex, Rank);
            ICommunicator rail = _splitter.Split(node.Rank, nodeIndex);
            int nodes = ((Size - 1) / perNode) + 1;
            return new NodeTopology(new Forwarding(node, owns: true), new Forwarding(rail, owns: true), nodes, nodeIndex, isUniform: Size % perNode == 0);
        }
    }

    /// <summary>Only <see cref="ICommunicator"/>'s members of a communicator (disposing it when it <paramref name="owns"/> it).</summary>
    private class Forwarding(ICommunicator inner, bool owns) : ICommunicator
    {
        public int Rank => inner.Rank;

        public int Size => inner.Size;

        public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged => inner.Allgather(send, receive);

        public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, Span<byte> receive) => inner.Allgatherv(send, counts, receive);

        public void Allgatherv(ReadOnlySpan<byte> send, ReadOnlySpan<int> counts, ReadOnlySpan<Memory<byte>> receive) => inner.Allgatherv(send, counts, receive);

        public CollectiveRequest StartAllgatherv(ReadOnlyMemory<byte> send, ReadOnlySpan<int> counts, Memory<byte> receive) => inner.StartAllgatherv(send, counts, receive);

        public void AllreduceSum(Span<float> data) => inner.AllreduceSum(data);

        public void Broadcast(Span<byte> data, int root) => inner.Broadcast(data, root);

        public void Barrier() => inner.Barrier();

        public void Dispose()
        {
            if (owns)
            {
                inner.Dispose();
            }
        }
    }
}
