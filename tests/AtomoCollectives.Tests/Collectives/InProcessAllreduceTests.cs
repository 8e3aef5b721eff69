namespace AtomoCollectives.Tests.Collectives;

public sealed class InProcessAllreduceTests
{
    public static TheoryData<string, int> CasesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach ((string name, _) in AllreduceContract.Cases)
        {
            foreach (int ranks in new[] { 1, 2, 4 })
            {
                data.Add(name, ranks);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CasesAndSizes))]
    public void Contract_holds_in_process(string name, int ranks)
    {
        Action<ICommunicator> run = AllreduceContract.Cases.Single(c => c.Name == name).Run;
        InProcessCluster.Run(ranks, run);
    }

    /// <summary>
    /// A call with every tensor dense (here the warm-up) decodes nothing, so the decode hook is not reached, and gives
    /// every rank the exact mean.
    /// </summary>
    [Fact]
    public void An_all_dense_call_decodes_nothing() => InProcessCluster.Run(3, comm =>
    {
        using var allreduce = new AtomoAllreduce(comm, new AtomoOptions { DenseWarmupSteps = 1, MinimumCompressedElements = 16 });
        float[][] tensors = AllreduceContract.Gradients(AllreduceContract.ModelShapes, comm.Rank, 0);
        var expected = new float[tensors.Length][];
        for (int t = 0; t < tensors.Length; t++)
        {
            expected[t] = [.. tensors[t]];
            comm.AllreduceSum(expected[t]);
            System.Numerics.Tensors.TensorPrimitives.Multiply(expected[t], 1f / comm.Size, expected[t]);
        }

        TestHooks.BeforeDecode = comm.Rank == 0 ? step => throw new InvalidOperationException($"decode reached at step {step}") : null;
        try
        {
            allreduce.Average(AllreduceContract.AsMemory(tensors), AllreduceContract.ModelShapes);
        }
        finally
        {
            TestHooks.BeforeDecode = null;
        }

        Assert.All(allreduce.LastCall.Decisions, d => Assert.Equal(TensorRoute.DenseWarmup, d.Route));
        for (int t = 0; t < tensors.Length; t++)
        {
            Assert.Equal(expected[t], tensors[t]);
        }
    });

    /// <summary>
    /// The all-dense calls of the choice of exchange (<see cref="Exchange.Dense"/>: without nodes, the first is the 2nd
    /// call of the interleaved trials) check every tensor before the header, then sum where the tensors lie: a NaN on one rank raises
    /// there (naming the tensor and index) and on every other rank (naming that rank), no rank's tensors change, and the
    /// same call then gives every rank the exact mean. The layouts cover each way a tensor is summed (pieces of 10⁶
    /// floats; a quarter piece or more in place): 1, tensors in place between runs of small ones packed into scratch;
    /// 2, a tensor of three pieces, the NaN in the last; 3, 300 small tensors packed into two pieces, the NaN in the second.
    /// </summary>
    [Theory]
    [InlineData(0, 1, 2, 7)]
    [InlineData(1, 1, 2, 600_000)]
    [InlineData(2, 0, 0, 2_050_000)]
    [InlineData(3, 2, 250, 4_999)]
    public void An_all_dense_call_refuses_a_NaN_on_every_rank(int layout, int nanRank, int nanTensor, int nanIndex) => InProcessCluster.Run(3, comm =>
    {
        using var allreduce = new AtomoAllreduce(comm, new AtomoOptions { MinimumCompressedElements = 16, NodeAware = NodeAwareMode.Off });
        TensorShape[] shapes = layout switch
        {
            1 => [TensorShape.Vector(700_000), TensorShape.Matrix(64, 64), TensorShape.Vector(900_000), TensorShape.Vector(10)],   // 1,604,106 floats
            2 => [TensorShape.Vector(2_100_000), TensorShape.Matrix(64, 64), TensorShape.Vector(10)],
            3 => [.. Enumerable.Repeat(TensorShape.Matrix(50, 100), 300)],   // 1,500,000 floats
            _ => AllreduceContract.ModelShapes,
        };
        long total = shapes.Sum(s => (long)s.ElementCount);
        Assert.True(layout switch { 1 or 3 => total > Pieces.DefaultAllreduceFloats, 2 => shapes[0].ElementCount > 2 * Pieces.DefaultAllreduceFloats, _ => true });
        int firstDense = Array.FindIndex(ExchangeChoice.FirstRound([Exchange.Flat, Exchange.Dense]), t => t.Way == Exchange.Dense);
        for (int call = 0; call < firstDense; call++)
        {
            allreduce.Average(AllreduceContract.AsMemory(AllreduceContract.Gradients(shapes, comm.Rank, call)), shapes);
        }

        float[][] tensors = AllreduceContract.Gradients(shapes, comm.Rank, 100);
        float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
        if (comm.Rank == nanRank)
        {
            tensors[nanTensor][nanIndex] = float.NaN;
        }

        Exception? error = Record.Exception(() => allreduce.Average(AllreduceContract.AsMemory(tensors), shapes));
        if (comm.Rank == nanRank)
        {
            Assert.IsType<ArgumentException>(error);
            Assert.Contains($"Tensor {nanTensor} ", error.Message, StringComparison.Ordinal);
            Assert.Contains($"at index {nanIndex} ", error.Message, StringComparison.Ordinal);
            tensors[nanTensor][nanIndex] = before[nanTensor][nanIndex];
        }
        else
        {
            Assert.IsType<InvalidOperationException>(error);
            Assert.Contains($"Rank {nanRank} failed", error.Message, StringComparison.Ordinal);
        }

        for (int t = 0; t < tensors.Length; t++)
        {
            Assert.Equal(before[t], tensors[t]);
        }

        float[][] expected = [.. tensors.Select(t => (float[])t.Clone())];
        foreach (float[] e in expected)
        {
            comm.AllreduceSum(e);
            System.Numerics.Tensors.TensorPrimitives.Multiply(e, 1f / comm.Size, e);
        }

        allreduce.Average(AllreduceContract.AsMemory(tensors), shapes);
        Assert.All(allreduce.LastCall.Decisions, d => Assert.NotEqual(TensorRoute.Compressed, d.Route));
        Assert.Contains(allreduce.LastCall.Decisions, d => d.Route == TensorRoute.DenseFaster);
        for (int t = 0; t < tensors.Length; t++)
        {
            Assert.Equal(expected[t], tensors[t]);
        }
    });
}
