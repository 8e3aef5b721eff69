using System.Globalization;

namespace AtomoCollectives.Examples.Training;

/// <summary>Where and when <c>train</c> saves every rank's local gradients (<c>--save-gradients DIR --save-gradients-at LIST</c>).</summary>
/// <param name="Directory">The capture directory (created if needed).</param>
/// <param name="Steps">1-based training steps, ascending, distinct.</param>
internal sealed record GradientCaptureSettings(string Directory, IReadOnlyList<long> Steps)
{
    /// <summary>The steps captured when only <c>--save-gradients</c> is given: the first step, early and mid training.</summary>
    public static IReadOnlyList<long> DefaultSteps { get; } = [1, 100, 400];

    /// <summary>Parses a comma-separated list of 1-based step numbers (<c>1,100,400</c>) into ascending order.</summary>
    /// <exception cref="ArgumentException">Empty, not a whole number, zero or negative, or a duplicate.</exception>
    public static IReadOnlyList<long> ParseSteps(string list)
    {
        string[] parts = list.Split(',', StringSplitOptions.TrimEntries);
        var steps = new List<long>(parts.Length);
        foreach (string part in parts)
        {
            if (!long.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long step))
            {
                throw new ArgumentException($"--save-gradients-at '{list}': '{part}' is not a step number (expected 1-based steps like 1,100,400).");
            }

            if (step < 1)
            {
                throw new ArgumentException($"--save-gradients-at '{list}': step {step} is not at least 1 (steps count from 1).");
            }

            if (steps.Contains(step))
            {
                throw new ArgumentException($"--save-gradients-at '{list}': step {step} is listed twice.");
            }

            steps.Add(step);
        }

        steps.Sort();
        return steps;
    }

    /// <summary>
    /// Creates the directory and checks that a file can be written in it, so that a bad directory is an error before
    /// training starts, not at the first capture step.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be created or written.</exception>
    public void Prepare()
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            string probe = Path.Combine(Directory, $".write-test-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the gradient capture directory '{Directory}' (--save-gradients): {e.Message}", e);
        }
    }
}
