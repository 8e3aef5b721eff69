using AtomoCollectives.Examples.Models;

namespace AtomoCollectives.Examples.Training;

/// <summary>Everything one training run needs; the same on every rank.</summary>
/// <param name="BatchSize">Samples per rank per step (the global batch is N times this).</param>
/// <param name="MaxSteps">Stop after this many steps (0: run all epochs).</param>
/// <param name="TrainLimit">Use only the first this many training images (0: all 60,000).</param>
/// <param name="EvaluationsPerEpoch">How often the test accuracy is measured (and once more at the end).</param>
/// <param name="SaveGradients">Where and when to save every rank's local gradients (<c>--save-gradients</c>); none by default.</param>
/// <param name="Checkpoint">Where and how often to checkpoint, and whether to resume (<c>--checkpoint</c>); none by default.</param>
internal sealed record TrainingSettings(
    Compressor Compressor,
    ModelKind Model,
    int Epochs,
    int BatchSize,
    double LearningRate,
    double Momentum,
    int Seed,
    string OutputDirectory,
    long MaxSteps,
    string DataDirectory,
    int TrainLimit,
    int EvaluationsPerEpoch,
    GradientCaptureSettings? SaveGradients = null,
    CheckpointSettings? Checkpoint = null);
