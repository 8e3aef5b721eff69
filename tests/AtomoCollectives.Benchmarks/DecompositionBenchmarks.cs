using System.Diagnostics;
using System.Numerics.Tensors;
using AtomoCollectives.Decompositions;
using AtomoCollectives.LinearAlgebra;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace AtomoCollectives.Benchmarks;

/// <summary>One encode-side step per basis: decompose, water-filling probabilities, systematic sample (budget 3).</summary>
internal sealed class DecompositionCase
{
    private readonly IAtomDecomposition _atoms;
    private readonly AtomoOptions _options;
    private readonly ILinearAlgebraProvider _provider;
    private readonly AtomSelection _selection = new();
    private ulong _seed;

    public DecompositionCase(string shape, string provider, Decomposition basis, SpectralMethod method, int powerIterations = 1)
    {
        string[] parts = shape.Split('x');
        Rows = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        Columns = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        Tensor = new float[Rows * Columns];
        var random = new Random(1);
        for (int i = 0; i < Tensor.Length; i++)
        {
            Tensor[i] = (float)(random.NextDouble() - 0.5);
        }

        _options = new AtomoOptions { Decomposition = basis, SpectralMethod = method, Budget = 3, Sampling = Sampling.Systematic, PowerIterations = powerIterations };
        _provider = LinearAlgebraProvider.Select(provider, null).Provider;
        _atoms = Decomposer.Create(basis);
    }

    public int Rows { get; }

    public int Columns { get; }

    public float[] Tensor { get; }

    public float ReadOnce() => TensorPrimitives.Sum(Tensor);

    public int Run()
    {
        _seed++;
        if (_atoms is SpectralAtoms spectral)
        {
            spectral.Decompose(Tensor, Rows, Columns, _options, _seed, _provider);
        }
        else
        {
            _atoms.Decompose(Tensor, TensorShape.Matrix(Rows, Columns), _options, _seed);
        }

        _selection.Clear();
        AtomicSparsifier.Sample(_atoms.Coefficients, _options.Budget, _options.Sampling, _seed, _selection);
        return _selection.Count;
    }
}

/// <summary>Spectral-Fast (range finder, 1 power iteration, residual atom) against one read of the gradient.</summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class DecompositionFastBenchmarks
{
    private DecompositionCase _case = null!;

    /// <summary>Rows×columns of the matrix view.</summary>
    [Params("256x256", "784x256", "2304x256", "1024x1024", "4096x1024")]
    public string Shape { get; set; } = "";

    /// <summary>Linear algebra provider (only the small QR/SVD of the sketch use it; the passes over G are managed SIMD).</summary>
    [Params("native", "managed")]
    public string Provider { get; set; } = "";

    /// <summary>Builds the tensor.</summary>
    [GlobalSetup]
    public void Setup() => _case = new DecompositionCase(Shape, Provider, Decomposition.Spectral, SpectralMethod.Fast);

    /// <summary>TensorPrimitives.Sum over the tensor.</summary>
    [Benchmark(Baseline = true)]
    public float ReadOnce() => _case.ReadOnce();

    /// <summary>Decompose + probabilities + sample.</summary>
    [Benchmark]
    public int SpectralFast() => _case.Run();
}

/// <summary>Spectral-Exact (LAPACK sgesdd or MathNet SVD); managed only on the two smallest shapes.</summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class DecompositionExactBenchmarks
{
    private DecompositionCase _case = null!;

    /// <summary>Shape and provider.</summary>
    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    /// <summary>Native on every shape, managed on the small ones (MathNet's full SVD of 4096×1024 takes minutes).</summary>
    public static IEnumerable<string> Cases =>
        ["256x256/native", "784x256/native", "2304x256/native", "1024x1024/native", "4096x1024/native", "256x256/managed", "784x256/managed"];

    /// <summary>Builds the tensor.</summary>
    [GlobalSetup]
    public void Setup()
    {
        string[] parts = Case.Split('/');
        _case = new DecompositionCase(parts[0], parts[1], Decomposition.Spectral, SpectralMethod.Exact);
    }

    /// <summary>TensorPrimitives.Sum over the tensor.</summary>
    [Benchmark(Baseline = true)]
    public float ReadOnce() => _case.ReadOnce();

    /// <summary>Decompose + probabilities + sample.</summary>
    [Benchmark]
    public int SpectralExact() => _case.Run();
}

/// <summary>Fourier (orthonormal DCT-II of the flattened tensor) with the process's FourierTransformProvider: FFTW, or the managed DCT under ATOMO_FOURIER=managed.</summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class DecompositionFourierBenchmarks
{
    private DecompositionCase _case = null!;

    /// <summary>Rows×columns (flattened for the DCT).</summary>
    [Params("256x256", "784x256", "2304x256", "1024x1024", "4096x1024")]
    public string Shape { get; set; } = "";

    /// <summary>Builds the tensor.</summary>
    [GlobalSetup]
    public void Setup() => _case = new DecompositionCase(Shape, "managed", Decomposition.Fourier, SpectralMethod.Fast);

    /// <summary>TensorPrimitives.Sum over the tensor.</summary>
    [Benchmark(Baseline = true)]
    public float ReadOnce() => _case.ReadOnce();

    /// <summary>Decompose + probabilities + sample.</summary>
    [Benchmark]
    public int Fourier() => _case.Run();
}

/// <summary>Quick Stopwatch ratios (median of repeated timings) for development; BenchmarkDotNet gives the reported numbers.</summary>
internal static class QuickRatios
{
    public static void Run(string[] args)
    {
        string[] shapes = args.Length > 0 ? args : ["256x256", "784x256", "2304x256", "1024x1024", "4096x1024"];
        Console.WriteLine("shape        read(us)  fast-native  fast-managed  fast-q0  exact-native  fourier");
        foreach (string shape in shapes)
        {
            var fastNative = new DecompositionCase(shape, "native", Decomposition.Spectral, SpectralMethod.Fast);
            var fastManaged = new DecompositionCase(shape, "managed", Decomposition.Spectral, SpectralMethod.Fast);
            var exact = new DecompositionCase(shape, "native", Decomposition.Spectral, SpectralMethod.Exact);
            var fastQ0 = new DecompositionCase(shape, "native", Decomposition.Spectral, SpectralMethod.Fast, powerIterations: 0);
            var fourier = new DecompositionCase(shape, "managed", Decomposition.Fourier, SpectralMethod.Fast);
            double read = MinimumSeconds(() => fastNative.ReadOnce());
            Console.WriteLine($"{shape,-12} {read * 1e6,8:F1}  {MinimumSeconds(() => fastNative.Run()) / read,11:F2}  {MinimumSeconds(() => fastManaged.Run()) / read,12:F2}  {MinimumSeconds(() => fastQ0.Run()) / read,7:F2}  {(args.Contains("--exact") ? MinimumSeconds(() => exact.Run(), 3) / read : double.NaN),12:F1}  {MinimumSeconds(() => fourier.Run()) / read,7:F2}");
        }
    }

    /// <summary>Seconds per call: the minimum over <paramref name="repeats"/> timings of ≥ 5 ms each, after 300 ms of warm-up.</summary>
    internal static double MinimumSeconds(Func<object> action, int repeats = 31)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalMilliseconds < 300)
        {
            action();
        }

        var times = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            var watch = Stopwatch.StartNew();
            int inner = 0;
            do
            {
                action();
                inner++;
            }
            while (watch.Elapsed.TotalMilliseconds < 5);
            times[r] = watch.Elapsed.TotalSeconds / inner;
        }

        Array.Sort(times);
        return times[0]; // the minimum: robust to other processes on a shared machine
    }
}
