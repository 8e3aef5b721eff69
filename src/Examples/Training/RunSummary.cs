using System.Text.Json;
using System.Text.Json.Serialization;

namespace AtomoCollectives.Examples.Training;

/// <summary>What <c>OUTPUT/summary.json</c> holds: the run's settings, its result, and its traffic and time per rank.</summary>
internal sealed record RunSummary
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public required string Compressor { get; init; }
    public required string Label { get; init; }
    public required double Budget { get; init; }
    public required int Bits { get; init; }

    /// <summary>PowerSGD's rank (its default for the other compressors).</summary>
    public int MatrixRank { get; init; } = Training.Compressor.DefaultRank;
    public required string Model { get; init; }
    public required int Ranks { get; init; }
    public required string Transport { get; init; }
    public required string LinearAlgebra { get; init; }
    public required int Epochs { get; init; }
    public required long Steps { get; init; }
    public required int BatchSizePerRank { get; init; }
    public required double LearningRate { get; init; }
    public required double Momentum { get; init; }
    public required int Seed { get; init; }
    public required int TrainingImages { get; init; }
    public required double FinalTestAccuracy { get; init; }
    public required double FinalTrainLoss { get; init; }

    /// <summary>The training loss became NaN or infinite and the run stopped early (a diverged run's loss is written as "NaN").</summary>
    public required bool Diverged { get; init; }

    /// <summary>Bytes each rank sent: its payloads once, plus its share of dense allreduces (see AllreduceStatistics).</summary>
    public required long BytesSentPerRank { get; init; }
    public required long BytesReceivedPerRank { get; init; }

    /// <summary>What a dense ring allreduce of every gradient would have sent per rank over the run.</summary>
    public required long DenseEquivalentBytes { get; init; }
    public required double CompressionRatio { get; init; }
    public required double WallSeconds { get; init; }

    /// <summary>The part of <see cref="WallSeconds"/> spent measuring the test accuracy (not training).</summary>
    public required double EvaluationSeconds { get; init; }
    public required double ComputeSeconds { get; init; }
    public required double EncodeSeconds { get; init; }
    public required double ExchangeSeconds { get; init; }
    public required double DecodeSeconds { get; init; }

    /// <summary>Whether every rank ended with bitwise-identical parameters (compared by checksum).</summary>
    public required bool ReplicasIdentical { get; init; }
    public required string ParameterChecksum { get; init; }

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static RunSummary Read(string path) =>
        JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} holds no summary.");
}
