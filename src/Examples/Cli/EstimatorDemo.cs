using System.Diagnostics;
using System.Globalization;

namespace AtomoCollectives.Examples.Cli;

/// <summary>
/// Sparsifies one synthetic gradient with coordinate ATOMO, TernGrad and 1-bit QSGD, and shows what each keeps,
/// its exact variance beside the measured one, and that the average of many draws converges to the gradient.
/// </summary>
internal static class EstimatorDemo
{
    public static int Run(int length)
    {
        var random = new Random(1);
        var gradient = new float[length];
        for (int i = 0; i < length; i++)
        {
            gradient[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) / (1 + (i % 97)));
        }

        double norm2 = gradient.Sum(x => (double)x * x);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gradient: {length:N0} floats, ‖g‖² = {norm2:G4}"));
        Console.WriteLine($"{"compressor",-26} {"atoms",10} {"exact var/‖g‖²",15} {"measured",10} {"bias/√var",10} {"ms/draw",8}");
        Console.WriteLine("(bias/√var: distance of the mean of 20 draws from g, in units of its standard error; about 1 when unbiased)");
        Report("ATOMO coordinate, s=1%", gradient, new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = length * 0.01, BucketSize = 0 }, norm2);
        Report("TernGrad (bucket 512)", gradient, AtomoOptions.TernGrad(512), norm2);
        Report("QSGD 1-bit (bucket 512)", gradient, AtomoOptions.Qsgd(512), norm2);
        return 0;
    }

    private static void Report(string name, float[] gradient, AtomoOptions options, double norm2)
    {
        const int draws = 20;
        var selection = new AtomSelection();
        var estimate = new float[gradient.Length];
        var mean = new double[gradient.Length];
        double squaredError = 0;
        long atoms = 0;
        var clock = new Stopwatch();
        for (int draw = 0; draw < draws; draw++)
        {
            clock.Start();
            CoordinateSparsifier.Sample(gradient, options, RandomStreams.Encoder(options.Seed, 0, draw, 0), selection);
            clock.Stop();
            Array.Clear(estimate);
            selection.AddTo(estimate);
            atoms += selection.Count;
            for (int i = 0; i < gradient.Length; i++)
            {
                mean[i] += estimate[i] / (double)draws;
                squaredError += Math.Pow(estimate[i] - gradient[i], 2) / draws;
            }
        }

        double milliseconds = clock.Elapsed.TotalMilliseconds / draws;
        double exact = CoordinateSparsifier.Variance(gradient, options);
        double bias = Math.Sqrt(mean.Select((m, i) => Math.Pow(m - gradient[i], 2)).Sum());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-26} {atoms / draws,10:N0} {exact / norm2,15:G4} {squaredError / norm2,10:G4} {bias / Math.Sqrt(exact / draws),10:F2} {milliseconds,8:F2}"));
    }
}
