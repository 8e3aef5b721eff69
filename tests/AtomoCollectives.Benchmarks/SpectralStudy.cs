using System.Globalization;
using AtomoCollectives.Decompositions;
using AtomoCollectives.Examples.Data;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Development aid (<c>--spectral-study DIR [--budget S] [--seeds N]</c>): the default spectral encoder
/// (<see cref="SpectralMethod.Fast"/>, warm-started) against <see cref="SpectralMethod.Exact"/> at the same budget on the
/// real gradients of a capture directory (<c>Examples train --save-gradients</c>), side by side in one run. For every
/// weight matrix (matrix view ≥ 8×8) of every rank and captured step: the mean payload against dense (4·m·n bytes),
/// the estimate's exact variance <c>Σλ²(1/p − 1)</c> times its mean payload, and their ratio to Exact's. Each rank's
/// sketches follow its steps in order: a step whose predecessor was captured starts warm from it (as in training),
/// any other starts cold.
/// </summary>
internal static class SpectralStudy
{
    public static void Run(string directory, double budget, int seeds, int oversampling)
    {
        var fast = new AtomoOptions { Budget = budget, Oversampling = oversampling };
        var exact = new AtomoOptions { Budget = budget, SpectralMethod = SpectralMethod.Exact };
        var rows = new List<Row>();
        foreach (string rankName in RankNames(directory))
        {
            var sketches = new Dictionary<string, SpectralSketch>();
            long previous = -1;
            foreach ((long step, string folder) in Steps(directory))
            {
                string rankFolder = Path.Combine(folder, rankName);
                if (!Directory.Exists(rankFolder))
                {
                    continue;
                }

                bool warm = step == previous + 1;
                if (!warm)
                {
                    sketches.Clear();
                }

                previous = step;
                foreach (string file in Directory.GetFiles(rankFolder, "*.npy").Order(StringComparer.Ordinal))
                {
                    NpyArray array = NpyFile.Read(file);
                    if (array.Shape.Length < 2)
                    {
                        continue;
                    }

                    (int m, int n) = TensorShape.Of(array.Shape).MatrixView;
                    if (Math.Min(m, n) < 8)
                    {
                        continue;
                    }

                    string name = Path.GetFileNameWithoutExtension(file);
                    if (!sketches.TryGetValue(name, out SpectralSketch? sketch))
                    {
                        sketches[name] = sketch = new SpectralSketch();
                    }

                    Measure fastMeasure = Estimate(array.Data, m, n, fast, seeds, sketch);
                    Measure exactMeasure = Estimate(array.Data, m, n, exact, seeds, null);
                    rows.Add(new Row(step, rankName, name, m, n, warm && sketch.WarmCalls > 0, fastMeasure, exactMeasure));
                }
            }
        }

        Print(rows, budget, seeds, directory, oversampling);
    }

    private static IEnumerable<string> RankNames(string directory) =>
        Directory.GetDirectories(directory, "step-*").SelectMany(Directory.GetDirectories).Select(Path.GetFileName).OfType<string>().Distinct().Order(StringComparer.Ordinal);

    private static IEnumerable<(long Step, string Folder)> Steps(string directory) =>
        Directory.GetDirectories(directory, "step-*")
            .Select(folder => (long.Parse(Path.GetFileName(folder)["step-".Length..], CultureInfo.InvariantCulture), folder))
            .OrderBy(x => x.Item1);

    /// <summary>One decomposition (warming the sketch once, as one training step does), then <paramref name="seeds"/> draws written as payloads.</summary>
    private static Measure Estimate(float[] g, int m, int n, AtomoOptions options, int seeds, SpectralSketch? sketch)
    {
        var atoms = new SpectralAtoms();
        atoms.Decompose(g, m, n, options, 17, sketch);
        var rankOne = new AtomSelection();
        var residual = new AtomSelection();
        var writer = new BitWriter();
        double bytes = 0, kept = 0, entries = 0, variance = 0;
        for (int seed = 0; seed < seeds; seed++)
        {
            (WaterLevel first, WaterLevel second) = SpectralSparsifier.Sample(atoms, options.Budget, options.Sampling, options.SpectralPrecision, (ulong)seed, rankOne, residual);
            (double v1, double v2) = SpectralSparsifier.Variances(atoms, first, second);
            variance = v1 + v2;
            writer.Reset();
            PayloadFormat.WriteHeader(writer, Decomposition.Spectral, options.Sampling, options.SpectralPrecision, TensorShape.Matrix(m, n));
            SpectralPayload.Write(writer, atoms, rankOne, residual, options.SpectralPrecision);
            PayloadFormat.AppendChecksum(writer);
            bytes += writer.Written.Length;
            kept += rankOne.Count;
            entries += residual.Count;
        }

        double energy = ThinKernels.SumOfSquares(g);
        return new Measure(bytes / seeds, variance, kept / seeds, entries / seeds, atoms.ResidualMagnitudes.SquareSum / energy, energy);
    }

    private static void Print(List<Row> rows, double budget, int seeds, string directory, int oversampling)
    {
        Console.WriteLine($"Spectral budget {budget}: Fast (oversampling {oversampling}, warm where the previous step was captured) vs Exact, real gradients of {directory}, {seeds} draws each");
        Console.WriteLine($"{"step",5} {"rank",-7} {"tensor",-18} {"m×n",11} {"warm",5} {"‖R‖²/‖G‖²",10} {"fast ×dense",11} {"exact ×dense",12} {"fast atoms+entries",19} {"V·B fast/exact",15} {"V/‖G‖² fast",12} {"exact",8}");
        foreach (Row row in rows)
        {
            double dense = 4.0 * row.Rows * row.Columns;
            double ratio = row.Fast.Variance * row.Fast.Bytes / (row.Exact.Variance * row.Exact.Bytes);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{row.Step,5} {row.Rank,-7} {Truncate(row.Tensor, 18),-18} {row.Rows + "×" + row.Columns,11} {(row.Warm ? "yes" : "no"),5} {row.Fast.ResidualShare,10:P2} {dense / row.Fast.Bytes,11:F1} {dense / row.Exact.Bytes,12:F1} {row.Fast.RankOneKept,8:F2}+{row.Fast.ResidualKept,-10:F0} {ratio,15:F2} {row.Fast.Variance / row.Fast.Energy,12:F3} {row.Exact.Variance / row.Exact.Energy,8:F3}"));
        }

        List<Row> large = [.. rows.Where(r => (long)r.Rows * r.Columns >= 100_000)];
        if (large.Count > 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"matrices of ≥ 100k entries ({large.Count}): payload ≥ {large.Min(r => 4.0 * r.Rows * r.Columns / r.Fast.Bytes):F1}× smaller than dense (goal ≥ 30×); variance×bytes ≤ {large.Max(r => r.Fast.Variance * r.Fast.Bytes / (r.Exact.Variance * r.Exact.Bytes)):F2}× Exact's (goal ≤ 1.5×)"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"all {rows.Count} matrices: variance×bytes {rows.Min(r => r.Fast.Variance * r.Fast.Bytes / (r.Exact.Variance * r.Exact.Bytes)):F2}–{rows.Max(r => r.Fast.Variance * r.Fast.Bytes / (r.Exact.Variance * r.Exact.Bytes)):F2}× Exact's"));
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    private sealed record Measure(double Bytes, double Variance, double RankOneKept, double ResidualKept, double ResidualShare, double Energy);

    private sealed record Row(long Step, string Rank, string Tensor, int Rows, int Columns, bool Warm, Measure Fast, Measure Exact);
}
