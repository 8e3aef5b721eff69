using AtomoCollectives.Examples.Data;

namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// Real gradients for the bench: one step of a capture directory (<c>Examples train --save-gradients</c>). Bench
/// rank <c>r</c> uses the gradients captured on rank <c>r mod CapturedRanks</c>, so any number of bench ranks works
/// and, up to the number captured, every rank has different data as in training.
/// </summary>
/// <param name="Directory">The capture directory.</param>
/// <param name="Step">The 1-based training step whose gradients are used.</param>
/// <param name="Ranks">The captures of that step, one per captured rank, by rank.</param>
internal sealed record CapturedGradients(string Directory, long Step, IReadOnlyList<CaptureEntry> Ranks)
{
    /// <summary>The prefix that marks a capture directory in <c>--sets</c> (optional for a path) and every captured set's name.</summary>
    public const string Prefix = "capture:";

    /// <summary>The captured rank whose gradients bench rank <paramref name="rank"/> uses.</summary>
    public CaptureEntry For(int rank) => Ranks[rank % Ranks.Count];

    /// <summary>One freshly read array per tensor, for bench rank <paramref name="rank"/>.</summary>
    /// <exception cref="NpyFormatException">A file is corrupt or its shape is not the manifest's.</exception>
    public float[][] Load(int rank)
    {
        CaptureEntry entry = For(rank);
        var gradients = new float[entry.Tensors.Count][];
        for (int t = 0; t < gradients.Length; t++)
        {
            CapturedTensor tensor = entry.Tensors[t];
            string path = Path.Combine(Directory, tensor.File);
            NpyArray array = NpyFile.Read(path);
            if (!array.Shape.SequenceEqual(tensor.Shape))
            {
                throw new NpyFormatException(path, $"shape ({string.Join(", ", array.Shape)}) is not the manifest's ({string.Join(", ", tensor.Shape)}) for {tensor.Name}");
            }

            gradients[t] = array.Data;
        }

        return gradients;
    }

    /// <summary>
    /// The gradient set of <paramref name="directory"/> at <paramref name="step"/> (default: the last captured step),
    /// named <c>capture:DIRNAME-stepS</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such directory, no manifest, or a listed file is missing.</exception>
    /// <exception cref="FormatException">A bad manifest, or ranks that disagree on the tensors.</exception>
    /// <exception cref="ArgumentException"><paramref name="step"/> was not captured.</exception>
    public static GradientSet Open(string directory, long? step)
    {
        GradientCaptureManifest manifest = GradientCaptureManifest.Read(directory);
        long chosen = step ?? manifest.Steps[^1];
        IReadOnlyList<CaptureEntry> entries = manifest.At(chosen);
        if (entries.Count == 0)
        {
            throw new ArgumentException($"--capture-step {chosen}: the capture in '{directory}' has steps {string.Join(", ", manifest.Steps)} only.");
        }

        IReadOnlyList<CapturedTensor> first = entries[0].Tensors;
        foreach (CaptureEntry entry in entries)
        {
            bool same = entry.Tensors.Count == first.Count
                && entry.Tensors.Zip(first).All(pair => pair.First.Name == pair.Second.Name && pair.First.Shape.SequenceEqual(pair.Second.Shape));
            if (!same)
            {
                throw new FormatException($"{Path.Combine(directory, GradientCaptureManifest.FileName)}: rank {entry.Rank} at step {chosen} lists other tensors than rank {entries[0].Rank}");
            }

            foreach (CapturedTensor tensor in entry.Tensors)
            {
                string path = Path.Combine(directory, tensor.File);
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException($"{path}: listed in {GradientCaptureManifest.FileName} but missing", path);
                }
            }
        }

        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        var source = new CapturedGradients(directory, chosen, entries);
        return new GradientSet(
            $"{Prefix}{name}-step{chosen}",
            $"Captured gradients of {manifest.ModelDescription} at step {chosen} ({entries.Count} ranks, seed {manifest.Seed}, batch {manifest.BatchSizePerRank}/rank, {manifest.Compressor}) from {directory}; bench rank r uses captured rank r mod {entries.Count}",
            [.. first.Select(t => new NamedTensor(t.Name, TensorShape.Of([.. t.Shape])))],
            source);
    }
}
