using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// <c>--fourier-variance [--gradients DIR [--step S]]…</c>: what the choice of basis does to ATOMO's variance at equal
/// bytes. For each basis (coordinate atoms, Fourier atoms on blocks of 8 … 1024, one DCT of the whole tensor) and each
/// matrix of the set, the estimator's exact variance <c>Σ_i c_i²(1/p_i − 1)</c> at the network bench's budget (10 atoms per
/// bucket of 1024) over the basis's coefficients (<see cref="CoordinateSparsifier.Variance"/>). Printed: Σ variance / Σ‖g‖² over the set (lower is better; the payload
/// sizes are the same for every basis, up to the position coding).
/// </summary>
internal static class FourierVariance
{
    private static readonly int[] Bases = [-1, 8, 16, 32, 64, 128, 256, 1024, 0]; // −1: coordinate atoms; 0: the whole tensor

    public static void Run(IReadOnlyList<(string? Gradients, long? Step)> sets)
    {
        Console.WriteLine($"{"set",-60} {string.Join(" ", Bases.Select(b => $"{Name(b),10}"))}");
        foreach ((string? gradients, long? step) in sets)
        {
            (string source, List<(float[] Data, int Rows, int Columns)> matrices) = EncodeProfile.Matrices(gradients, step);
            var row = new List<string>();
            foreach (int basis in Bases)
            {
                var options = new AtomoOptions
                {
                    Decomposition = basis < 0 ? Decomposition.Coordinate : Decomposition.Fourier,
                    Budget = 10,
                    BucketSize = 1024,
                    FourierBlockLength = Math.Max(0, basis),
                };
                double variance = 0, energy = 0;
                foreach ((float[] g, int m, int n) in matrices)
                {
                    var coefficients = new float[g.Length];
                    if (basis < 0)
                    {
                        g.CopyTo(coefficients, 0);
                    }
                    else
                    {
                        FourierAtoms.Forward(g, coefficients, options.FourierBlockLength);
                    }

                    variance += CoordinateSparsifier.Variance(coefficients, options);
                    energy += g.Sum(x => (double)x * x);
                }

                row.Add($"{variance / energy,10:F3}");
            }

            string name = gradients is null ? source : $"{Path.GetFileName(gradients.TrimEnd('/'))} step {step?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "last"}";
            Console.WriteLine($"{name,-60} {string.Join(" ", row)}");
        }
    }

    private static string Name(int basis) => basis switch
    {
        < 0 => "coordinate",
        0 => "whole",
        _ => $"B={basis}",
    };
}
