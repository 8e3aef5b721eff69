using System.Numerics.Tensors;
using AtomoCollectives;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Encode (decompose + sparsify + write) and decode (validate + reconstruct) of one 1024×1024 gradient per basis,
/// beside reading it once. Throughput in GB/s of tensor = 4 MiB / time. Budgets: spectral 3 atoms, coordinate and
/// Fourier 1 % of the entries. The gradient is rank 8 plus 1 % noise, the structure real layer gradients have.
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class CodecBenchmarks
{
    private const int Rows = 1024;
    private const int Columns = 1024;
    private float[] _gradient = [];
    private float[] _destination = [];
    private byte[] _payload = [];
    private AtomoCodec _codec = null!;

    [Params(Decomposition.Coordinate, Decomposition.Spectral, Decomposition.Fourier)]
    public Decomposition Basis { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _gradient = new float[Rows * Columns];
        for (int k = 0; k < 8; k++)
        {
            double[] u = [.. Enumerable.Range(0, Rows).Select(_ => random.NextDouble() - 0.5)];
            double[] v = [.. Enumerable.Range(0, Columns).Select(_ => random.NextDouble() - 0.5)];
            for (int i = 0; i < _gradient.Length; i++)
            {
                _gradient[i] += (float)(u[i / Columns] * v[i % Columns] / (k + 1));
            }
        }

        for (int i = 0; i < _gradient.Length; i++)
        {
            _gradient[i] += (float)(0.01 * (random.NextDouble() - 0.5));
        }

        _destination = new float[_gradient.Length];
        _codec = new AtomoCodec(new AtomoOptions { Decomposition = Basis, Budget = Basis == Decomposition.Spectral ? 3 : _gradient.Length * 0.01 });
        _payload = _codec.Encode(_gradient, TensorShape.Matrix(Rows, Columns), 1);
    }

    [Benchmark(Baseline = true)]
    public float ReadOnce() => TensorPrimitives.Sum(_gradient);

    [Benchmark]
    public int Encode() => _codec.Encode(_gradient, TensorShape.Matrix(Rows, Columns), 7).Length;

    [Benchmark]
    public float Decode()
    {
        _codec.Decode(_payload, _destination);
        return _destination[0];
    }
}
