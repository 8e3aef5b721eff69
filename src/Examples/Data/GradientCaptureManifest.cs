using System.Text.Json;
using System.Text.Json.Serialization;

namespace AtomoCollectives.Examples.Data;

/// <summary>One captured tensor: its position in the model's parameter order, name, shape and file (relative to the capture directory).</summary>
internal sealed record CapturedTensor(int Index, string Name, int[] Shape, string File);

/// <summary>One rank's gradients at one step.</summary>
/// <param name="Step">The 1-based training step.</param>
internal sealed record CaptureEntry(long Step, int Rank, IReadOnlyList<CapturedTensor> Tensors);

/// <summary>
/// <c>manifest.json</c> of a gradient capture directory (<c>Examples train --save-gradients DIR</c>): the run's
/// settings and one entry per (step, rank) with every tensor's file. The format is described in
/// <c>docs/gradient-captures.md</c>.
/// </summary>
internal sealed record GradientCaptureManifest
{
    /// <summary>The value of <see cref="Format"/> in every manifest.</summary>
    public const string FormatName = "atomo-gradient-capture";

    /// <summary>The manifest's file name inside the capture directory.</summary>
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "<f4", not "\u003Cf4"
    };

    public string Format { get; init; } = FormatName;

    public int Version { get; init; } = 1;

    /// <summary><c>mlp</c> or <c>cnn</c>.</summary>
    public string Model { get; init; } = "";

    /// <summary>The network's one-line description (layers and parameter count).</summary>
    public string ModelDescription { get; init; } = "";

    public int Seed { get; init; }

    public int Ranks { get; init; }

    public int BatchSizePerRank { get; init; }

    public double LearningRate { get; init; }

    public double Momentum { get; init; }

    /// <summary>The compressor's label (the run's averaging; the captured gradients are the local ones, before it).</summary>
    public string Compressor { get; init; } = "";

    /// <summary>The training images used (after <c>--train-limit</c>).</summary>
    public int TrainingImages { get; init; }

    /// <summary>The element type of every file (<c>&lt;f4</c>).</summary>
    public string Dtype { get; init; } = NpyFile.Dtype;

    /// <summary>The steps asked for (<c>--save-gradients-at</c>); those past the end of the run have no captures.</summary>
    public IReadOnlyList<long> RequestedSteps { get; init; } = [];

    /// <summary>Every (step, rank) captured, by step and then rank.</summary>
    public IReadOnlyList<CaptureEntry> Captures { get; init; } = [];

    /// <summary>The captured steps, ascending.</summary>
    [JsonIgnore]
    public IReadOnlyList<long> Steps => [.. Captures.Select(c => c.Step).Distinct().Order()];

    /// <summary>The ranks captured at <paramref name="step"/>, ascending.</summary>
    public IReadOnlyList<CaptureEntry> At(long step) => [.. Captures.Where(c => c.Step == step).OrderBy(c => c.Rank)];

    public void Write(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, path, overwrite: true); // a reader never sees half a manifest
    }

    /// <summary>Reads and checks <c>DIR/manifest.json</c>.</summary>
    /// <exception cref="FileNotFoundException">No such directory or no manifest in it.</exception>
    /// <exception cref="FormatException">The manifest is not valid JSON, or not a capture manifest, or inconsistent.</exception>
    public static GradientCaptureManifest Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!Directory.Exists(directory))
        {
            throw new FileNotFoundException($"gradient capture directory '{directory}' does not exist", directory);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{directory}' is not a gradient capture: it has no {FileName} (make one with Examples train --save-gradients or bench/capture-gradients.sh)", path);
        }

        GradientCaptureManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<GradientCaptureManifest>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not valid JSON ({e.Message})", e);
        }

        if (manifest is null || manifest.Format != FormatName)
        {
            throw new FormatException($"{path}: not a gradient capture manifest (\"format\" is not \"{FormatName}\")");
        }

        if (manifest.Version != 1)
        {
            throw new FormatException($"{path}: manifest version {manifest.Version} is not supported (1 is)");
        }

        if (manifest.Captures.Count == 0)
        {
            throw new FormatException($"{path}: holds no captures (were all --save-gradients-at steps past the end of the run?)");
        }

        foreach (CaptureEntry entry in manifest.Captures)
        {
            if (entry.Tensors is null || entry.Tensors.Count == 0 || entry.Tensors.Any(t => t is null || t.Shape is null || string.IsNullOrEmpty(t.File)))
            {
                throw new FormatException($"{path}: the capture of step {entry.Step}, rank {entry.Rank} lists no tensors or a tensor without shape or file");
            }
        }

        return manifest;
    }
}
