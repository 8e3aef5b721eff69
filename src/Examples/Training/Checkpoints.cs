using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives.Examples.Training;

/// <summary>Where and how often <c>train</c> checkpoints (<c>--checkpoint DIR --checkpoint-every N</c>), and whether it resumes (<c>--resume</c>).</summary>
internal sealed record CheckpointSettings(string Directory, int Every, bool Resume)
{
    public const int DefaultEvery = 100;
}

/// <summary>What the training loop carries from step to step besides the model, the optimizer and the averager.</summary>
internal sealed record TrainingProgress(
    long Step, double ComputeSeconds, double EvaluationSeconds, double CheckpointSeconds, double WallSeconds,
    double TrainLoss, double TestAccuracy, AllreduceStatistics Totals)
{
    public static TrainingProgress Start { get; } = new(0, 0, 0, 0, 0, double.NaN, double.NaN, new AllreduceStatistics());
}

/// <summary>
/// A run's checkpoints, so that a job stopped by a time limit or preemption resumes and ends bitwise identical to one
/// that was not stopped. Each checkpoint is a directory <c>step-NNNNNNNNN</c> holding <c>trainer.bin</c> (written by
/// rank 0: the run's fingerprint, its progress, the parameters and the momentum; the replicas are identical) and
/// <c>averager-rank-R.bin</c> (each rank's <see cref="IGradientAverager.SaveState"/>). Only when every rank has
/// written its part does rank 0 point the file <c>latest</c> at it (an atomic rename), so a job killed mid-save resumes
/// from the checkpoint before. The two newest are kept. The directory must be shared by all ranks (one file system on
/// one node, or a shared one across nodes).
/// </summary>
internal sealed class Checkpoints(ICommunicator world, CheckpointSettings settings, string fingerprint, ILogger logger)
{
    private static ReadOnlySpan<byte> Magic => "ATTRAIN1"u8;

    /// <summary>
    /// What must match for a checkpoint to continue a run: everything that shapes its numbers (the number of epochs may
    /// change, which only moves the end).
    /// </summary>
    public static string Fingerprint(TrainingSettings s, string model, int ranks, int images) => string.Create(
        CultureInfo.InvariantCulture,
        $"{model}; {s.Compressor.Label}; {ranks} ranks; batch {s.BatchSize}; lr {s.LearningRate:R}; momentum {s.Momentum:R}; seed {s.Seed}; {images} images");

    /// <summary>Whether a checkpoint is due after <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    public bool IsDue(long step, long totalSteps) => step % settings.Every == 0 || step == totalSteps;

    /// <summary>Saves a checkpoint at <paramref name="progress"/>'s step (collective: every rank calls it at the same step).</summary>
    /// <exception cref="IOException">Some rank could not write its part; raised on every rank.</exception>
    public void Save(TrainingProgress progress, float[] parameters, float[] velocity, IGradientAverager averager)
    {
        string name = $"step-{progress.Step:D9}";
        string directory = Path.Combine(settings.Directory, name);
        string? failure = null;
        try
        {
            Directory.CreateDirectory(directory);
            if (world.Rank == 0)
            {
                WriteAtomically(Path.Combine(directory, "trainer.bin"), stream => WriteTrainer(stream, progress, parameters, velocity));
            }

            WriteAtomically(Path.Combine(directory, $"averager-rank-{world.Rank}.bin"), averager.SaveState);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            failure = error.Message;
        }

        AgreeOrThrow(failure, $"saving the checkpoint at step {progress.Step} in {settings.Directory}");
        if (world.Rank == 0)
        {
            WriteAtomically(Path.Combine(settings.Directory, "latest"), stream => stream.Write(Encoding.UTF8.GetBytes(name)));
            foreach (string old in Directory.GetDirectories(settings.Directory, "step-*").Order(StringComparer.Ordinal).SkipLast(2))
            {
                Directory.Delete(old, recursive: true);
            }

            logger.LogInformation("Checkpoint at step {Step}: {Directory}", progress.Step, directory);
        }
    }

    /// <summary>
    /// Loads the latest checkpoint into <paramref name="parameters"/>, <paramref name="velocity"/> and
    /// <paramref name="averager"/> (collective) and returns its progress; <see langword="null"/> (nothing changed) when
    /// there is none yet, as in the first run of a job that is requeued later.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint is of another run or damaged, on some rank; raised on every rank.</exception>
    public TrainingProgress? Resume(float[] parameters, float[] velocity, IGradientAverager averager)
    {
        string pointer = Path.Combine(settings.Directory, "latest");
        bool exists = File.Exists(pointer);
        string? failure = null;
        TrainingProgress? progress = null;
        if (exists)
        {
            try
            {
                string directory = Path.Combine(settings.Directory, File.ReadAllText(pointer).Trim());
                var loadedParameters = new float[parameters.Length];
                var loadedVelocity = new float[velocity.Length];
                using (FileStream trainer = File.OpenRead(Path.Combine(directory, "trainer.bin")))
                {
                    progress = ReadTrainer(trainer, loadedParameters, loadedVelocity);
                }

                using (FileStream state = File.OpenRead(Path.Combine(directory, $"averager-rank-{world.Rank}.bin")))
                {
                    averager.LoadState(state);
                }

                if (averager.Step != progress.Step)
                {
                    throw new InvalidDataException($"{directory}: the averager's state is at step {averager.Step}, the trainer's at {progress.Step}.");
                }

                loadedParameters.CopyTo(parameters, 0);
                loadedVelocity.CopyTo(velocity, 0);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                failure = error.Message;
            }
        }

        AgreeOrThrow(failure, $"resuming from {pointer}", exists);
        return progress;
    }

    /// <summary>Every rank learns whether any rank failed (and whether all saw the same checkpoint), and all raise together.</summary>
    private void AgreeOrThrow(string? failure, string what, bool present = true)
    {
        Span<float> counts = [failure is null ? 0 : 1, present ? 1 : 0];
        world.AllreduceSum(counts);
        if (counts[0] == 0 && (counts[1] == 0 || counts[1] == world.Size))
        {
            return;
        }

        string reason = failure ?? (counts[0] > 0 ? $"{counts[0]} other rank(s) failed" : $"only {counts[1]} of {world.Size} ranks see a checkpoint (the directory must be shared by all ranks)");
        throw new InvalidDataException($"Rank {world.Rank}: {what}: {reason.TrimEnd('.')}.");
    }

    private void WriteTrainer(Stream stream, TrainingProgress progress, float[] parameters, float[] velocity)
    {
        var body = new MemoryStream();
        using (var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(fingerprint);
            writer.Write(progress.Step);
            foreach (double value in (ReadOnlySpan<double>)[progress.ComputeSeconds, progress.EvaluationSeconds, progress.CheckpointSeconds, progress.WallSeconds, progress.TrainLoss, progress.TestAccuracy])
            {
                writer.Write(value);
            }

            AllreduceStatistics t = progress.Totals;
            foreach (long value in (ReadOnlySpan<long>)[t.Calls, t.Tensors, t.CompressedTensors, t.BytesSent, t.BytesReceived, t.DenseEquivalentBytes, t.AtomsSent])
            {
                writer.Write(value);
            }

            writer.Write(t.EncodeSeconds);
            writer.Write(t.ExchangeSeconds);
            writer.Write(t.DecodeSeconds);
            WriteFloats(writer, parameters);
            WriteFloats(writer, velocity);
        }

        byte[] bytes = body.ToArray();
        stream.Write(bytes);
        stream.Write(BitConverter.GetBytes(XxHash3.HashToUInt64(bytes)));
    }

    /// <exception cref="InvalidDataException">Damaged, or from another run (the message names both fingerprints).</exception>
    private TrainingProgress ReadTrainer(Stream stream, float[] parameters, float[] velocity)
    {
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        byte[] bytes = copy.ToArray();
        if (bytes.Length < Magic.Length + 8 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)
            || BitConverter.ToUInt64(bytes, bytes.Length - 8) != XxHash3.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8)))
        {
            throw new InvalidDataException("trainer.bin is not an intact checkpoint (its magic or its checksum is wrong).");
        }

        using var reader = new BinaryReader(new MemoryStream(bytes, Magic.Length, bytes.Length - 8 - Magic.Length), Encoding.UTF8);
        try
        {
            string saved = reader.ReadString();
            if (saved != fingerprint)
            {
                throw new InvalidDataException($"The checkpoint is of another run: it was saved by \"{saved}\", this run is \"{fingerprint}\".");
            }

            long step = reader.ReadInt64();
            double compute = reader.ReadDouble(), evaluation = reader.ReadDouble(), checkpoint = reader.ReadDouble(), wall = reader.ReadDouble();
            double loss = reader.ReadDouble(), accuracy = reader.ReadDouble();
            var totals = new AllreduceStatistics
            {
                Calls = reader.ReadInt64(),
                Tensors = reader.ReadInt64(),
                CompressedTensors = reader.ReadInt64(),
                BytesSent = reader.ReadInt64(),
                BytesReceived = reader.ReadInt64(),
                DenseEquivalentBytes = reader.ReadInt64(),
                AtomsSent = reader.ReadInt64(),
                EncodeSeconds = reader.ReadDouble(),
                ExchangeSeconds = reader.ReadDouble(),
                DecodeSeconds = reader.ReadDouble(),
            };
            ReadFloats(reader, parameters, "parameters");
            ReadFloats(reader, velocity, "momentum");
            return new TrainingProgress(step, compute, evaluation, checkpoint, wall, loss, accuracy, totals);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("trainer.bin ends early.");
        }
    }

    private static void WriteFloats(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static void ReadFloats(BinaryReader reader, float[] destination, string what)
    {
        int length = reader.ReadInt32();
        if (length != destination.Length)
        {
            throw new InvalidDataException($"The checkpoint's {what} have {length} values; this model has {destination.Length}.");
        }

        byte[] bytes = reader.ReadBytes(length * sizeof(float));
        if (bytes.Length != length * sizeof(float))
        {
            throw new EndOfStreamException();
        }

        bytes.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination.AsSpan()));
    }

    /// <summary>Writes through a temporary file and renames it, so a reader never sees half a file.</summary>
    private static void WriteAtomically(string path, Action<Stream> write)
    {
        string temporary = path + ".tmp";
        using (FileStream stream = File.Create(temporary))
        {
            write(stream);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
