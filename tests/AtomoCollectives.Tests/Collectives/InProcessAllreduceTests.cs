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
    /// A call with every tensor dense (here the warm-up) decodes nothing, so the decode hook is not reached and the call
    /// needs no outcome float: it sums the tensors from where they are and gives every rank the exact mean.
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
}
