using System.Diagnostics;
using AtomoCollectives.Decompositions;
using AtomoCollectives.LinearAlgebra;

namespace AtomoCollectives.Benchmarks;

/// <summary>Development aid: the time of each stage of Spectral-Fast relative to one read.</summary>
internal static class StageTimings
{
    public static void Run(int m, int n, int k)
    {
        var g = new float[m * n];
        var random = new Random(1);
        for (int i = 0; i < g.Length; i++)
        {
            g[i] = (float)(random.NextDouble() - 0.5);
        }

        var xt = new float[k * n];
        var y = new float[m * k];
        var wt = new float[k * n];
        var coef = new float[k];
        var left = new float[k * m];
        var r = new float[k * k];
        Gaussian.Fill(xt, 1);
        Gaussian.Fill(left, 2);
        coef.AsSpan().Fill(1);
        ILinearAlgebraProvider native = LinearAlgebraProvider.Select("native", null).Provider;
        ILinearAlgebraProvider managed = LinearAlgebraProvider.Select("managed", null).Provider;
        double read = Time(() => System.Numerics.Tensors.TensorPrimitives.Sum(g));
        Console.WriteLine($"{m}x{n} k={k}: read {read * 1e6:F1} us");
        Console.WriteLine($"  G·Xᵀ         {Time(() => ThinKernels.MultiplyByTransposed(g, m, n, xt, k, y)) / read:F2}");
        Console.WriteLine($"  PᵀG          {Time(() => ThinKernels.TransposeMultiply(g, m, n, y, k, wt)) / read:F2}");
        var residual = new float[m * n];
        Console.WriteLine($"  project out  {Time(() => ThinKernels.ProjectOut(g, m, n, xt, k, y, residual, wt)) / read:F2} (residual only {Time(() => ThinKernels.ProjectOut(g, m, n, xt, k, y, residual, default)) / read:F2}, power pass only {Time(() => ThinKernels.ProjectOut(g, m, n, xt, k, y, default, wt)) / read:F2})");
        Console.WriteLine($"  QR m×k nat   {Time(() => { Gaussian.Fill(y, 3); native.QR(y, m, k, r); }) / read:F2}");
        Console.WriteLine($"  ThinQR m×k   {Time(() => { Gaussian.Fill(y, 3); ThinQR.Factor(native, y, m, k, r); }) / read:F2}");
        Console.WriteLine($"  QR m×k man   {Time(() => { Gaussian.Fill(y, 3); managed.QR(y, m, k, r); }) / read:F2}");
        var small = new float[k * k];
        var s = new float[k];
        var u = new float[k * k];
        var vt = new float[k * k];
        Gaussian.Fill(small, 5);
        Console.WriteLine($"  SVD k×k nat  {Time(() => native.Svd(small, k, k, s, u, vt)) / read:F2}");
        Console.WriteLine($"  SVD k×k man  {Time(() => managed.Svd(small, k, k, s, u, vt)) / read:F2}");
        Console.WriteLine($"  gemm k×m nat {Time(() => native.Gemm(true, true, k, m, k, 1, u, k, y, k, 0, left, m)) / read:F2}");
        var atoms = new SpectralAtoms();
        Console.WriteLine($"  fast total   {Time(() => atoms.Decompose(g, m, n, new AtomoOptions(), 1, native)) / read:F2}");
        Console.WriteLine($"  gauss k×n    {Time(() => Gaussian.Fill(xt, 3)) / read:F2}");
        var rankOne = new AtomSelection();
        var kept = new AtomSelection();
        var options = new AtomoOptions();
        Console.WriteLine($"  sample       {Time(() => SpectralSparsifier.Sample(atoms, options.Budget, options.Sampling, options.SpectralPrecision, 7, rankOne, kept)) / read:F2} ({kept.Count} entries, {kept.ExactCount} exact)");
        double cost = SpectralSparsifier.RankOneCost(m, n, ValuePrecision.Float32);
        Console.WriteLine($"  solve        {Time(() => CostWeightedWaterFilling.Solve(
            new CostWeightedWaterFilling.Group(atoms.Coefficients, cost, MagnitudeStatistics.Measure(atoms.Coefficients)),
            new CostWeightedWaterFilling.Group(atoms.Residual, SpectralSparsifier.CoordinateCost(m, n, 3 * cost), atoms.ResidualMagnitudes.AsStatistics()),
            3 * cost)) / read:F2}");
    }

    private static double Time(Action action) => Time(() => { action(); return 0; });

    private static double Time(Func<object> action) => QuickRatios.MinimumSeconds(action, repeats: 15);
}
