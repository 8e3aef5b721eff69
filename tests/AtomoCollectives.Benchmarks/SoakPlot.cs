using System.Globalization;

namespace AtomoCollectives.Benchmarks;

/// <summary>Draws <see cref="Soak"/>'s CSV files (kept apart from it: <c>MpiTests</c> links Soak.cs without ScottPlot).</summary>
internal static class SoakPlot
{
    /// <summary>Working set and managed heap against calls, one pair of curves per CSV file (labelled by its name).</summary>
    public static void Draw(string output, IReadOnlyList<string> csvPaths)
    {
        var plot = new ScottPlot.Plot();
        foreach (string path in csvPaths)
        {
            string[][] rows = [.. File.ReadLines(path).Skip(1).Select(line => line.Split(',')).Where(r => r.Length == 5 && r[4] == "0")];
            double[] calls = [.. rows.Select(r => double.Parse(r[0], CultureInfo.InvariantCulture))];
            string label = Path.GetFileNameWithoutExtension(path);
            plot.Add.Scatter(calls, [.. rows.Select(r => double.Parse(r[1], CultureInfo.InvariantCulture))]).LegendText = $"{label}: working set";
            plot.Add.Scatter(calls, [.. rows.Select(r => double.Parse(r[2], CultureInfo.InvariantCulture))]).LegendText = $"{label}: managed heap";
        }

        plot.Axes.Bottom.Label.Text = "fused calls";
        plot.Axes.Left.Label.Text = "MB (per process)";
        plot.Axes.Left.Min = 0;
        plot.Title("AtomoAllreduce soak: memory over 2,000 calls");
        plot.ShowLegend(ScottPlot.Alignment.MiddleRight);
        plot.SavePng(output, 1000, 600);
        Console.WriteLine($"wrote {output}");
    }
}
