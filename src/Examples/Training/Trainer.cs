using System.Diagnostics;
using System.IO.Hashing;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Hosting;
using AtomoCollectives.Examples.Models;
using AtomoCollectives.Examples.Reporting;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives.Examples.Training;

/// <summary>
/// Data-parallel SGD (with momentum) on one rank: every rank starts from the same weights, trains on its own shard
/// of each epoch's shuffled data, and averages its gradients with the others every step, so the replicas stay
/// identical. Rank 0 writes <c>metrics.csv</c> and <c>summary.json</c>.
/// </summary>
internal static class Trainer
{
    public static RunSummary Run(ICommunicator world, TrainingSettings settings, LabeledImages train, LabeledImages test, string transport)
    {
        ILogger logger = ExampleLogging.Factory.CreateLogger("Examples.Train");
        int ranks = world.Size;
        int shard = train.Count / ranks;
        int stepsPerEpoch = shard / settings.BatchSize;
        if (stepsPerEpoch == 0)
        {
            throw new ArgumentException($"{train.Count} training images over {ranks} ranks leave {shard} per rank, fewer than one batch of {settings.BatchSize}.");
        }

        long totalSteps = (long)stepsPerEpoch * settings.Epochs;
        if (settings.MaxSteps > 0)
        {
            totalSteps = Math.Min(totalSteps, settings.MaxSteps);
        }

        int evaluateEvery = Math.Max(1, stepsPerEpoch / Math.Max(1, settings.EvaluationsPerEpoch));
        var network = Network.Create(settings.Model, train.Height, train.Width, FashionMnist.Classes.Count, settings.Seed, settings.BatchSize);
        using IGradientAverager averager = settings.Compressor.CreateAverager(world, (ulong)settings.Seed);
        var velocity = new float[network.Store.Length];
        var batchImages = new float[settings.BatchSize * train.Pixels];
        var batchLabels = new byte[settings.BatchSize];
        var order = new int[train.Count];
        var stepTotals = new float[3];
        bool isRoot = world.Rank == 0;
        if (isRoot)
        {
            logger.LogInformation(
                "Training {Model} on {Images:N0} images, {Ranks} ranks × batch {Batch}, {Steps} steps ({StepsPerEpoch}/epoch), {Compressor}, lr {Lr}, momentum {Momentum}",
                network.Description, train.Count, ranks, settings.BatchSize, totalSteps, stepsPerEpoch, settings.Compressor.Label, settings.LearningRate, settings.Momentum);
        }

        logger.LogDebug("Rank {Rank} of {Ranks}: {Shard} images per epoch (every {Ranks}th of the shuffled set from offset {Rank})", world.Rank, ranks, stepsPerEpoch * settings.BatchSize, ranks, world.Rank);
        GradientCapture? capture = settings.SaveGradients is { } saving ? new GradientCapture(world, saving, settings, network.Description, train.Count) : null;
        if (isRoot && settings.SaveGradients is { } requested && requested.Steps.Where(s => s > totalSteps).ToList() is { Count: > 0 } late)
        {
            logger.LogWarning("--save-gradients-at {Steps}: past the run's {Total} steps, not captured", string.Join(',', late), totalSteps);
        }

        Checkpoints? checkpoints = settings.Checkpoint is { } checkpointing
            ? new Checkpoints(world, checkpointing, Checkpoints.Fingerprint(settings, network.Description, ranks, train.Count), logger)
            : null;
        TrainingProgress resumed = (settings.Checkpoint?.Resume == true ? checkpoints!.Resume(network.Store.Values, velocity, averager) : null) ?? TrainingProgress.Start;
        if (isRoot && settings.Checkpoint is { Resume: true } resuming)
        {
            logger.LogInformation("--resume: continuing from step {Step} (checkpoints in {Directory}; step 0: there was none yet)", resumed.Step, resuming.Directory);
        }

        StreamWriter? metrics = isRoot ? MetricsCsv.OpenForStep(Path.Combine(settings.OutputDirectory, "metrics.csv"), resumed.Step) : null;
        double computeSeconds = resumed.ComputeSeconds, evaluationSeconds = resumed.EvaluationSeconds, checkpointSeconds = resumed.CheckpointSeconds;
        double trainLoss = resumed.TrainLoss, testAccuracy = resumed.TestAccuracy;
        bool diverged = false;
        var wall = Stopwatch.StartNew();
        double Elapsed() => resumed.WallSeconds + wall.Elapsed.TotalSeconds;
        AllreduceStatistics Totals() => resumed.Totals + averager.Statistics;
        long step = resumed.Step;
        ProgressDisplay.Run(isRoot, settings.Compressor.Label, totalSteps, logger, report =>
        {
            // A resumed run starts inside the epoch it stopped in; from then on each epoch starts at batch 0.
            for (int epoch = (int)(step / stepsPerEpoch); step < totalSteps; epoch++)
            {
                Shuffle(order, settings.Seed, epoch);
                for (int batch = (int)(step % stepsPerEpoch); batch < stepsPerEpoch && step < totalSteps; batch++)
                {
                    long start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < settings.BatchSize; i++)
                    {
                        int image = order[(((batch * settings.BatchSize) + i) * ranks) + world.Rank]; // interleaved shards
                        train.Image(image).CopyTo(batchImages.AsSpan(i * train.Pixels));
                        batchLabels[i] = train.Labels[image];
                    }

                    (double lossSum, int correct) = network.ComputeGradients(batchImages, batchLabels, settings.BatchSize);
                    computeSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    stepTotals[0] = (float)lossSum;
                    stepTotals[1] = correct;
                    stepTotals[2] = settings.BatchSize;
                    world.AllreduceSum(stepTotals); // before averaging: every rank sees the same loss and stops together
                    trainLoss = stepTotals[0] / stepTotals[2];
                    if (!double.IsFinite(trainLoss))
                    {
                        diverged = true;
                        testAccuracy = Evaluate(world, network, test, batchImages, batchLabels);
                        if (isRoot)
                        {
                            logger.LogWarning("{Label} diverged at step {Step} (training loss {Loss}); stopping this run.", settings.Compressor.Label, step + 1, trainLoss);
                        }

                        return;
                    }

                    if (capture?.IsCaptureStep(step + 1) == true)
                    {
                        capture.Save(step + 1, network.Store); // the local gradients, before averaging
                    }

                    averager.Average(network.Store.GradientTensors, network.Store.Shapes);
                    start = Stopwatch.GetTimestamp();
                    Update(network.Store, velocity, settings);
                    computeSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    step++;
                    double? measured = null;
                    if (step % evaluateEvery == 0 || step == totalSteps)
                    {
                        // Timed apart: evaluating is not training, and time-to-accuracy must not depend on how often it runs.
                        long evaluationStart = Stopwatch.GetTimestamp();
                        testAccuracy = Evaluate(world, network, test, batchImages, batchLabels);
                        measured = testAccuracy;
                        evaluationSeconds += Stopwatch.GetElapsedTime(evaluationStart).TotalSeconds;
                    }

                    AllreduceStatistics t = Totals();
                    double elapsed = Elapsed();
                    metrics?.WriteLine(MetricsCsv.Format(new StepMetrics(
                        step, epoch, trainLoss, stepTotals[1] / stepTotals[2], measured, t.BytesSent, t.BytesReceived, t.DenseEquivalentBytes,
                        computeSeconds, t.EncodeSeconds, t.ExchangeSeconds, t.DecodeSeconds, elapsed, elapsed - evaluationSeconds - checkpointSeconds)));
                    if (checkpoints?.IsDue(step, totalSteps) == true)
                    {
                        // Timed apart, like evaluations: saving is not training.
                        long checkpointStart = Stopwatch.GetTimestamp();
                        metrics?.Flush();
                        checkpoints.Save(new TrainingProgress(step, computeSeconds, evaluationSeconds, checkpointSeconds, Elapsed(), trainLoss, testAccuracy, t), network.Store.Values, velocity, averager);
                        checkpointSeconds += Stopwatch.GetElapsedTime(checkpointStart).TotalSeconds;
                    }

                    report(step, double.IsNaN(testAccuracy) ? $"loss {trainLoss:F3}" : $"loss {trainLoss:F3} test {testAccuracy:P1}");
                }
            }
        });

        wall.Stop();
        metrics?.Dispose();
        (bool identical, string checksum) = CompareReplicas(world, network.Store.Values);
        logger.LogDebug("Rank {Rank}: {Steps} steps, parameter checksum {Checksum}, replicas identical: {Identical}", world.Rank, step, checksum, identical);
        AllreduceStatistics totals = Totals();
        var summary = new RunSummary
        {
            Compressor = settings.Compressor.Name,
            Label = settings.Compressor.Label,
            Budget = settings.Compressor.Budget,
            Bits = settings.Compressor.Bits,
            MatrixRank = settings.Compressor.Rank,
            Model = network.Description,
            Ranks = ranks,
            Transport = transport,
            LinearAlgebra = LinearAlgebraProvider.ActiveProvider,
            Epochs = settings.Epochs,
            Steps = step,
            BatchSizePerRank = settings.BatchSize,
            LearningRate = settings.LearningRate,
            Momentum = settings.Momentum,
            Seed = settings.Seed,
            TrainingImages = train.Count,
            FinalTestAccuracy = testAccuracy,
            FinalTrainLoss = trainLoss,
            Diverged = diverged,
            BytesSentPerRank = totals.BytesSent,
            BytesReceivedPerRank = totals.BytesReceived,
            DenseEquivalentBytes = totals.DenseEquivalentBytes,
            CompressionRatio = totals.BytesSent == 0 ? 0 : (double)totals.DenseEquivalentBytes / totals.BytesSent,
            WallSeconds = Elapsed(),
            EvaluationSeconds = evaluationSeconds,
            ComputeSeconds = computeSeconds,
            EncodeSeconds = totals.EncodeSeconds,
            ExchangeSeconds = totals.ExchangeSeconds,
            DecodeSeconds = totals.DecodeSeconds,
            ReplicasIdentical = identical,
            ParameterChecksum = checksum,
        };
        if (isRoot)
        {
            summary.Write(Path.Combine(settings.OutputDirectory, "summary.json"));
            logger.LogInformation(
                "{Label}: test accuracy {Accuracy:P2}, {Sent:N0} bytes sent per rank ({Ratio:F1}× fewer than dense), {Wall:F1} s; encode {Encode:F2} s, exchange {Exchange:F2} s, decode {Decode:F2} s; replicas identical: {Identical}",
                summary.Label, summary.FinalTestAccuracy, summary.BytesSentPerRank, summary.CompressionRatio, summary.WallSeconds, summary.EncodeSeconds, summary.ExchangeSeconds, summary.DecodeSeconds, identical);
        }

        if (!identical)
        {
            logger.LogError("Rank {Rank}: the replicas' parameters differ after training (checksum {Checksum}); gradient averaging is not bitwise reproducible.", world.Rank, checksum);
        }

        return summary;
    }

    /// <summary>SGD with momentum: <c>v ← μv + g</c>, <c>w ← w − ηv</c>.</summary>
    private static void Update(ParameterStore store, float[] velocity, TrainingSettings settings)
    {
        TensorPrimitives.MultiplyAdd(velocity, (float)settings.Momentum, store.Gradients, velocity);
        TensorPrimitives.MultiplyAdd(velocity, (float)-settings.LearningRate, store.Values, store.Values);
    }

    /// <summary>Test accuracy: each rank classifies the images with index ≡ rank (mod N); the counts are summed.</summary>
    private static double Evaluate(ICommunicator world, Network network, LabeledImages test, float[] images, byte[] labels)
    {
        Span<float> counts = stackalloc float[2];
        int batchCapacity = labels.Length, filled = 0;
        for (int index = world.Rank; index < test.Count; index += world.Size)
        {
            test.Image(index).CopyTo(images.AsSpan(filled * test.Pixels));
            labels[filled++] = test.Labels[index];
            if (filled == batchCapacity || index + world.Size >= test.Count)
            {
                counts[0] += network.CountCorrect(images, labels, filled);
                counts[1] += filled;
                filled = 0;
            }
        }

        world.AllreduceSum(counts);
        return counts[0] / counts[1];
    }

    /// <summary>The same permutation on every rank for a given (seed, epoch).</summary>
    private static void Shuffle(int[] order, int seed, int epoch)
    {
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        new Random(unchecked((int)RandomStreams.DataOrder((ulong)seed, epoch))).Shuffle(order);
    }

    private static (bool Identical, string Checksum) CompareReplicas(ICommunicator world, float[] parameters)
    {
        ulong local = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(parameters.AsSpan()));
        var all = new ulong[world.Size];
        world.Allgather<ulong>([local], all);
        return (all.All(c => c == local), local.ToString("X16", System.Globalization.CultureInfo.InvariantCulture));
    }
}
