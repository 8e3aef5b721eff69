using BenchmarkDotNet.Running;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Runs the benchmark classes of this assembly chosen by <c>--filter</c>. Development aids instead: <c>--ratios</c> (quick
/// Stopwatch ratios), <c>--stages M N K</c> (each stage of Spectral-Fast), <c>--encode-profile</c> (spectral encode
/// of the ResNet-18 matrices, stage by stage; <c>--gradients DIR [--step S]</c>: a gradient capture's matrices instead).
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--stages")
        {
            StageTimings.Run(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        if (args.Length > 0 && args[0] == "--encode-profile")
        {
            // --encode-profile [--gradients DIR [--step S]]: synthetic ResNet-18 matrices, or a capture's real ones.
            int at = Array.IndexOf(args, "--gradients"), stepAt = Array.IndexOf(args, "--step");
            string? gradients = at > 0 && at + 1 < args.Length ? args[at + 1] : null;
            long? step = stepAt > 0 && stepAt + 1 < args.Length ? long.Parse(args[stepAt + 1], System.Globalization.CultureInfo.InvariantCulture) : null;
            try
            {
                EncodeProfile.Run(20, gradients, step);
            }
            catch (Exception e) when (e is IOException or FormatException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                Environment.Exit(1);
            }

            return;
        }

        if (args.Length > 0 && args[0] == "--ratios")
        {
            QuickRatios.Run(args.Skip(1).ToArray());
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
