using System.Numerics.Tensors;
using AtomoCollectives;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Algorithm 1 plus the draw on 1M and 16M floats at a 1 % budget, beside reading the vector once
/// (<see cref="TensorPrimitives.Sum(ReadOnlySpan{float})"/>), the floor any sparsifier has to pay.
/// "Gaussian" never clips; "HeavyTailed" has outliers that force the selection path of the solver.
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 10)]
[MemoryDiagnoser]
public class SparsifierBenchmarks
{
    private float[] _gradient = [];
    private double[] _probabilities = [];
    private readonly AtomSelection _selection = new();

    [Params(1 << 20, 1 << 24)]
    public int Length { get; set; }

    [Params("Gaussian", "HeavyTailed")]
    public string Distribution { get; set; } = "Gaussian";

    private double Budget => Length * 0.01;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _gradient = new float[Length];
        for (int i = 0; i < Length; i++)
        {
            _gradient[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        if (Distribution == "HeavyTailed")
        {
            for (int j = 0; j < 1000; j++)
            {
                _gradient[random.Next(Length)] *= 10_000;
            }
        }

        _probabilities = new double[Length];
        AtomicSparsifier.Sample(_gradient, Budget, Sampling.Independent, 0, _selection);
    }

    [Benchmark(Baseline = true)]
    public float ReadOnce() => TensorPrimitives.Sum(_gradient);

    [Benchmark]
    public int SampleIndependent()
    {
        AtomicSparsifier.Sample(_gradient, Budget, Sampling.Independent, 7, _selection);
        return _selection.Count;
    }

    [Benchmark]
    public int SampleSystematic()
    {
        AtomicSparsifier.Sample(_gradient, Budget, Sampling.Systematic, 7, _selection);
        return _selection.Count;
    }

    [Benchmark]
    public double Probabilities()
    {
        AtomicSparsifier.Probabilities(_gradient, Budget, _probabilities);
        return _probabilities[0];
    }
}
