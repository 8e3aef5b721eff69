using BenchmarkDotNet.Running;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Runs the benchmark classes of this assembly chosen by <c>--filter</c>. Development aids instead: <c>--ratios</c> (quick
/// Stopwatch ratios), <c>--stages M N K</c> (each stage of Spectral-Fast), <c>--encode-profile</c> (spectral encode
/// and decode of the ResNet-18 matrices, stage by stage; <c>--basis fourier</c>: Fourier's; <c>--gradients DIR [--step S]</c>: a gradient capture's matrices instead),
/// <c>--spectral-study DIR</c> (Fast against Exact on a capture's real gradients: bytes and variance),
/// <c>--soak [calls] [ranks] [model|resnet18] [CSV]</c> (memory over many in-process calls), <c>--soak-plot OUT.png CSV…</c>, <c>--fourier-variance [--gradients DIR [--step S]]…</c> (the estimator variance of each Fourier block length against coordinate atoms), <c>--fourier-kernels</c> (FFTW's inverse DCT with and without SIMD codelets: differing bits and times), <c>--draw-timing FILE.npy</c> (one captured matrix: the water level, the draw at several levels, decode, warm-cache).
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

        if (args.Length > 0 && args[0] == "--fourier-variance")
        {
            // --fourier-variance [--gradients DIR [--step S]]…: the synthetic ResNet-18 set, then each capture given.
            var sets = new List<(string?, long?)> { (null, null) };
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] == "--gradients")
                {
                    long? at = i + 3 < args.Length + 1 && i + 2 < args.Length && args[i + 2] == "--step" ? long.Parse(args[i + 3], System.Globalization.CultureInfo.InvariantCulture) : null;
                    sets.Add((args[i + 1], at));
                }
            }

            FourierVariance.Run(sets);
            return;
        }

        if (args.Length > 0 && args[0] == "--encode-profile")
        {
            // --encode-profile [--gradients DIR [--step S]] [--basis spectral|fourier] [--fourier-block B] [--rounds R]: synthetic ResNet-18 matrices, or a capture's real ones.
            int at = Array.IndexOf(args, "--gradients"), stepAt = Array.IndexOf(args, "--step");
            string? gradients = at > 0 && at + 1 < args.Length ? args[at + 1] : null;
            long? step = stepAt > 0 && stepAt + 1 < args.Length ? long.Parse(args[stepAt + 1], System.Globalization.CultureInfo.InvariantCulture) : null;
            try
            {
                int basisAt = Array.IndexOf(args, "--basis");
                Decomposition basis = basisAt > 0 && basisAt + 1 < args.Length ? Enum.Parse<Decomposition>(args[basisAt + 1], ignoreCase: true) : Decomposition.Spectral;
                int roundsAt = Array.IndexOf(args, "--rounds");
                int rounds = roundsAt > 0 && roundsAt + 1 < args.Length ? int.Parse(args[roundsAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 20;
                int blockAt = Array.IndexOf(args, "--fourier-block");
                int? block = blockAt > 0 && blockAt + 1 < args.Length ? int.Parse(args[blockAt + 1], System.Globalization.CultureInfo.InvariantCulture) : null;
                EncodeProfile.Run(rounds, gradients, step, basis, block);
            }
            catch (Exception e) when (e is IOException or FormatException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                Environment.Exit(1);
            }

            return;
        }

        if (args.Length > 1 && args[0] == "--spectral-study")
        {
            // --spectral-study DIR [--budget S] [--seeds N]: Fast vs Exact on a capture's real gradients.
            int budgetAt = Array.IndexOf(args, "--budget"), seedsAt = Array.IndexOf(args, "--seeds");
            double budget = budgetAt > 0 ? double.Parse(args[budgetAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 3;
            int seeds = seedsAt > 0 ? int.Parse(args[seedsAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 16;
            int oversamplingAt = Array.IndexOf(args, "--oversampling");
            int oversampling = oversamplingAt > 0 ? int.Parse(args[oversamplingAt + 1], System.Globalization.CultureInfo.InvariantCulture) : new AtomoOptions().Oversampling;
            SpectralStudy.Run(args[1], budget, seeds, oversampling);
            return;
        }

        if (args.Length > 1 && args[0] == "--draw-timing")
        {
            var array = AtomoCollectives.Examples.Data.NpyFile.Read(args[1]);
            (int m, int n) = TensorShape.Of(array.Shape).MatrixView;
            var atoms = new Decompositions.SpectralAtoms();
            var o = new AtomoOptions();
            atoms.Decompose(array.Data, m, n, o, 1);
            var (l1, l2) = SpectralSparsifier.Levels(atoms, 3, ValuePrecision.Float32);
            var a = new AtomSelection();
            var b = new AtomSelection();
            double read = QuickRatios.MinimumSeconds(() => System.Numerics.Tensors.TensorPrimitives.Sum(array.Data), 50);
            double levels = QuickRatios.MinimumSeconds(() => SpectralSparsifier.Levels(atoms, 3, ValuePrecision.Float32), 50);
            double draw = QuickRatios.MinimumSeconds(() => { SpectralSparsifier.Draw(atoms, l1, l2, Sampling.Systematic, 5, a, b); return 0; }, 50);
            double decompose = QuickRatios.MinimumSeconds(() => { atoms.Decompose(array.Data, m, n, o, 1); return 0; }, 50);
            foreach (double factor in new[] { 0.01, 0.1, 1, 10 })
            {
                var scaled = new WaterLevel(l2.Scale * factor, false, l2.NonZeroCount, l2.ExpectedAtoms * factor, l2.MagnitudeSum);
                double t = QuickRatios.MinimumSeconds(() => { SpectralSparsifier.Draw(atoms, l1, scaled, Sampling.Systematic, 5, a, b); return 0; }, 50);
                Console.WriteLine($"  draw at {factor}× the level's scale: {t / read:F2} reads, {b.Count} entries");
            }

            var codec = new AtomoCodec(o);
            byte[] payload = codec.Encode(array.Data, TensorShape.Matrix(m, n), 3);
            var destination = new float[m * n];
            double write = QuickRatios.MinimumSeconds(() => { destination.AsSpan().Fill(1f); return 0; }, 50);
            double decode = QuickRatios.MinimumSeconds(() => { codec.Decode(payload, destination); return 0; }, 50);
            double accumulate = QuickRatios.MinimumSeconds(() => { codec.BeginAccumulate(m * n); codec.Accumulate(payload, 1f); return 0; }, 50);
            Console.WriteLine($"decode {decode / write:F2} write-once ({write * 1e6:F1} us), accumulate alone {accumulate / write:F2}; payload {payload.Length} bytes");
            Console.WriteLine($"{m}x{n}: read {read * 1e6:F1} us, levels {levels / read:F2}, draw {draw / read:F2} ({b.Count} entries, {b.ExactCount} exact; residual max {atoms.ResidualMagnitudes.Max}, clipped: {l2.Scale * atoms.ResidualMagnitudes.Max > 1}), decompose cold {decompose / read:F2}");
            return;
        }

        if (args.Length > 0 && args[0] == "--alloc-probe") { AllocProbe.Run(); return; }

        if (args.Length > 0 && args[0] == "--fourier-kernels")
        {
            FourierKernels.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "--soak")
        {
            Soak.Run(
                args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2000,
                args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 4,
                args.Length > 3 ? args[3] : "model",
                args.Length > 4 ? args[4] : null);
            return;
        }

        if (args.Length > 2 && args[0] == "--soak-plot")
        {
            SoakPlot.Draw(args[1], args[2..]);
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
