using AtomoCollectives.Examples.Data;
using AtomoCollectives.Examples.Models;

namespace AtomoCollectives.Examples.Training;

/// <summary>
/// Saves this rank's local gradients (what it hands to the averager) at the chosen steps, one <c>.npy</c> file per
/// tensor under <c>DIR/step-NNNNNN/rank-R/</c>; rank 0 keeps <c>DIR/manifest.json</c> up to date after every capture.
/// Every rank calls <see cref="Save"/> at the same steps (it is collective). See <c>docs/gradient-captures.md</c>.
/// </summary>
internal sealed class GradientCapture
{
    private readonly ICommunicator _world;
    private readonly GradientCaptureSettings _capture;
    private readonly GradientCaptureManifest _header;
    private readonly HashSet<long> _steps;
    private readonly List<CaptureEntry> _captures = [];

    public GradientCapture(ICommunicator world, GradientCaptureSettings capture, TrainingSettings settings, string modelDescription, int trainingImages)
    {
        _world = world;
        _capture = capture;
        _steps = [.. capture.Steps];
        _header = new GradientCaptureManifest
        {
            Model = settings.Model.Name(),
            ModelDescription = modelDescription,
            Seed = settings.Seed,
            Ranks = world.Size,
            BatchSizePerRank = settings.BatchSize,
            LearningRate = settings.LearningRate,
            Momentum = settings.Momentum,
            Compressor = settings.Compressor.Label,
            TrainingImages = trainingImages,
            RequestedSteps = capture.Steps,
        };
    }

    /// <summary>Whether 1-based <paramref name="step"/> is captured.</summary>
    public bool IsCaptureStep(long step) => _steps.Contains(step);

    /// <summary>The folder of a step's captures, relative to the capture directory: <c>step-000100</c>.</summary>
    public static string StepFolder(long step) => $"step-{step:D6}";

    /// <summary>A tensor's file, relative to the capture directory: <c>step-000100/rank-0/000-fc1.weight.npy</c>.</summary>
    public static string TensorFile(long step, int rank, int index, string name) =>
        $"{StepFolder(step)}/rank-{rank}/{index:D3}-{SafeName(name)}.npy";

    /// <summary>
    /// Collective: writes this rank's gradients of 1-based <paramref name="step"/>, then (rank 0) the manifest; every
    /// rank learns whether all succeeded and, if one failed, every rank throws.
    /// </summary>
    /// <exception cref="IOException">This or another rank could not write its files.</exception>
    public void Save(long step, ParameterStore store)
    {
        string? problem = null;
        try
        {
            Directory.CreateDirectory(Path.Combine(_capture.Directory, StepFolder(step), $"rank-{_world.Rank}"));
            for (int i = 0; i < store.Parameters.Count; i++)
            {
                Parameter parameter = store.Parameters[i];
                NpyFile.Write(Path.Combine(_capture.Directory, TensorFile(step, _world.Rank, i, parameter.Name)), parameter.Gradient.Span, parameter.Shape.Dimensions);
            }

            if (_world.Rank == 0)
            {
                // Every rank has the same parameters in the same order, so rank 0 can list all ranks' files.
                for (int rank = 0; rank < _world.Size; rank++)
                {
                    _captures.Add(new CaptureEntry(step, rank, [.. store.Parameters.Select((p, i) => new CapturedTensor(i, p.Name, p.Shape.Dimensions.ToArray(), TensorFile(step, rank, i, p.Name)))]));
                }

                (_header with { Captures = _captures }).Write(_capture.Directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot save the gradients of step {step} to '{_capture.Directory}' (--save-gradients): {e.Message}";
        }

        float[] failures = [problem is null ? 0 : 1];
        _world.AllreduceSum(failures);
        if (failures[0] > 0)
        {
            throw new IOException(problem ?? $"another rank could not save its gradients of step {step} to '{_capture.Directory}' (--save-gradients); see its log");
        }
    }

    private static string SafeName(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_'));
}
