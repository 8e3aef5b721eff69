using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Memory per fused call (issue 15): one <see cref="AtomoAllreduce.Average(IReadOnlyList{Memory{float}}, IReadOnlyList{TensorShape})"/>
/// of the soak's model-like set (0.42 M parameters) on a one-rank in-process communicator, under BenchmarkDotNet's
/// memory diagnoser, at two sizes of the same layer list (×1 and ×4 entries per matrix row): what a call allocates
/// should depend on the number of tensors and ranks, not on their size.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class AllreduceMemoryBenchmarks
{
    private AtomoAllreduce _allreduce = null!;
    private Memory<float>[] _tensors = [];
    private TensorShape[] _shapes = [];

    [Params(1, 4)]
    public int Width { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _shapes = [.. Soak.Sets["model"].Select(s => s.Rank == 1 ? TensorShape.Vector(s.Dimensions[0] * Width) : TensorShape.Matrix(s.MatrixView.Rows, s.MatrixView.Columns * Width))];
        var random = new Random(3);
        float[][] tensors = [.. _shapes.Select(s => new float[s.ElementCount])];
        Soak.Refill(tensors, random);
        _tensors = [.. tensors.Select(t => (Memory<float>)t)];
        _allreduce = new AtomoAllreduce(new InProcessCommunicator(new InProcessFabric(1), 0), new AtomoOptions { Seed = 2 });
    }

    [GlobalCleanup]
    public void Cleanup() => _allreduce.Dispose();

    [Benchmark]
    public long FusedCall()
    {
        _allreduce.Average(_tensors, _shapes);
        return _allreduce.Step;
    }
}
