using System.Globalization;

namespace AtomoCollectives.Examples.Reporting;

/// <summary>One row of <c>metrics.csv</c>: a training step, with running totals per rank.</summary>
/// <param name="WallSeconds">Since training started, including the evaluations of the test accuracy.</param>
/// <param name="TrainingWallSeconds">
/// <paramref name="WallSeconds"/> without the time spent evaluating: the clock time-to-accuracy is read on, so that it
/// does not depend on how often the accuracy is measured.
/// </param>
internal readonly record struct StepMetrics(
    long Step, int Epoch, double TrainLoss, double TrainAccuracy, double? TestAccuracy,
    long BytesSentPerRank, long BytesReceivedPerRank, long DenseEquivalentBytes,
    double ComputeSeconds, double EncodeSeconds, double ExchangeSeconds, double DecodeSeconds, double WallSeconds, double TrainingWallSeconds);

/// <summary>Writes and reads <c>metrics.csv</c> (invariant culture; an empty test accuracy where none was measured).</summary>
internal static class MetricsCsv
{
    public const string Header = "step,epoch,trainLoss,trainAccuracy,testAccuracy,bytesSentPerRank,bytesReceivedPerRank,denseEquivalentBytes,computeSeconds,encodeSeconds,exchangeSeconds,decodeSeconds,wallSeconds,trainingWallSeconds";

    public static string Format(StepMetrics m) => string.Create(CultureInfo.InvariantCulture,
        $"{m.Step},{m.Epoch},{m.TrainLoss:G6},{m.TrainAccuracy:G6},{(m.TestAccuracy is double a ? a.ToString("G6", CultureInfo.InvariantCulture) : "")},{m.BytesSentPerRank},{m.BytesReceivedPerRank},{m.DenseEquivalentBytes},{m.ComputeSeconds:G6},{m.EncodeSeconds:G6},{m.ExchangeSeconds:G6},{m.DecodeSeconds:G6},{m.WallSeconds:G6},{m.TrainingWallSeconds:G6}");

    /// <summary>
    /// Opens <paramref name="path"/> for a run that starts after <paramref name="step"/>: a new file with the header at
    /// step 0; otherwise the existing rows up to that step are kept (a resumed run drops the rows its stopped run wrote
    /// after its last checkpoint) and the run appends.
    /// </summary>
    public static StreamWriter OpenForStep(string path, long step)
    {
        List<string> kept = [Header];
        if (step > 0 && File.Exists(path))
        {
            kept = [.. File.ReadLines(path).Where((line, index) => index == 0 || (long.TryParse(line.AsSpan(0, Math.Max(0, line.IndexOf(','))), NumberStyles.None, CultureInfo.InvariantCulture, out long row) && row <= step))];
        }

        File.WriteAllLines(path, kept);
        return new StreamWriter(path, append: true);
    }

    public static IReadOnlyList<StepMetrics> Read(string path)
    {
        string[] lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0] != Header)
        {
            throw new InvalidDataException($"{path} is not a metrics.csv (its first line should be '{Header}').");
        }

        return [.. lines.Skip(1).Where(line => line.Length > 0).Select((line, i) => Parse(line, path, i + 2))];
    }

    private static StepMetrics Parse(string line, string path, int lineNumber)
    {
        string[] f = line.Split(',');
        if (f.Length != 14)
        {
            throw new InvalidDataException($"{path}:{lineNumber}: {f.Length} fields, expected 14.");
        }

        double D(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        long L(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
        return new StepMetrics(L(0), (int)L(1), D(2), D(3), f[4].Length == 0 ? null : D(4), L(5), L(6), L(7), D(8), D(9), D(10), D(11), D(12), D(13));
    }
}
