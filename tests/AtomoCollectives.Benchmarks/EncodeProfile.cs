using System.Diagnostics;
using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Benchmarks;

/// <summary>
/// Development aid (<c>--encode-profile</c>): where spectral encode time goes on ResNet-18's 21 weight matrices, each a
/// sum of 6 decaying rank-1 terms plus 1 % noise (the network bench's data). The codec's spectral steps in its order,
/// timed one by one, summed over the set, over 20 rounds (the round with the smallest total, and the mean of all); the set (47 MB) does not fit in L3, so each tensor arrives cold as it does in a training step.
/// With <c>--gradients DIR [--step S]</c> the matrices are instead the real gradients of a capture directory
/// (<c>Examples train --save-gradients</c>): rank 0's tensors at step S (default: the last), those whose matrix view
/// has both dimensions at least 8.
/// </summary>
internal static class EncodeProfile
{
    private static readonly (int Rows, int Columns, int Count)[] ResNet18Matrices =
    [
        (64, 147, 1), (64, 576, 4), (128, 576, 1), (128, 1152, 3), (128, 64, 1), (256, 1152, 1), (256, 2304, 3),
        (256, 128, 1), (512, 2304, 1), (512, 4608, 3), (512, 256, 1), (1000, 512, 1),
    ];

    /// <param name="fourierBlockLength">Fourier atoms' block length (null: the option's default; 0: the whole tensor).</param>
    public static void Run(int rounds, string? gradients = null, long? step = null, Decomposition basis = Decomposition.Spectral, int? fourierBlockLength = null)
    {
        var options = new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3 };
        (string source, List<(float[] Data, int Rows, int Columns)> matrices) = Matrices(gradients, step);

        if (basis == Decomposition.Fourier)
        {
            RunFourier(rounds, source, matrices, fourierBlockLength ?? new AtomoOptions().FourierBlockLength);
            return;
        }

        var atoms = new SpectralAtoms();
        var rankOne = new AtomSelection();
        var residual = new AtomSelection();
        var writer = new BitWriter();
        var codec = new AtomoCodec(options);
        var decoder = new AtomoCodec(options);
        SpectralSketch[] profileSketches = [.. matrices.Select(_ => new SpectralSketch())];
        SpectralSketch[] codecSketches = [.. matrices.Select(_ => new SpectralSketch())];
        var sink2 = new System.Buffers.ArrayBufferWriter<byte>();
        var payloads = new byte[4][];
        float[][] destinations = [.. matrices.Select(x => new float[x.Data.Length])];
        string[] names = ["read-once", "write-once", "decompose (cold)", "decompose (warm)", "water level", "draw", "payload write", "checksum", "encode warm (all)", "decode, per payload of 4"];
        const int Encode = 8, Decode = 9;
        var evictor = new float[16 << 20];
        evictor.AsSpan().Fill(1);
        double[]? best = null;
        var sum = new double[names.Length];
        double residualEntries = 0, rankOneAtoms = 0;
        for (int round = 0; round < rounds; round++)
        {
            var times = new double[names.Length];
            float sink = 0;
            for (int t = 0; t < matrices.Count; t++)
            {
                (float[] g, int m, int n) = matrices[t];
                ulong seed = (ulong)((round * 100) + t);
                float[] destination = destinations[t];
                (double read, double write) = ReadAndWriteOnce(g, destination, evictor, ref sink);
                times[0] += read;
                times[1] += write;
                sink += Evict(evictor);
                long start = Stopwatch.GetTimestamp();
                atoms.Decompose(g, m, n, options, seed);
                times[2] += Lap(ref start);

                // The warm path stage by stage (round 0 starts each sketch cold; the best round is a warm one).
                sink += Evict(evictor);
                start = Stopwatch.GetTimestamp();
                atoms.Decompose(g, m, n, options, seed, profileSketches[t]);
                times[3] += Lap(ref start);
                (WaterLevel rankOneLevel, WaterLevel residualLevel) = SpectralSparsifier.Levels(atoms, options.Budget, options.SpectralPrecision);
                times[4] += Lap(ref start);
                SpectralSparsifier.Draw(atoms, rankOneLevel, residualLevel, options.Sampling, seed ^ 0x5A4D504C494E47UL, rankOne, residual);
                times[5] += Lap(ref start);
                rankOneAtoms += rankOne.Count;
                residualEntries += residual.Count;
                writer.Reset();
                PayloadFormat.WriteHeader(writer, Decomposition.Spectral, options.Sampling, options.SpectralPrecision, TensorShape.Matrix(m, n));
                SpectralPayload.Write(writer, atoms, rankOne, residual, options.SpectralPrecision);
                times[6] += Lap(ref start);
                PayloadFormat.AppendChecksum(writer);
                times[7] += Lap(ref start);

                // What AtomoAllreduce calls: the codec with the tensor's sketch, from a cold cache.
                sink += Evict(evictor);
                start = Stopwatch.GetTimestamp();
                sink2.ResetWrittenCount();
                codec.Encode(g, TensorShape.Matrix(m, n), seed, codecSketches[t], sink2);
                times[Encode] += Lap(ref start);

                // The collective's decode: four ranks' payloads summed into one estimate, per payload.
                for (int r = 0; r < payloads.Length; r++)
                {
                    payloads[r] = codec.Encode(g, TensorShape.Matrix(m, n), seed + (ulong)(r << 20));
                }

                sink += Evict(evictor);
                times[Decode] += SecondsPerPayload(decoder, payloads, g.Length, destination);
            }

            GC.KeepAlive(sink);
            for (int i = 0; i < names.Length; i++)
            {
                sum[i] += times[i] / rounds;
            }

            if (best is null || times[Encode] < best[Encode])
            {
                best = times;
            }
        }

        Console.WriteLine($"{source} ({matrices.Count}, {matrices.Sum(x => (long)x.Rows * x.Columns):N0} floats), spectral budget 3, {rounds} rounds; per encode {rankOneAtoms / (rounds * matrices.Count):F2} rank-1 atoms and {residualEntries / (rounds * matrices.Count):F0} residual entries kept:");
        Console.WriteLine($"  {"stage",-26} {"best round",17} {"mean of rounds",24}   (× read-once; write-once and decode × write-once)");
        for (int i = 0; i < names.Length; i++)
        {
            int reference = i is 1 or Decode ? 1 : 0;
            Console.WriteLine($"  {names[i],-26} {best![i] * 1e3,7:F2} ms {best[i] / best[reference],6:F2}×   {sum[i] * 1e3,7:F2} ms {sum[i] / sum[reference],6:F2}×");
        }
    }

    /// <summary>
    /// <c>--encode-profile --basis fourier</c>: Fourier ATOMO as the network bench configures it (10 atoms per bucket of
    /// 1024) on the same matrices, each stage from a cold cache, against the read-once time: the DCT-II and DCT-III
    /// alone, the codec's encode, and the decode of one payload and of four (per payload), as AtomoAllreduce sums them.
    /// </summary>
    private static void RunFourier(int rounds, string source, List<(float[] Data, int Rows, int Columns)> matrices, int blockLength)
    {
        var options = new AtomoOptions { Decomposition = Decomposition.Fourier, Budget = 10, BucketSize = 1024, FourierBlockLength = blockLength };
        var codec = new AtomoCodec(options);
        var decoder = new AtomoCodec(options);
        string[] names = ["read-once", "write-once", "DCT-II (forward)", "DCT-III (inverse)", "encode (all)", "decode, 1 payload", "decode, per payload of 4"];
        const int Encode = 4, DecodeOne = 5, DecodeFour = 6;
        var evictor = new float[16 << 20];
        evictor.AsSpan().Fill(1);
        float[][] scratch = [.. matrices.Select(x => new float[x.Data.Length])];
        var payloads = new byte[4][];
        var sink2 = new System.Buffers.ArrayBufferWriter<byte>();
        double[]? best = null;
        var sum = new double[names.Length];
        for (int round = 0; round < rounds; round++)
        {
            var times = new double[names.Length];
            float sink = 0;
            for (int t = 0; t < matrices.Count; t++)
            {
                (float[] g, int m, int n) = matrices[t];
                float[] destination = scratch[t];
                ulong seed = (ulong)((round * 100) + t);
                (double read, double write) = ReadAndWriteOnce(g, destination, evictor, ref sink);
                times[0] += read;
                times[1] += write;
                sink += Evict(evictor);
                long start = Stopwatch.GetTimestamp();
                FourierAtoms.Forward(g, destination, blockLength);
                times[2] += Lap(ref start);
                sink += Evict(evictor);
                start = Stopwatch.GetTimestamp();
                FourierAtoms.Inverse(g, destination, blockLength);
                times[3] += Lap(ref start);
                sink += Evict(evictor);
                start = Stopwatch.GetTimestamp();
                sink2.ResetWrittenCount();
                codec.Encode(g, TensorShape.Matrix(m, n), seed, sink2);
                times[Encode] += Lap(ref start);
                for (int r = 0; r < payloads.Length; r++)
                {
                    payloads[r] = codec.Encode(g, TensorShape.Matrix(m, n), seed + (ulong)(r << 20));
                }

                sink += Evict(evictor);
                start = Stopwatch.GetTimestamp();
                decoder.Decode(payloads[0], destination);
                times[DecodeOne] += Lap(ref start);
                sink += Evict(evictor);
                times[DecodeFour] += SecondsPerPayload(decoder, payloads, g.Length, destination);
            }

            GC.KeepAlive(sink);
            // Round 0 warms up (first-touch page faults, first calls): left out of the best and the mean when there are others.
            if (round == 0 && rounds > 1)
            {
                continue;
            }

            for (int i = 0; i < names.Length; i++)
            {
                sum[i] += times[i] / Math.Max(1, rounds - 1);
            }

            if (best is null || times[Encode] + times[DecodeOne] < best[Encode] + best[DecodeOne])
            {
                best = times;
            }
        }

        Console.WriteLine($"{source} ({matrices.Count}, {matrices.Sum(x => (long)x.Rows * x.Columns):N0} floats), Fourier 10 atoms per bucket of 1024, {rounds} rounds (the first a warm-up, left out); transform: {(blockLength == 0 ? $"whole tensor, {FourierTransformProvider.ActiveProvider}" : $"blocks of {blockLength}, {nameof(BlockCosineTransform)}")}");
        Console.WriteLine($"  {"stage",-26} {"best round",17} {"mean of rounds",24}   (× read-once)");
        for (int i = 0; i < names.Length; i++)
        {
            Console.WriteLine($"  {names[i],-26} {best![i] * 1e3,7:F2} ms {best[i] / best[0],6:F2}×   {sum[i] * 1e3,7:F2} ms {sum[i] / sum[0],6:F2}×");
        }
    }

    /// <summary>The synthetic ResNet-18 matrices (<paramref name="gradients"/> null) or a capture's real ones.</summary>
    internal static (string Source, List<(float[] Data, int Rows, int Columns)> Matrices) Matrices(string? gradients, long? step)
    {
        if (gradients is not null)
        {
            return CapturedMatrices(gradients, step);
        }

        var matrices = new List<(float[] Data, int Rows, int Columns)>();
        var random = new Random(2018);
        foreach ((int rows, int columns, int count) in ResNet18Matrices)
        {
            for (int i = 0; i < count; i++)
            {
                matrices.Add((LowRank(rows, columns, random), rows, columns));
            }
        }

        return ("ResNet-18 weight matrices", matrices);
    }

    /// <summary>
    /// Rank 0's captured gradients at <paramref name="step"/> (default: the last step-NNNNNN folder) of a capture
    /// directory, as matrix views with both dimensions at least 8, in file (parameter) order.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No such directory, step or rank-0 folder.</exception>
    private static (string Source, List<(float[] Data, int Rows, int Columns)> Matrices) CapturedMatrices(string directory, long? step)
    {
        string[] steps = Directory.Exists(directory) ? [.. Directory.GetDirectories(directory, "step-*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)] : [];
        if (steps.Length == 0)
        {
            throw new DirectoryNotFoundException($"'{directory}' is not a gradient capture directory (no step-NNNNNN folders)");
        }

        string folder = step is { } s ? $"step-{s:D6}" : steps[^1];
        string rank0 = Path.Combine(directory, folder, "rank-0");
        if (!Directory.Exists(rank0))
        {
            throw new DirectoryNotFoundException($"'{directory}' has no {folder}/rank-0 (steps: {string.Join(", ", steps)})");
        }

        var matrices = new List<(float[] Data, int Rows, int Columns)>();
        foreach (string file in Directory.GetFiles(rank0, "*.npy").Order(StringComparer.Ordinal))
        {
            Examples.Data.NpyArray array = Examples.Data.NpyFile.Read(file);
            if (array.Shape.Length >= 2)
            {
                (int rows, int columns) = TensorShape.Of(array.Shape).MatrixView;
                if (rows >= 8 && columns >= 8)
                {
                    matrices.Add((array.Data, rows, columns));
                }
            }
        }

        return ($"Captured weight-gradient matrices of {directory} ({folder}, rank 0)", matrices);
    }

    private static float Evict(float[] evictor) => System.Numerics.Tensors.TensorPrimitives.Sum(evictor);

    /// <summary>The yardsticks every ratio is taken against, each from cold caches: reading g once (a sum) and writing the destination once (a fill).</summary>
    private static (double Read, double Write) ReadAndWriteOnce(float[] g, float[] destination, float[] evictor, ref float sink)
    {
        sink += Evict(evictor);
        long start = Stopwatch.GetTimestamp();
        sink += System.Numerics.Tensors.TensorPrimitives.Sum(g);
        double read = Lap(ref start);
        sink += Evict(evictor);
        start = Stopwatch.GetTimestamp();
        destination.AsSpan().Fill(1f);
        return (read, Lap(ref start));
    }

    /// <summary>Seconds per payload to accumulate <paramref name="payloads"/> and reconstruct their mean, as a rank decodes a call.</summary>
    private static double SecondsPerPayload(AtomoCodec decoder, byte[][] payloads, int length, float[] destination)
    {
        long start = Stopwatch.GetTimestamp();
        decoder.BeginAccumulate(length);
        foreach (byte[] payload in payloads)
        {
            decoder.Accumulate(payload, 1f);
        }

        decoder.FinishAccumulate(destination, 1f / payloads.Length, add: false);
        return Lap(ref start) / payloads.Length;
    }

    private static double Lap(ref long start)
    {
        long now = Stopwatch.GetTimestamp();
        double seconds = Stopwatch.GetElapsedTime(start, now).TotalSeconds;
        start = now;
        return seconds;
    }

    private static float[] LowRank(int rows, int columns, Random random)
    {
        var g = new float[rows * columns];
        var u = new float[rows];
        var v = new float[columns];
        double weight = 1;
        for (int term = 0; term < 6; term++, weight *= 0.5)
        {
            Fill(u, random);
            Fill(v, random);
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns; c++)
                {
                    g[(r * columns) + c] += (float)(weight * u[r] * v[c]);
                }
            }
        }

        double norm = Math.Sqrt(g.Sum(x => (double)x * x));
        double noise = 0.01 * norm / Math.Sqrt(g.Length);
        for (int i = 0; i < g.Length; i++)
        {
            g[i] += (float)(noise * Gaussian(random));
        }

        return g;
    }

    private static void Fill(float[] x, Random random)
    {
        double norm = 0;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)Gaussian(random);
            norm += x[i] * x[i];
        }

        for (int i = 0; i < x.Length; i++)
        {
            x[i] /= (float)Math.Sqrt(norm);
        }
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
