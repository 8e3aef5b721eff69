using System.Globalization;
using System.Text;

namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// One configuration on one gradient set at N ranks. Times are seconds per step of the slowest rank in the step
/// whose total is the median over the timed steps (its encode + exchange + decode add up to about its total);
/// bytes are this configuration's mean over steps and ranks; <see cref="BetweenNodeBytesPerRank"/> is the part of
/// <see cref="BytesPerRank"/> sent out of the rank's node (all of it for a flat exchange, which does not tell nodes apart).
/// </summary>
internal sealed record ConfigResult(
    string Label,
    string Set,
    string Config,
    int Ranks,
    int Steps,
    double StepSeconds,
    double MinStepSeconds,
    double EncodeSeconds,
    double ExchangeSeconds,
    double DecodeSeconds,
    double BytesPerRank,
    double DenseBytesPerRank,
    double PayloadBytesPerRank,
    long Elements,
    long DenseElements,
    int Tensors,
    int CompressedTensors,
    double ReadOnceSeconds,
    double IsolatedEncodeSeconds = double.NaN,
    double IsolatedReadOnceSeconds = double.NaN,
    double IsolatedDecodeSecondsAt2 = double.NaN,
    double IsolatedDecodeSecondsAt8 = double.NaN,
    string Routing = "",
    int DenseFasterTensors = 0)
{
    /// <summary>The slowest rank's step per timed round, in round order (what <see cref="StepSeconds"/> is the median of); empty when read back from a CSV.</summary>
    public IReadOnlyList<double> StepTotals { get; init; } = [];

    /// <summary>Bytes sent per rank out of its node (<see cref="AllreduceStatistics.BytesSentWithinNode"/>); NaN in results written before it.</summary>
    public double BetweenNodeBytesPerRank { get; init; } = double.NaN;

    /// <summary>Encode over read-once, both on one rank with the others idle (no time slicing between ranks).</summary>
    public double IsolatedEncodeOverRead => IsolatedReadOnceSeconds > 0 ? IsolatedEncodeSeconds / IsolatedReadOnceSeconds : double.NaN;

    /// <summary>Dense-equivalent bytes over bytes sent.</summary>
    public double Ratio => BytesPerRank > 0 ? DenseBytesPerRank / BytesPerRank : double.PositiveInfinity;

    /// <summary>Encode time over the read-once time of the same gradients.</summary>
    public double EncodeOverRead => ReadOnceSeconds > 0 ? EncodeSeconds / ReadOnceSeconds : double.NaN;

    public const string CsvHeader =
        "label,set,config,ranks,steps,step_s,min_step_s,encode_s,exchange_s,decode_s,bytes_per_rank,dense_bytes_per_rank,payload_bytes_per_rank,elements,dense_elements,tensors,compressed_tensors,read_once_s,ratio,encode_over_read,speedup_vs_dense,isolated_encode_s,isolated_read_once_s,isolated_encode_over_read,isolated_decode_n2_s,isolated_decode_n8_s,between_node_bytes_per_rank,routing,dense_faster_tensors,data,paired_baseline,paired_speedup,paired_low,paired_high,paired_coverage";

    /// <summary>One CSV row; <paramref name="speedup"/> is dense step time over this one's, <paramref name="paired"/> the round-by-round speedup over the better dense baseline.</summary>
    public string ToCsv(double speedup, PairedSpeedup? paired) => Csv.Join(
        Label, Set, Config, Csv.Number(Ranks), Csv.Number(Steps), Csv.Number(StepSeconds), Csv.Number(MinStepSeconds), Csv.Number(EncodeSeconds),
        Csv.Number(ExchangeSeconds), Csv.Number(DecodeSeconds), Csv.Number(BytesPerRank), Csv.Number(DenseBytesPerRank), Csv.Number(PayloadBytesPerRank),
        Csv.Number(Elements), Csv.Number(DenseElements), Csv.Number(Tensors), Csv.Number(CompressedTensors), Csv.Number(ReadOnceSeconds),
        Csv.Number(Ratio), Csv.Number(EncodeOverRead), Csv.Number(speedup), Csv.Number(IsolatedEncodeSeconds), Csv.Number(IsolatedReadOnceSeconds), Csv.Number(IsolatedEncodeOverRead),
        Csv.Number(IsolatedDecodeSecondsAt2), Csv.Number(IsolatedDecodeSecondsAt8), Csv.Number(BetweenNodeBytesPerRank), Routing, Csv.Number(DenseFasterTensors), GradientSets.DataKindOf(Set),
        paired?.Baseline ?? "", Csv.Number(paired?.Median ?? double.NaN), Csv.Number(paired?.Low ?? double.NaN), Csv.Number(paired?.High ?? double.NaN), Csv.Number(paired?.Coverage ?? double.NaN));

    /// <summary>Parses a row written by <see cref="ToCsv"/> (rows from before the time rule: routed by bytes).</summary>
    public static ConfigResult Parse(IReadOnlyDictionary<string, string> row) => new(
        row["label"], row["set"], row["config"], Csv.Int(row["ranks"]), Csv.Int(row["steps"]), Csv.Double(row["step_s"]), Csv.Double(row["min_step_s"]),
        Csv.Double(row["encode_s"]), Csv.Double(row["exchange_s"]), Csv.Double(row["decode_s"]), Csv.Double(row["bytes_per_rank"]),
        Csv.Double(row["dense_bytes_per_rank"]), Csv.Double(row["payload_bytes_per_rank"]), Csv.Long(row["elements"]), Csv.Long(row["dense_elements"]),
        Csv.Int(row["tensors"]), Csv.Int(row["compressed_tensors"]), Csv.Double(row["read_once_s"]),
        Csv.Double(row["isolated_encode_s"]), Csv.Double(row["isolated_read_once_s"]), Csv.Double(row["isolated_decode_n2_s"]), Csv.Double(row["isolated_decode_n8_s"]),
        row.GetValueOrDefault("routing", BenchConfigurations.IsDenseName(row["config"]) ? "" : "bytes"), Csv.Int(row.GetValueOrDefault("dense_faster_tensors", "0")))
    {
        BetweenNodeBytesPerRank = row.TryGetValue("between_node_bytes_per_rank", out string? between) ? Csv.Double(between) : double.NaN,
    };
}

/// <summary>
/// One tensor's route and mean payload under one configuration (for the cost model's per-tensor dense rule), and what
/// the time rule predicted for it in the last timed step (NaN where it did not decide).
/// </summary>
internal sealed record TensorResult(string Label, string Set, string Config, int Ranks, int Index, string Name, string Shape, int Elements, string Route, double PayloadBytes,
    double PredictedDenseSeconds = double.NaN, double PredictedCompressedSeconds = double.NaN)
{
    public const string CsvHeader = "label,set,config,ranks,index,name,shape,elements,route,payload_bytes,predicted_dense_s,predicted_compressed_s,data";

    public string ToCsv() => Csv.Join(
        Label, Set, Config, Csv.Number(Ranks), Csv.Number(Index), Name, Shape, Csv.Number(Elements), Route, Csv.Number(PayloadBytes),
        Csv.Number(PredictedDenseSeconds), Csv.Number(PredictedCompressedSeconds), GradientSets.DataKindOf(Set));

    public static TensorResult Parse(IReadOnlyDictionary<string, string> row) => new(
        row["label"], row["set"], row["config"], Csv.Int(row["ranks"]), Csv.Int(row["index"]), row["name"], row["shape"], Csv.Int(row["elements"]), row["route"], Csv.Double(row["payload_bytes"]),
        Csv.Double(row.GetValueOrDefault("predicted_dense_s", "NaN")), Csv.Double(row.GetValueOrDefault("predicted_compressed_s", "NaN")));
}

/// <summary>Which communicator a <see cref="CalibrationPoint"/> timed.</summary>
internal enum CalibrationLevel
{
    /// <summary>All ranks (<c>MPI_Allreduce</c> over the world).</summary>
    World,

    /// <summary>The ranks of one node, every node at once, summed as the node-aware collectives sum within a node (reduce-scatter, allgather).</summary>
    Node,

    /// <summary>One rank per node, every rail at once (between nodes: a node's rails share its link).</summary>
    Rail,
}

/// <summary>
/// Dense sum time for one message size on one <see cref="Level"/> (for fitting α and β): the slowest rank's
/// minimum over repeats. <see cref="GroupRanks"/> is the size of the communicator timed (N for the world, k for a node,
/// the node count for a rail).
/// </summary>
internal sealed record CalibrationPoint(string Label, int Ranks, long Bytes, double Seconds, CalibrationLevel Level = CalibrationLevel.World, int GroupRanks = 0)
{
    /// <summary>The size of the communicator timed: <see cref="Ranks"/> for the world.</summary>
    public int GroupRanks { get; init; } = GroupRanks > 0 ? GroupRanks : Ranks;

    public const string CsvHeader = "label,ranks,bytes,seconds,level,group_ranks";

    public string ToCsv() => Csv.Join(Label, Csv.Number(Ranks), Csv.Number(Bytes), Csv.Number(Seconds), Level.ToString().ToLowerInvariant(), Csv.Number(GroupRanks));

    /// <summary>Parses a row written by <see cref="ToCsv"/>; rows from before the levels are the world's.</summary>
    /// <exception cref="FormatException">A level other than world, node or rail.</exception>
    public static CalibrationPoint Parse(IReadOnlyDictionary<string, string> row)
    {
        string level = row.GetValueOrDefault("level", "world");
        return new(row["label"], Csv.Int(row["ranks"]), Csv.Long(row["bytes"]), Csv.Double(row["seconds"]),
            Enum.TryParse(level, ignoreCase: true, out CalibrationLevel parsed) && Enum.IsDefined(parsed) && !int.TryParse(level, out _)
                ? parsed
                : throw new FormatException($"Calibration level '{level}' is not world, node or rail."),
            row.TryGetValue("group_ranks", out string? group) ? Csv.Int(group) : 0);
    }
}

/// <summary>Minimal invariant-culture CSV (no field of ours holds a comma or a quote except shapes, which are quoted).</summary>
internal static class Csv
{
    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static double Double(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    public static int Int(string text) => int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);

    public static long Long(string text) => long.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);

    public static string Join(params string[] fields) => string.Join(',', fields.Select(Quote));

    public static string Quote(string field) =>
        field.Contains(',', StringComparison.Ordinal) || field.Contains('"', StringComparison.Ordinal) ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;

    /// <summary>Reads a file written with <see cref="Join"/>: one dictionary per data row, keyed by the header.</summary>
    public static List<Dictionary<string, string>> Read(string path)
    {
        string[] lines = File.ReadAllLines(path);
        var rows = new List<Dictionary<string, string>>();
        if (lines.Length == 0)
        {
            return rows;
        }

        List<string> header = Split(lines[0]);
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            List<string> fields = Split(line);
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < header.Count && i < fields.Count; i++)
            {
                row[header[i]] = fields[i];
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Splits one CSV line, honouring double quotes.</summary>
    public static List<string> Split(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }
}
