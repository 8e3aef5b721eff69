using BenchmarkDotNet.Running;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Runs the benchmark classes of this assembly chosen by <c>--filter</c>. Development aids instead: <c>--ratios</c> (quick
/// Stopwatch ratios), <c>--stages M N K</c> (each stage of Spectral-Fast), <c>--encode-profile</c> (spectral encode
/// of the ResNet-18 matrices, stage by stage).
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
            EncodeProfile.Run(20);
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
