using Microsoft.Extensions.Logging.Abstractions;
using AtomoCollectives.Tests.Transport;

namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// <see cref="NodeSharedBlocks"/>, the node's sums through its shared memory. Its sums and shares, to the bit, are the
/// contract's case <c>node-sums-through-shared-memory</c> (in-process here and under mpiexec); these pin the switch and
/// that the node-aware averagers take it.
/// </summary>
public sealed class NodeSharedBlocksTests
{
    private static readonly TensorShape[] Shapes = [TensorShape.Matrix(64, 48), TensorShape.Vector(48), TensorShape.Matrix(48, 40)];

    [Theory]
    [InlineData(null, 1)]
    [InlineData("", 1)]
    [InlineData(" 1 ", 1)]
    [InlineData("0", 0)]
    [InlineData("off", -1)]
    [InlineData("2", -1)]
    public void The_switch_reads_0_and_1_and_unset_as_on(string? text, int expected) => Assert.Equal(expected, NodeSharedBlocks.ParseSwitch(text));

    /// <summary>Both node-aware averagers sum through the shared memory by default; with it off, through the collectives, to the same contract.</summary>
    [Theory]
    [InlineData(null, true)]
    [InlineData(false, false)]
    public void Node_aware_averagers_take_the_shared_memory_unless_it_is_off(bool? setting, bool shares)
    {
        TestHooks.NodeSharedMemory = setting;
        try
        {
            NodeTopologyTests.RunGrouped(4, 2, comm =>
            {
                using var atomo = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, NodeAware = NodeAwareMode.On, Routing = RoutingRule.Bytes });
                using var dense = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
                float[][] a = AllreduceContract.Gradients(Shapes, comm.Rank, 0), b = AllreduceContract.Gradients(Shapes, comm.Rank, 0);
                atomo.Average(AllreduceContract.AsMemory(a), Shapes);
                dense.Average(AllreduceContract.AsMemory(b), Shapes);
                Assert.Equal(shares, atomo.SharesNodeMemory);
                Assert.Equal(shares, dense.SharesNodeMemory);

                NodeAwareAllreduceTests.AssertDenseMeanOfFour(comm, Shapes, 0, b);
            });
        }
        finally
        {
            TestHooks.NodeSharedMemory = null;
        }
    }

    /// <summary>Ranks that disagree on the switch raise on every rank, naming it, before any memory is shared.</summary>
    [Fact]
    public void Ranks_that_disagree_on_the_switch_fail_together()
    {
        var errors = new Exception?[4];
        NodeTopologyTests.RunGrouped(4, 2, comm =>
        {
            TestHooks.NodeSharedMemory = comm.Rank != 3;   // this rank's thread alone
            using NodeTopology topology = ((INodeAwareCommunicator)comm).SplitByNode();
            errors[comm.Rank] = Record.Exception(() => NodeSharedBlocks.Open(comm, topology.Node, NullLogger.Instance)?.Dispose());
        });

        Assert.All(errors, error =>
        {
            var refused = Assert.IsType<InvalidOperationException>(error);
            Assert.Contains($"{NodeSharedBlocks.Variable} differs between ranks", refused.Message, StringComparison.Ordinal);
        });
    }
}
