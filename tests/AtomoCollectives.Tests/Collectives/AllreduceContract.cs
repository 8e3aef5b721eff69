using System.IO.Hashing;
using System.Runtime.InteropServices;
using AtomoCollectives.Tests.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace AtomoCollectives.Tests.Collectives;

/// <summary>
/// What <see cref="AtomoAllreduce"/> must do on every transport, written once: run by xunit over
/// <see cref="InProcessCluster"/> and by <c>tests/AtomoCollectives.MpiTests</c> under mpiexec (which links this
/// file). Each case is a collective program run by every rank and throws <see cref="ContractException"/> on failure.
/// </summary>
public static class AllreduceContract
{
    /// <summary>Every case, by name.</summary>
    public static IReadOnlyList<(string Name, Action<ICommunicator> Run)> Cases { get; } =
    [
        ("allreduce-bitwise-identical-on-every-rank", BitwiseIdentical),
        ("allreduce-exact-when-budget-covers-every-atom", ExactWhenLossless),
        ("allreduce-unbiased-over-steps-coordinate", comm => UnbiasedOverSteps(comm, Decomposition.Coordinate, steps: 1500)),
        ("allreduce-unbiased-over-steps-spectral", comm => UnbiasedOverSteps(comm, Decomposition.Spectral, steps: 1500)),
        ("allreduce-unbiased-over-steps-fourier", comm => UnbiasedOverSteps(comm, Decomposition.Fourier, steps: 1500)),
        ("allreduce-unbiased-over-steps-fourier-whole-tensor", comm => UnbiasedOverSteps(comm, Decomposition.Fourier, steps: 1500, fourierBlockLength: 0)),
        ("allreduce-bitwise-identical-spectral-and-fourier", BitwiseIdenticalSpectralAndFourier),
        ("allreduce-dense-routes-follow-the-policy", DenseRoutesFollowPolicy),
        ("allreduce-mismatched-shapes-fail-on-every-rank", MismatchedShapesFail),
        ("allreduce-nan-on-one-rank-fails-on-every-rank", NanOnOneRankFails),
        ("allreduce-async-equals-sync", AsyncEqualsSync),
        ("allreduce-nan-on-a-dense-route-fails-on-every-rank", NanOnDenseRoutesFails),
        ("allreduce-bad-lists-on-one-rank-fail-on-every-rank", BadListsOnOneRankFail),
        ("allreduce-encode-failure-of-any-type-fails-on-every-rank", EncodeFailureOfAnyTypeFails),
        ("allreduce-decode-failure-on-one-rank-fails-on-every-rank", DecodeFailureOnOneRankFails),
        ("node-aware-dense-equals-flat-dense", NodeAwareDenseEqualsFlatDense),
        ("node-aware-traffic-within-and-between-nodes", NodeAwareTraffic),
        ("node-aware-node-sum-overflow-fails-on-every-rank", NodeSumOverflowFails),
        ("node-sums-through-shared-memory", NodeSumsThroughSharedMemory),
        ("allreduce-time-routing-agrees-on-every-rank", TimeRoutingAgrees),
        .. AveragerCases(),
    ];

    /// <summary>
    /// The other <see cref="IGradientAverager"/>s, each run through the cases of the contract that apply to it (PowerSGD
    /// has a phase between its two exchanges, so the decode-failure case applies to it; the dense baseline has none).
    /// </summary>
    public static IEnumerable<(string Name, Func<ICommunicator, IGradientAverager> Create, bool HasPhaseBetweenExchanges)> Averagers() =>
    [
        ("dense", comm => new DenseAllreduce(comm), false),
        ("dense-node", comm => new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.Auto }), false),
        ("powersgd", comm => new PowerSgdAllreduce(comm, new PowerSgdOptions { Rank = 2, Seed = 7 }), true),
        ("powersgd-cold-no-feedback", comm => new PowerSgdAllreduce(comm, new PowerSgdOptions { Rank = 1, WarmStart = false, ErrorFeedback = false, Seed = 7 }), true),
    ];

    private static IEnumerable<(string Name, Action<ICommunicator> Run)> AveragerCases()
    {
        foreach ((string name, Func<ICommunicator, IGradientAverager> create, bool between) in Averagers())
        {
            yield return ($"{name}-bitwise-identical-on-every-rank", comm => AveragerBitwiseIdentical(comm, create));
            yield return ($"{name}-mismatched-shapes-fail-on-every-rank", comm => AveragerMismatchedShapesFail(comm, create));
            yield return ($"{name}-nan-on-one-rank-fails-on-every-rank", comm => AveragerNanFails(comm, create));
            yield return ($"{name}-bad-lists-on-one-rank-fail-on-every-rank", comm => AveragerBadListsFail(comm, create));
            yield return ($"{name}-encode-failure-of-any-type-fails-on-every-rank", comm => AveragerInjectedFailure(comm, create, decode: false));
            if (between)
            {
                yield return ($"{name}-failure-between-exchanges-fails-on-every-rank", comm => AveragerInjectedFailure(comm, create, decode: true));
            }

            yield return ($"{name}-async-equals-sync", comm => AveragerAsyncEqualsSync(comm, create));
        }
    }

    /// <summary>A model-like set of shapes: two matrices, a 4-D conv weight, a bias and a tiny tensor.</summary>
    public static TensorShape[] ModelShapes { get; } =
        [TensorShape.Matrix(64, 48), TensorShape.Of(8, 4, 3, 3), TensorShape.Matrix(48, 40), TensorShape.Vector(48), TensorShape.Matrix(3, 5)];

    /// <summary>Rank-specific, step-specific, reproducible values.</summary>
    public static float[][] Gradients(TensorShape[] shapes, int rank, long step)
    {
        var random = new Random((int)((rank * 7919) + (step * 104729)));
        return [.. shapes.Select(shape => Enumerable.Range(0, shape.ElementCount).Select(_ => (float)((random.NextDouble() * 2) - 1 + (rank * 0.25))).ToArray())];
    }

    private static void Expect(ICommunicator comm, bool condition, string message)
    {
        if (!condition)
        {
            throw new ContractException($"rank {comm.Rank}/{comm.Size}: {message}");
        }
    }

    private static AtomoOptions Coordinate(double budget) => new()
    {
        Decomposition = Decomposition.Coordinate,
        Budget = budget,
        MinimumCompressedElements = 16,
        DenseWhenCheaper = false,
        Seed = 11,
    };

    /// <summary>
    /// The adversarial suite's variants: every basis and preset (spectral fast and exact, coordinate, Fourier, TernGrad,
    /// 1-bit QSGD) with both samplers, small enough that ModelShapes' matrices are compressed.
    /// </summary>
    public static IEnumerable<(string Name, AtomoOptions Options)> Variants()
    {
        foreach (Sampling sampling in Enum.GetValues<Sampling>())
        {
            AtomoOptions[] presets =
            [
                new() { Decomposition = Decomposition.Spectral, Budget = 3 },
                new() { Decomposition = Decomposition.Spectral, Budget = 3, SpectralMethod = SpectralMethod.Exact },
                new() { Decomposition = Decomposition.Coordinate, Budget = 10 },
                new() { Decomposition = Decomposition.Fourier, Budget = 40 },
                AtomoOptions.TernGrad(512),
                AtomoOptions.Qsgd(512),
            ];
            string[] names = ["spectral-fast", "spectral-exact", "coordinate", "fourier", "terngrad", "qsgd"];
            for (int i = 0; i < presets.Length; i++)
            {
                presets[i].Sampling = sampling;
                presets[i].MinimumCompressedElements = 16;
                presets[i].DenseWhenCheaper = false;
                presets[i].Seed = 13;
                yield return ($"{names[i]}/{sampling}", presets[i]);
            }
        }
    }

    /// <summary>A hash of every bit of <paramref name="tensors"/>, to compare results across ranks.</summary>
    public static ulong Hash(float[][] tensors)
    {
        var hash = new XxHash3();
        foreach (float[] tensor in tensors)
        {
            hash.Append(MemoryMarshal.AsBytes(tensor.AsSpan()));
        }

        return hash.GetCurrentHashAsUInt64();
    }

    public static Memory<float>[] AsMemory(float[][] tensors) => [.. tensors.Select(t => (Memory<float>)t)];

    private static void BitwiseIdentical(ICommunicator comm)
    {
        using var allreduce = new AtomoAllreduce(comm, new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 30, MinimumCompressedElements = 16, Seed = 3 });
        Exchange[][] ways = [[Exchange.NodeAware, Exchange.Flat, Exchange.Dense], [Exchange.Flat, Exchange.Dense]];
        int calls = 1 + ways.Max(w => Array.FindIndex(ExchangeChoice.FirstRound(w), t => t.Way == Exchange.Dense));   // up to the dense route's first trial call
        for (int step = 0; step < calls; step++)
        {
            float[][] tensors = Gradients(ModelShapes, comm.Rank, step);
            allreduce.Average(AsMemory(tensors), ModelShapes);
            var hashes = new ulong[comm.Size];
            comm.Allgather<ulong>([Hash(tensors)], hashes);
            Expect(comm, hashes.All(h => h == hashes[0]), $"step {step}: result hashes differ across ranks: {string.Join(", ", hashes.Select(h => h.ToString("X16", System.Globalization.CultureInfo.InvariantCulture)))}");
            // One rank has nothing to exchange: the cost rule sends everything dense. Among the first calls the choice of
            // exchange tries the dense route too (every tensor dense by time), and its bits must agree as well.
            Exchange[] trials = [.. ExchangeChoice.FirstRound(ways[allreduce.IsNodeAware ? 0 : 1]).Select(t => t.Way)];
            int expected = comm.Size == 1 || trials[step] == Exchange.Dense ? 0 : 3;
            Expect(comm, allreduce.LastCall.CompressedTensors == expected, $"expected {expected} large tensors compressed, got {allreduce.LastCall.CompressedTensors}");
        }
    }

    private static void ExactWhenLossless(ICommunicator comm)
    {
        using var allreduce = new AtomoAllreduce(comm, Coordinate(budget: 1e9));
        float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
        allreduce.Average(AsMemory(tensors), ModelShapes);

        for (int t = 0; t < ModelShapes.Length; t++)
        {
            // Reconstruction sums the ranks' exact values in rank order, then scales by 1/N: the same float
            // operations here give the same bits. Dense tensors go through MPI's sum, whose order is the library's.
            var expected = new float[ModelShapes[t].ElementCount];
            for (int r = 0; r < comm.Size; r++)
            {
                float[] theirs = Gradients(ModelShapes, r, 0)[t];
                for (int i = 0; i < expected.Length; i++)
                {
                    expected[i] += theirs[i];
                }
            }

            // Node-aware, the payloads carry node sums, which the transport adds in its own order, like a dense route.
            bool exact = allreduce.LastCall.Decisions[t].Route == TensorRoute.Compressed && !allreduce.IsNodeAware;
            for (int i = 0; i < expected.Length; i++)
            {
                expected[i] *= 1f / comm.Size;
                float tolerance = exact ? 0 : 1e-6f * comm.Size;
                Expect(comm, Math.Abs(tensors[t][i] - expected[i]) <= tolerance, $"tensor {t} ({allreduce.LastCall.Decisions[t].Route}) entry {i}: {tensors[t][i]} vs exact mean {expected[i]}");
            }
        }
    }

    /// <summary>
    /// The mean over S steps of the averaged estimate converges to the true mean. With independent draws over an
    /// orthonormal basis φ_a, entry i of one rank's estimate has variance Σ_a λ_a²(1/p_a − 1)·φ_a(i)²; the average
    /// over N ranks has the sum of theirs over N², and the mean of S steps that over S. Bound: 5 standard errors plus
    /// float rounding. Spectral uses the exact SVD here so that its basis, and so this variance, is fixed. Node-aware,
    /// each node encodes its ranks' sum: the variance is that of the node sums' atoms, over N².
    /// </summary>
    public static void UnbiasedOverSteps(ICommunicator comm, Decomposition decomposition, int steps, int? fourierBlockLength = null)
    {
        TensorShape shape = TensorShape.Matrix(24, 20);
        AtomoOptions options = Coordinate(budget: decomposition == Decomposition.Spectral ? 4 : 12);
        options.Decomposition = decomposition;
        options.FourierBlockLength = fourierBlockLength ?? options.FourierBlockLength;
        options.Sampling = Sampling.Independent;
        options.SpectralMethod = SpectralMethod.Exact;
        using var allreduce = new AtomoAllreduce(comm, options);
        float[][] inputs = [.. Enumerable.Range(0, comm.Size).Select(r => LowRank(shape, r))];
        var sum = new double[shape.ElementCount];
        var buffer = new float[shape.ElementCount];
        for (int step = 0; step < steps; step++)
        {
            inputs[comm.Rank].CopyTo(buffer, 0);
            allreduce.Average(buffer, shape);
            for (int i = 0; i < buffer.Length; i++)
            {
                sum[i] += buffer[i];
            }
        }

        var mean = new double[shape.ElementCount];
        for (int r = 0; r < comm.Size; r++)
        {
            for (int i = 0; i < shape.ElementCount; i++)
            {
                mean[i] += inputs[r][i] / (double)comm.Size;
            }
        }

        double[] variance = EstimateVariance(allreduce.IsNodeAware ? NodeSums(comm, inputs) : inputs, shape, options, comm.Size);
        ExpectUnbiased(comm, sum, steps, mean, variance, decomposition.ToString());
    }

    /// <summary>
    /// The variance of each entry of the averaged estimate when each of <paramref name="encoded"/> is compressed once,
    /// independently, with <paramref name="options"/>' atoms and independent sampling, ÷ <paramref name="ranks"/>:
    /// Σ over atoms of c²(1/p − 1)·atom², the known variance of the sparsifier.
    /// </summary>
    public static double[] EstimateVariance(IEnumerable<float[]> encoded, TensorShape shape, AtomoOptions options, int ranks)
    {
        var variance = new double[shape.ElementCount];
        var atom = new float[shape.ElementCount];
        foreach (float[] tensor in encoded)
        {
            AtomoCollectives.Decompositions.IAtomDecomposition atoms = AtomoCollectives.Decompositions.Decomposer.Create(options.Decomposition);
            atoms.Decompose(tensor, shape, options, 0);
            float[] coefficients = atoms.Coefficients.ToArray();
            var p = new double[coefficients.Length];
            AtomicSparsifier.Probabilities(coefficients, options.Budget, p);
            for (int a = 0; a < coefficients.Length; a++)
            {
                if (p[a] is <= 0 or >= 1)
                {
                    continue;
                }

                Array.Clear(atom);
                atoms.AddAtoms([a], [1f], atom);
                double weight = (double)coefficients[a] * coefficients[a] * ((1 / p[a]) - 1) / ((double)ranks * ranks);
                for (int i = 0; i < atom.Length; i++)
                {
                    variance[i] += weight * atom[i] * atom[i];
                }
            }
        }

        return variance;
    }

    /// <summary>
    /// Every entry of the mean of <paramref name="steps"/> estimates (<paramref name="sum"/> ÷ steps) lies within 5
    /// standard errors of the true <paramref name="mean"/> (√(variance ÷ steps), plus float rounding): with ~500 entries
    /// a correct estimator exceeds 5σ with probability ~3·10⁻⁴.
    /// </summary>
    public static void ExpectUnbiased(ICommunicator comm, double[] sum, int steps, double[] mean, double[] variance, string label)
    {
        int worst = 0;
        double worstZ = 0;
        for (int i = 0; i < mean.Length; i++)
        {
            double error = Math.Abs((sum[i] / steps) - mean[i]);
            double tolerance = (5 * Math.Sqrt(variance[i] / steps)) + (1e-5 * Math.Abs(mean[i])) + 1e-6;
            Expect(comm, error <= tolerance, $"{label}: entry {i}: mean of {steps} steps {sum[i] / steps} vs true mean {mean[i]}, tolerance {tolerance}");
            double z = error / Math.Sqrt((variance[i] / steps) + 1e-30);
            (worst, worstZ) = z > worstZ ? (i, z) : (worst, worstZ);
        }

        Expect(comm, worstZ < 5 || variance[worst] == 0, $"entry {worst} is {worstZ:F1} standard errors off");
    }

    /// <summary>Each node's sum of its ranks' <paramref name="inputs"/> (in rank order), node by node, as the node-aware exchange encodes them.</summary>
    private static float[][] NodeSums(ICommunicator comm, float[][] inputs)
    {
        using NodeTopology topology = ((INodeAwareCommunicator)comm).SplitByNode();
        var nodes = new int[comm.Size];
        comm.Allgather<int>([topology.NodeIndex], nodes);
        float[][] sums = [.. Enumerable.Range(0, topology.NodeCount).Select(_ => new float[inputs[0].Length])];
        for (int r = 0; r < comm.Size; r++)
        {
            for (int i = 0; i < inputs[r].Length; i++)
            {
                sums[nodes[r]][i] += inputs[r][i];
            }
        }

        return sums;
    }

    /// <summary>A rank-specific 24×20-style matrix of rank 3 plus small noise: spectral atoms beat coordinates on it.</summary>
    private static float[] LowRank(TensorShape shape, int rank)
    {
        (int rows, int columns) = shape.MatrixView;
        var random = new Random(1000 + rank);
        var m = new float[rows * columns];
        for (int k = 0; k < 3; k++)
        {
            double[] u = [.. Enumerable.Range(0, rows).Select(_ => random.NextDouble() - 0.5)];
            double[] v = [.. Enumerable.Range(0, columns).Select(_ => random.NextDouble() - 0.5)];
            for (int i = 0; i < m.Length; i++)
            {
                m[i] += (float)(u[i / columns] * v[i % columns] * (3 - k));
            }
        }

        for (int i = 0; i < m.Length; i++)
        {
            m[i] += (float)(0.01 * (random.NextDouble() - 0.5));
        }

        return m;
    }

    private static void BitwiseIdenticalSpectralAndFourier(ICommunicator comm)
    {
        TensorShape[] shapes = [TensorShape.Matrix(64, 48), TensorShape.Of(16, 4, 3, 3), TensorShape.Matrix(40, 40)];
        foreach ((Decomposition decomposition, ValuePrecision precision) in new[] { (Decomposition.Spectral, ValuePrecision.Float32), (Decomposition.Spectral, ValuePrecision.BFloat16), (Decomposition.Fourier, ValuePrecision.Float32) })
        {
            using var allreduce = new AtomoAllreduce(comm, new AtomoOptions { Decomposition = decomposition, Budget = decomposition == Decomposition.Fourier ? 40 : 3, SpectralPrecision = precision, MinimumCompressedElements = 16, DenseWhenCheaper = false, Seed = 21 });
            for (int step = 0; step < 2; step++)
            {
                float[][] tensors = Gradients(shapes, comm.Rank, step);
                allreduce.Average(AsMemory(tensors), shapes);
                var hashes = new ulong[comm.Size];
                comm.Allgather<ulong>([Hash(tensors)], hashes);
                Expect(comm, hashes.All(h => h == hashes[0]), $"{decomposition}/{precision} step {step}: result hashes differ across ranks");
                Expect(comm, comm.Size == 1 || allreduce.LastCall.Decisions.All(d => d.Route == TensorRoute.Compressed && d.Decomposition == decomposition), $"{decomposition}: every tensor should be compressed in that basis: {string.Join(", ", allreduce.LastCall.Decisions.Select(d => $"{d.Route}/{d.Decomposition}"))}");
            }
        }
    }

    private static void DenseRoutesFollowPolicy(ICommunicator comm)
    {
        TensorShape[] shapes = [TensorShape.Matrix(64, 48), TensorShape.Vector(3000), TensorShape.Matrix(10, 10), TensorShape.Matrix(40, 40)];
        var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 20, MinimumCompressedElements = 200, DenseWarmupSteps = 2, Seed = 5 };
        using var allreduce = new AtomoAllreduce(comm, options);
        using var lossless = new AtomoAllreduce(comm, new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 1e9, MinimumCompressedElements = 16 });
        for (int step = 0; step < 3; step++)
        {
            allreduce.Average(AsMemory(Gradients(shapes, comm.Rank, step)), shapes);
            IReadOnlyList<TensorDecision> decisions = allreduce.LastCall.Decisions;
            if (step < 2)
            {
                Expect(comm, decisions.All(d => d.Route == TensorRoute.DenseWarmup), $"step {step}: warm-up must be dense, got {string.Join(",", decisions.Select(d => d.Route))}");
                continue;
            }

            // With one rank nothing is exchanged, so the cost rule sends even the compressible tensors dense.
            TensorRoute compressible = comm.Size == 1 ? TensorRoute.DenseCheaper : TensorRoute.Compressed;
            Expect(comm, decisions[0].Route == compressible, $"a 64×48 matrix at budget 20 must be {compressible}, got {decisions[0].Route}");
            Expect(comm, decisions[1].Route == TensorRoute.DenseVector, $"a vector must be dense, got {decisions[1].Route}");
            Expect(comm, decisions[2].Route == TensorRoute.DenseSmall, $"100 elements < 200 must be dense, got {decisions[2].Route}");
            Expect(comm, decisions[3].Route == compressible, $"a 40×40 matrix at budget 20 must be {compressible}, got {decisions[3].Route}");
        }

        // Lossless payloads carry every value (≥ 4 bytes each): (N−1)·payload ≥ 2(N−1)/N·dense whenever N ≥ 2.
        lossless.Average(AsMemory(Gradients(shapes, comm.Rank, 0)), shapes);
        Expect(comm, lossless.LastCall.Decisions[0].Route == TensorRoute.DenseCheaper, $"a lossless payload must go dense by the cost rule, got {lossless.LastCall.Decisions[0].Route}");
        Expect(comm, lossless.LastCall.CompressedTensors == 0, "no lossless payload beats dense");
    }

    private static void MismatchedShapesFail(ICommunicator comm)
    {
        if (comm.Size == 1)
        {
            return; // a mismatch needs two ranks
        }

        using var allreduce = new AtomoAllreduce(comm, Coordinate(budget: 10));
        TensorShape shape = comm.Rank == comm.Size - 1 ? TensorShape.Matrix(30, 40) : TensorShape.Matrix(40, 30);
        var data = Enumerable.Repeat(1f, 1200).ToArray();
        Exception? error = Catch(() => allreduce.Average(data, shape));
        Expect(comm, error is InvalidOperationException, $"expected InvalidOperationException on every rank, got {error?.GetType().Name ?? "none"}");
        Expect(comm, data.All(x => x == 1f), "a failed call changed the caller's data");
        Expect(comm, error!.Message.Contains("shapes", StringComparison.Ordinal), $"the message must name the problem: {error.Message}");

        // The collective is still usable and in step on every rank.
        allreduce.Average(data, TensorShape.Matrix(40, 30));
        Expect(comm, allreduce.Step == 1, $"step {allreduce.Step} after one failed and one good call");
    }

    private static void NanOnOneRankFails(ICommunicator comm)
    {
        foreach ((string variant, AtomoOptions options) in Variants())
        {
            using var allreduce = new AtomoAllreduce(comm, options);
            float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
            if (comm.Rank == 0)
            {
                tensors[2][17] = float.NaN;
            }

            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            Exception? error = Catch(() => allreduce.Average(AsMemory(tensors), ModelShapes));
            Type expected = comm.Rank == 0 ? typeof(ArgumentException) : typeof(InvalidOperationException);
            Expect(comm, error?.GetType() == expected, $"{variant}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
            Expect(comm, comm.Rank != 0 || error!.Message.Contains("Tensor 2", StringComparison.Ordinal), $"{variant}: the message must name the tensor: {error?.Message}");
            for (int t = 0; t < tensors.Length; t++)
            {
                Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"{variant}: tensor {t} was changed by a failed call");
            }

            float[][] clean = Gradients(ModelShapes, comm.Rank, 1);
            Exception? next = Catch(() => allreduce.Average(AsMemory(clean), ModelShapes));
            Expect(comm, next is null && allreduce.Step == 1, $"{variant}: the next call: {next?.Message}, step {allreduce.Step}");
        }
    }

    /// <summary>
    /// NaN or infinity on the last rank in a tensor that takes a dense route (a 1-D bias, a tensor below the compression
    /// threshold, any tensor during the warm-up steps): every rank raises, that rank an ArgumentException naming the
    /// tensor, the tensors stay untouched, and the next call, clean, succeeds on every rank (all ranks still in step).
    /// </summary>
    private static void NanOnDenseRoutesFails(ICommunicator comm)
    {
        int last = comm.Size - 1;
        foreach ((string route, int tensor, int warmup) in new[] { ("vector", 3, 0), ("small", 4, 0), ("warm-up", 0, 5) })
        {
            AtomoOptions options = Coordinate(budget: 10);
            options.DenseWarmupSteps = warmup;
            using var allreduce = new AtomoAllreduce(comm, options);
            float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
            if (comm.Rank == last)
            {
                tensors[tensor][1] = route == "small" ? float.PositiveInfinity : float.NaN;
            }

            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            Exception? error = Catch(() => allreduce.Average(AsMemory(tensors), ModelShapes));
            Type expected = comm.Rank == last ? typeof(ArgumentException) : typeof(InvalidOperationException);
            Expect(comm, error?.GetType() == expected, $"{route}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
            Expect(comm, comm.Rank != last || error!.Message.Contains($"Tensor {tensor}", StringComparison.Ordinal), $"{route}: the message must name the tensor: {error?.Message}");
            for (int t = 0; t < tensors.Length; t++)
            {
                Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"{route}: tensor {t} was changed by a failed call");
            }

            float[][] clean = Gradients(ModelShapes, comm.Rank, 1);
            Exception? next = Catch(() => allreduce.Average(AsMemory(clean), ModelShapes));
            Expect(comm, next is null, $"{route}: the next call failed: {next?.Message}");
            Expect(comm, allreduce.Step == 1, $"{route}: step {allreduce.Step} after one failed and one good call");
        }
    }

    /// <summary>
    /// One rank passes a tensor list and a shape list of different lengths, then a null list, then one array as two
    /// tensors: only that rank's arguments are wrong, yet every rank raises (that rank ArgumentException), and a
    /// following good call succeeds everywhere.
    /// </summary>
    private static void BadListsOnOneRankFail(ICommunicator comm)
    {
        int last = comm.Size - 1;
        using var allreduce = new AtomoAllreduce(comm, Coordinate(budget: 10));
        foreach (string mistake in new[] { "counts", "null", "shared" })
        {
            float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            bool culprit = comm.Rank == last;
            IReadOnlyList<TensorShape> shapes = culprit && mistake == "counts" ? ModelShapes[..^1]
                : culprit && mistake == "shared" ? [.. ModelShapes[..^1], ModelShapes[^2]]
                : ModelShapes;
            Memory<float>[] memory = AsMemory(tensors);
            if (culprit && mistake == "shared")
            {
                memory[^1] = memory[^2];
            }

            Exception? error = Catch(() => allreduce.Average(culprit && mistake == "null" ? null! : memory, shapes));
            Type expected = comm.Rank == last ? (mistake == "null" ? typeof(ArgumentNullException) : typeof(ArgumentException)) : typeof(InvalidOperationException);
            Expect(comm, error?.GetType() == expected, $"{mistake}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
            for (int t = 0; t < tensors.Length; t++)
            {
                Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"{mistake}: tensor {t} was changed by a failed call");
            }
        }

        float[][] good = Gradients(ModelShapes, comm.Rank, 1);
        Exception? next = Catch(() => allreduce.Average(AsMemory(good), ModelShapes));
        Expect(comm, next is null && allreduce.Step == 1, $"the good call after the failed ones: {next?.Message}, step {allreduce.Step}");
    }

    /// <summary>
    /// An encode that fails with something other than ArgumentException (here NotSupportedException, standing for a
    /// native library's error) on the last rank only: that rank raises it, every other rank InvalidOperationException,
    /// nothing is overwritten, and the next call succeeds on every rank, with synchronous and asynchronous calls.
    /// </summary>
    private static void EncodeFailureOfAnyTypeFails(ICommunicator comm)
    {
        int last = comm.Size - 1;
        foreach ((string variant, AtomoOptions options, bool asynchronous) in Variants().Select(v => (v.Name, v.Options, false)).Append(("coordinate/async", Coordinate(budget: 10), true)))
        {
            using var allreduce = new AtomoAllreduce(comm, options);
            float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            Action<long, int>? hook = comm.Rank == last ? (step, tensor) => throw new NotSupportedException($"injected at step {step}, tensor {tensor}") : null;
            Exception? error = Catch(() =>
            {
                if (asynchronous)
                {
                    // The hook is flow-local: AverageAsync's work runs on the collective's thread, which inherits it
                    // when the thread is created by this first call.
                    TestHooks.BeforeEncode = hook;
                    allreduce.AverageAsync(AsMemory(tensors), ModelShapes).GetAwaiter().GetResult();
                }
                else
                {
                    TestHooks.BeforeEncode = hook;
                    allreduce.Average(AsMemory(tensors), ModelShapes);
                }
            });
            TestHooks.BeforeEncode = null;
            Type expected = comm.Rank == last ? typeof(NotSupportedException) : typeof(InvalidOperationException);
            Expect(comm, error?.GetType() == expected, $"{variant}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
            for (int t = 0; t < tensors.Length; t++)
            {
                Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"{variant}: tensor {t} was changed by a failed call");
            }

            if (!asynchronous)
            {
                float[][] good = Gradients(ModelShapes, comm.Rank, 1);
                Exception? next = Catch(() => allreduce.Average(AsMemory(good), ModelShapes));
                Expect(comm, next is null && allreduce.Step == 1, $"{variant}: the call after the failure: {next?.Message}, step {allreduce.Step}");
            }
        }
    }

    /// <summary>
    /// The last rank's decode fails (an injected OutOfRangeException standing for a native or memory failure) after the
    /// payloads were exchanged: every rank raises (that rank its own exception), no rank's tensors are written, and the
    /// next call succeeds on every rank with the same bits everywhere.
    /// </summary>
    private static void DecodeFailureOnOneRankFails(ICommunicator comm)
    {
        foreach ((string variant, AtomoOptions options) in Variants())
        {
            DecodeFailureOnOneRankFails(comm, variant, options);
        }
    }

    private static void DecodeFailureOnOneRankFails(ICommunicator comm, string variant, AtomoOptions options)
    {
        int last = comm.Size - 1;
        using var allreduce = new AtomoAllreduce(comm, options);
        float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
        float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
        TestHooks.BeforeDecode = comm.Rank == last ? step => throw new ArgumentOutOfRangeException(nameof(step), step, "injected decode failure") : null;
        Exception? error = Catch(() => allreduce.Average(AsMemory(tensors), ModelShapes));
        TestHooks.BeforeDecode = null;
        Type expected = comm.Rank == last ? typeof(ArgumentOutOfRangeException) : typeof(InvalidOperationException);
        Expect(comm, error?.GetType() == expected, $"{variant}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
        for (int t = 0; t < tensors.Length; t++)
        {
            Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"{variant}: tensor {t} was changed by a failed call");
        }

        float[][] good = Gradients(ModelShapes, comm.Rank, 1);
        Exception? next = Catch(() => allreduce.Average(AsMemory(good), ModelShapes));
        Expect(comm, next is null && allreduce.Step == 1, $"{variant}: the call after the failure: {next?.Message}, step {allreduce.Step}");
        var hashes = new ulong[comm.Size];
        comm.Allgather<ulong>([Hash(good)], hashes);
        Expect(comm, hashes.All(h => h == hashes[0]), $"{variant}: ranks differ after the failed call");
    }

    /// <summary>
    /// The node-aware dense average (<see cref="NodeAwareMode.On"/>) gives the same bits on every rank, and the flat
    /// one's values up to float rounding: each adds the same N values in its own order, (N−1)·u·Σ|g| apart at most from
    /// the exact sum (u = 2⁻²⁴), and each scales by 1/N with one more rounding, so after ÷N the two differ by at most
    /// (2(N−1) + 2)·u·Σ|g|/N = 2u·Σ_r|g_r[i]|. A communicator that cannot group its ranks refuses On on every rank.
    /// </summary>
    private static void NodeAwareDenseEqualsFlatDense(ICommunicator comm)
    {
        if (comm is not INodeAwareCommunicator)
        {
            using var refused = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
            Exception? error = Catch(() => refused.Average(AsMemory(Gradients(ModelShapes, comm.Rank, 0)), ModelShapes));
            Expect(comm, comm.Size == 1 ? error is null : error is InvalidOperationException && error.Message.Contains(nameof(INodeAwareCommunicator), StringComparison.Ordinal), $"NodeAware = On over {comm.GetType().Name}: {error?.GetType().Name ?? "no error"}: {error?.Message}");
            return;
        }

        using var flat = new DenseAllreduce(comm);
        using var node = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
        for (int step = 0; step < 2; step++)
        {
            float[][] a = Gradients(ModelShapes, comm.Rank, step);
            float[][] b = Gradients(ModelShapes, comm.Rank, step);
            flat.Average(AsMemory(a), ModelShapes);
            node.Average(AsMemory(b), ModelShapes);
            Expect(comm, node.IsNodeAware == comm.Size > 1 && !flat.IsNodeAware, $"node-aware: {node.IsNodeAware}, flat: {flat.IsNodeAware}");
            var hashes = new ulong[comm.Size];
            comm.Allgather<ulong>([Hash(b)], hashes);
            Expect(comm, hashes.All(h => h == hashes[0]), $"step {step}: node-aware dense results differ across ranks");
            float[][][] all = [.. Enumerable.Range(0, comm.Size).Select(r => Gradients(ModelShapes, r, step))];
            for (int t = 0; t < ModelShapes.Length; t++)
            {
                for (int i = 0; i < a[t].Length; i++)
                {
                    double magnitudes = all.Sum(g => Math.Abs((double)g[t][i]));
                    double bound = 2 * Math.Pow(2, -24) * magnitudes;
                    Expect(comm, Math.Abs(a[t][i] - (double)b[t][i]) <= bound, $"step {step} tensor {t} entry {i}: flat {a[t][i]} vs node-aware {b[t][i]}, bound {bound}");
                }
            }
        }
    }

    /// <summary>
    /// What a node-aware call reports it moved, within the node and between nodes: for the dense route exactly its
    /// three steps (the node's reduce-scatter of all n floats, which sends the n − s floats of the other ranks' slices and
    /// receives k − 1 contributions to this rank's slice of s floats; that slice allreduced over the K nodes as a ring;
    /// the slices shared within the node: s sent, n − s received); for ATOMO (Auto) less between nodes than the dense
    /// route. A flat call reports nothing within a node.
    /// </summary>
    private static void NodeAwareTraffic(ICommunicator comm)
    {
        float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
        long n = ModelShapes.Sum(s => (long)s.ElementCount);
        using var atomo = new AtomoAllreduce(comm, Coordinate(budget: 10));
        atomo.Average(AsMemory(tensors), ModelShapes);
        if (comm is not INodeAwareCommunicator splittable)
        {
            Expect(comm, !atomo.IsNodeAware && atomo.LastCall.BytesSentWithinNode == 0, "a flat call reports bytes within a node");
            return;
        }

        using NodeTopology topology = splittable.SplitByNode();
        int k = topology.Node.Size, nodes = topology.NodeCount;
        bool expected = topology.IsUniform && nodes > 1 && k > 1;
        Expect(comm, atomo.IsNodeAware == expected, $"Auto over {nodes} node(s) of {k} rank(s): node-aware {atomo.IsNodeAware}");
        if (!expected)
        {
            Expect(comm, atomo.LastCall.BytesSentWithinNode == 0 && atomo.LastCall.BytesReceivedWithinNode == 0, "a flat call reports bytes within a node");
            return;
        }

        using var dense = new DenseAllreduce(comm, new DenseAllreduceOptions { NodeAware = NodeAwareMode.On });
        dense.Average(AsMemory(Gradients(ModelShapes, comm.Rank, 0)), ModelShapes);
        long slice = (n * (topology.Node.Rank + 1) / k) - (n * topology.Node.Rank / k);
        double rail = AllreduceStatistics.RingAllreduceBytes(slice, nodes);
        long sentWithin = 4 * n, receivedWithin = (4 * (k - 1) * slice) + (4 * (n - slice));
        AllreduceStatistics call = dense.LastCall;
        Expect(comm, call.BytesSentWithinNode == sentWithin && call.BytesReceivedWithinNode == receivedWithin, $"dense within node: sent {call.BytesSentWithinNode}, received {call.BytesReceivedWithinNode}; expected {sentWithin}, {receivedWithin}");
        Expect(comm, call.BytesSent == (long)(sentWithin + rail) && call.BytesReceived == (long)(receivedWithin + rail), $"dense in all: sent {call.BytesSent}, received {call.BytesReceived}; expected {(long)(sentWithin + rail)}, {(long)(receivedWithin + rail)}");
        long atomoBetween = atomo.LastCall.BytesSent - atomo.LastCall.BytesSentWithinNode;
        Expect(comm, atomo.LastCall.BytesSentWithinNode > 0 && atomoBetween > 0 && atomoBetween < call.BytesSent - call.BytesSentWithinNode, $"ATOMO between nodes {atomoBetween} B, dense {call.BytesSent - call.BytesSentWithinNode} B");
    }

    /// <summary>
    /// Every rank holds 2·10³⁸ in a tensor sent losslessly: finite on each rank, infinite in any sum of two. Node-aware,
    /// the node's sum overflows after the header exchange, in the encode of the rank that owns the tensor (node rank 0:
    /// the largest tensor goes first to the first rank): it raises ArgumentException naming the tensor, every other rank
    /// InvalidOperationException, at the exchange of payload lengths. Flat, every rank's decode of the sum overflows, and
    /// every rank raises. Either way nothing is written, and the next call succeeds everywhere with the same bits.
    /// </summary>
    /// <summary>
    /// The node's sums through its shared memory (docs/node-aware.md): there where the node's communicator has it and
    /// ATOMO_NODE_SHARED_MEMORY is not 0, else not (a transport that cannot group its ranks is asked as one node); each
    /// rank's block is the sum of every node rank's, added in node-rank order, to the bit; every rank reads every rank's
    /// result; and again over a larger layout, and a second call over it.
    /// </summary>
    private static void NodeSumsThroughSharedMemory(ICommunicator comm)
    {
        using NodeTopology? topology = (comm as INodeAwareCommunicator)?.SplitByNode();
        ICommunicator node = topology?.Node ?? comm;
        using NodeSharedBlocks? shared = NodeSharedBlocks.Open(comm, node, NullLogger.Instance);
        string? setting = TestHooks.NodeSharedMemory is bool forced ? (forced ? "1" : "0") : Environment.GetEnvironmentVariable(NodeSharedBlocks.Variable);
        bool expected = setting?.Trim() != "0" && node is ISharedMemoryCommunicator;
        Expect(comm, (shared is not null) == expected, $"shared node memory {(shared is null ? "absent" : "present")} over {node.GetType().Name} with {NodeSharedBlocks.Variable}={setting ?? "(unset)"}");
        if (shared is null)
        {
            return;
        }

        foreach ((int scale, int call) in new[] { (1, 0), (3, 1), (3, 2) })
        {
            // Blocks of different lengths, an empty one among them where the node has 3 ranks or more.
            int[] counts = [.. Enumerable.Range(0, node.Size).Select(l => l == 1 && node.Size >= 3 ? 0 : scale * (((l * 37) + 5) % 50))];
            int total = counts.Sum();
            Expect(comm, shared.Reserve(counts), $"call {call}: no shared memory for blocks of {string.Join(", ", counts)}");
            float[] data = Gradients([TensorShape.Vector(Math.Max(1, total))], comm.Rank, call)[0][..total];
            var everyone = new float[node.Size * total];
            node.Allgather<float>(data, everyone);
            int mineAt = counts[..node.Rank].Sum();
            var mine = new float[counts[node.Rank] + 1];
            shared.ReduceScatter(new ContiguousBlocks(data, counts), counts, mine, new NodeTraffic());
            for (int i = 0; i < counts[node.Rank]; i++)
            {
                float sum = everyone[mineAt + i];
                for (int l = 1; l < node.Size; l++)
                {
                    sum += everyone[(l * total) + mineAt + i];
                }

                Expect(comm, BitConverter.SingleToInt32Bits(mine[i]) == BitConverter.SingleToInt32Bits(sum), $"call {call}: node rank {node.Rank}'s element {i} is {mine[i]}, not the node-order sum {sum}");
            }

            mine[^1] = node.Rank + 0.5f;
            shared.Share(mine, total + node.Size, new NodeTraffic());
            var results = new float[node.Size * (total + node.Size)];
            node.Allgather<float>(Enumerable.Range(0, node.Size).SelectMany(l => shared.Result(l, counts[l] + 1).ToArray()).ToArray(), results);
            for (int r = 1; r < node.Size; r++)
            {
                Expect(comm, results.AsSpan(r * (total + node.Size), total + node.Size).SequenceEqual(results.AsSpan(0, total + node.Size)), $"call {call}: node rank {r} reads other results than node rank 0");
            }

            Expect(comm, Enumerable.Range(0, node.Size).All(l => shared.Result(l, counts[l] + 1)[^1] == l + 0.5f), $"call {call}: a result's last float is not its rank's");
        }
    }

    private static void NodeSumOverflowFails(ICommunicator comm)
    {
        using var allreduce = new AtomoAllreduce(comm, Coordinate(budget: 1e9));
        allreduce.Average(AsMemory(Gradients(ModelShapes, comm.Rank, 0)), ModelShapes);
        float[][] tensors = Gradients(ModelShapes, comm.Rank, 1);
        Array.Fill(tensors[0], 2e38f);
        float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
        Exception? error = Catch(() => allreduce.Average(AsMemory(tensors), ModelShapes));
        if (allreduce.IsNodeAware)
        {
            using NodeTopology topology = ((INodeAwareCommunicator)comm).SplitByNode();
            bool owner = topology.Node.Rank == 0;
            Expect(comm, owner ? error is ArgumentException && error.Message.Contains("Tensor 0", StringComparison.Ordinal) && error.Message.Contains("overflow", StringComparison.Ordinal)
                : error is InvalidOperationException && error.Message.Contains("encode", StringComparison.Ordinal), $"{(owner ? "owner" : "other rank")}: {error?.GetType().Name ?? "no error"}: {error?.Message}");
        }
        else
        {
            Expect(comm, comm.Size == 1 || error is not null, "a sum that overflows float was averaged without an error");
        }

        for (int t = 0; t < tensors.Length; t++)
        {
            Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"tensor {t} was changed by a failed call");
        }

        float[][] good = Gradients(ModelShapes, comm.Rank, 2);
        Exception? next = Catch(() => allreduce.Average(AsMemory(good), ModelShapes));
        Expect(comm, next is null, $"the call after the failure: {next?.Message}");
        var hashes = new ulong[comm.Size];
        comm.Allgather<ulong>([Hash(good)], hashes);
        Expect(comm, hashes.All(h => h == hashes[0]), "ranks differ after the failed call");
    }

    private static void AsyncEqualsSync(ICommunicator comm)
    {
        var options = new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 25, MinimumCompressedElements = 16, Seed = 9 };
        using var sync = new AtomoAllreduce(comm, options);
        using var asynchronous = new AtomoAllreduce(comm, options);
        float[][] a = Gradients(ModelShapes, comm.Rank, 0);
        float[][] b = Gradients(ModelShapes, comm.Rank, 0);
        sync.Average(AsMemory(a), ModelShapes);
        Task pending = asynchronous.AverageAsync(AsMemory(b), ModelShapes);
        double work = 0;
        for (int i = 1; i < 100_000; i++)
        {
            work += 1.0 / i;   // the caller's compute, overlapping the exchange
        }

        pending.Wait();
        Expect(comm, work > 0 && Hash(a) == Hash(b), "the asynchronous average differs from the synchronous one");
    }

    private static void AveragerBitwiseIdentical(ICommunicator comm, Func<ICommunicator, IGradientAverager> create)
    {
        using IGradientAverager averager = create(comm);
        for (int step = 0; step < 3; step++)
        {
            float[][] tensors = Gradients(ModelShapes, comm.Rank, step);
            averager.Average(AsMemory(tensors), ModelShapes);
            var hashes = new ulong[comm.Size];
            comm.Allgather<ulong>([Hash(tensors)], hashes);
            Expect(comm, hashes.All(h => h == hashes[0]), $"step {step}: result hashes differ across ranks");
            Expect(comm, averager.Step == step + 1 && averager.LastCall.Decisions.Count == ModelShapes.Length, $"step {step}: Step {averager.Step}, {averager.LastCall.Decisions.Count} decisions");
        }
    }

    private static void AveragerMismatchedShapesFail(ICommunicator comm, Func<ICommunicator, IGradientAverager> create)
    {
        if (comm.Size == 1)
        {
            return; // a mismatch needs two ranks
        }

        using IGradientAverager averager = create(comm);
        TensorShape shape = comm.Rank == comm.Size - 1 ? TensorShape.Matrix(30, 40) : TensorShape.Matrix(40, 30);
        var data = Enumerable.Repeat(1f, 1200).ToArray();
        Exception? error = Catch(() => averager.Average([data], [shape]));
        Expect(comm, error is InvalidOperationException, $"expected InvalidOperationException on every rank, got {error?.GetType().Name ?? "none"}");
        Expect(comm, data.All(x => x == 1f), "a failed call changed the caller's data");
        Expect(comm, error!.Message.Contains("shapes", StringComparison.Ordinal), $"the message must name the problem: {error.Message}");
        averager.Average([data], [TensorShape.Matrix(40, 30)]);
        Expect(comm, averager.Step == 1, $"step {averager.Step} after one failed and one good call");
    }

    /// <summary>NaN in a matrix (compressed where the averager compresses) on rank 0, then infinity in the 1-D tensor on the last rank.</summary>
    private static void AveragerNanFails(ICommunicator comm, Func<ICommunicator, IGradientAverager> create)
    {
        using IGradientAverager averager = create(comm);
        long good = 0;
        foreach ((int culprit, int tensor, float value) in new[] { (0, 2, float.NaN), (comm.Size - 1, 3, float.PositiveInfinity) })
        {
            float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
            if (comm.Rank == culprit)
            {
                tensors[tensor][17] = value;
            }

            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            Exception? error = Catch(() => averager.Average(AsMemory(tensors), ModelShapes));
            Type expected = comm.Rank == culprit ? typeof(ArgumentException) : typeof(InvalidOperationException);
            Expect(comm, error?.GetType() == expected, $"tensor {tensor}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
            Expect(comm, comm.Rank != culprit || error!.Message.Contains($"Tensor {tensor}", StringComparison.Ordinal), $"the message must name the tensor: {error?.Message}");
            for (int t = 0; t < tensors.Length; t++)
            {
                Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"tensor {t} was changed by a failed call");
            }

            float[][] clean = Gradients(ModelShapes, comm.Rank, 1);
            Exception? next = Catch(() => averager.Average(AsMemory(clean), ModelShapes));
            good++;
            Expect(comm, next is null && averager.Step == good, $"the next call: {next?.Message}, step {averager.Step}");
        }
    }

    private static void AveragerBadListsFail(ICommunicator comm, Func<ICommunicator, IGradientAverager> create)
    {
        int last = comm.Size - 1;
        using IGradientAverager averager = create(comm);
        foreach (string mistake in new[] { "counts", "null", "length", "shared" })
        {
            float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
            float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
            bool culprit = comm.Rank == last;
            IReadOnlyList<TensorShape> shapes = culprit && mistake == "counts" ? ModelShapes[..^1] : ModelShapes;
            Memory<float>[] memory = AsMemory(tensors);
            if (culprit && mistake == "length")
            {
                memory[1] = memory[1][..^1];
            }

            if (culprit && mistake == "shared")
            {
                memory[^1] = memory[^2];   // the same region twice: an all-dense call would sum it twice in place
                shapes = [.. ModelShapes[..^1], ModelShapes[^2]];
            }

            Exception? error = Catch(() => averager.Average(culprit && mistake == "null" ? null! : memory, shapes));
            Type expected = culprit ? (mistake == "null" ? typeof(ArgumentNullException) : typeof(ArgumentException)) : typeof(InvalidOperationException);
            Expect(comm, error?.GetType() == expected, $"{mistake}: expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
            for (int t = 0; t < tensors.Length; t++)
            {
                Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"{mistake}: tensor {t} was changed by a failed call");
            }
        }

        float[][] good = Gradients(ModelShapes, comm.Rank, 1);
        Exception? next = Catch(() => averager.Average(AsMemory(good), ModelShapes));
        Expect(comm, next is null && averager.Step == 1, $"the good call after the failed ones: {next?.Message}, step {averager.Step}");
    }

    /// <summary>
    /// An exception of a type the averager does not expect, injected on the last rank before its encode or between its
    /// two exchanges: every rank raises, nothing is written, and the next call gives the same bits on every rank.
    /// </summary>
    private static void AveragerInjectedFailure(ICommunicator comm, Func<ICommunicator, IGradientAverager> create, bool decode)
    {
        int last = comm.Size - 1;
        using IGradientAverager averager = create(comm);
        float[][] tensors = Gradients(ModelShapes, comm.Rank, 0);
        float[][] before = [.. tensors.Select(t => (float[])t.Clone())];
        if (comm.Rank == last)
        {
            if (decode)
            {
                TestHooks.BeforeDecode = step => throw new NotSupportedException($"injected at step {step}");
            }
            else
            {
                TestHooks.BeforeEncode = (step, tensor) => throw new NotSupportedException($"injected at step {step}, tensor {tensor}");
            }
        }

        Exception? error = Catch(() => averager.Average(AsMemory(tensors), ModelShapes));
        TestHooks.BeforeDecode = null;
        TestHooks.BeforeEncode = null;
        Type expected = comm.Rank == last ? typeof(NotSupportedException) : typeof(InvalidOperationException);
        Expect(comm, error?.GetType() == expected, $"expected {expected.Name}, got {error?.GetType().Name ?? "none"}: {error?.Message}");
        for (int t = 0; t < tensors.Length; t++)
        {
            Expect(comm, tensors[t].AsSpan().SequenceEqual(before[t]), $"tensor {t} was changed by a failed call");
        }

        float[][] good = Gradients(ModelShapes, comm.Rank, 1);
        Exception? next = Catch(() => averager.Average(AsMemory(good), ModelShapes));
        Expect(comm, next is null && averager.Step == 1, $"the call after the failure: {next?.Message}, step {averager.Step}");
        var hashes = new ulong[comm.Size];
        comm.Allgather<ulong>([Hash(good)], hashes);
        Expect(comm, hashes.All(h => h == hashes[0]), "ranks differ after the failed call");
    }

    private static void AveragerAsyncEqualsSync(ICommunicator comm, Func<ICommunicator, IGradientAverager> create)
    {
        using IGradientAverager sync = create(comm);
        using IGradientAverager asynchronous = create(comm);
        for (int step = 0; step < 2; step++)
        {
            float[][] a = Gradients(ModelShapes, comm.Rank, step);
            float[][] b = Gradients(ModelShapes, comm.Rank, step);
            sync.Average(AsMemory(a), ModelShapes);
            asynchronous.AverageAsync(AsMemory(b), ModelShapes).Wait();
            Expect(comm, Hash(a) == Hash(b), $"step {step}: the asynchronous average differs from the synchronous one");
        }
    }

    /// <summary>
    /// Shapes for the time rule: a matrix whose injected encode is slow (tensor 0), two whose encode is cheap, and a
    /// 20,000-element vector that always goes dense (so that the dense allreduce moves enough bytes to fit β on).
    /// </summary>
    public static TensorShape[] TimedShapes { get; } = [TensorShape.Matrix(64, 48), TensorShape.Matrix(48, 40), TensorShape.Matrix(32, 32), TensorShape.Vector(20_000)];

    /// <summary>Coordinate atoms, 8 per tensor (payloads of tens of bytes: the byte rule compresses every matrix), routed by time.</summary>
    /// <remarks>
    /// The flat exchange even where ranks are grouped into nodes: the time rule routes the flat exchange; the node-aware
    /// one routes between nodes by bytes (NodeAwareAllreduceTests).
    /// </remarks>
    public static AtomoOptions TimedOptions() => new() { Decomposition = Decomposition.Coordinate, Budget = 8, MinimumCompressedElements = 16, Seed = 17, Routing = RoutingRule.Time, NodeAware = NodeAwareMode.Off };

    /// <summary>The link the injected collective timings follow: α = 30 µs per message round, β = 2 ns per byte.</summary>
    public static LinkEstimate InjectedLink { get; } = new(30e-6, 2e-9, 0);

    /// <summary>Injected encode of tensor 0 on rank r, in ticks: (r + 1) ms, so the slowest rank's is N ms.</summary>
    public static long SlowEncodeTicks(int rank) => 10_000L * (rank + 1);

    /// <summary>
    /// Replaces this rank's measurements by synthetic ones that differ between ranks: the collectives follow
    /// <see cref="InjectedLink"/>, except that every rank but one (rank step mod N) arrived (r + 1)·100 µs late and so
    /// measured longer; tensor 0 encodes in <paramref name="tensor0Ticks"/>(step, rank) (default
    /// <see cref="SlowEncodeTicks"/>), the others in (r + 1)·0.5 µs; decodes take 0.5 µs; the dense route's copying is free.
    /// </summary>
    internal static void InjectTimings(ICommunicator comm, long step, CallTimings timings, Func<long, int, long>? tensor0Ticks = null)
    {
        int rank = comm.Rank;
        long Link(double rounds, double bytes) =>
            (long)Math.Round(((InjectedLink.LatencySeconds * rounds) + (InjectedLink.SecondsPerByte * bytes)) * TimeSpan.TicksPerSecond) + (rank == step % comm.Size ? 0 : 1000L * (rank + 1));
        timings.Lengths = Link(comm.Size - 1, timings.LengthsBytes);
        timings.Gather = Link(comm.Size - 1, timings.GatherBytes);
        timings.Dense = Link(2 * (comm.Size - 1), timings.DenseBytes);
        timings.DenseLocal = 0;
        for (int t = 0; t < timings.Encode.Length; t++)
        {
            if (timings.Encode[t] >= 0)
            {
                timings.Encode[t] = t == 0 ? tensor0Ticks?.Invoke(step, rank) ?? SlowEncodeTicks(rank) : 5L * (rank + 1);
            }

            if (timings.Decode[t] >= 0)
            {
                timings.Decode[t] = 5;
            }
        }
    }

    /// <summary>A hash of a call's routes and predictions, bit for bit.</summary>
    public static ulong DecisionsHash(IReadOnlyList<TensorDecision> decisions)
    {
        var hash = new XxHash3();
        foreach (TensorDecision d in decisions)
        {
            RoutePrediction p = d.Prediction ?? new RoutePrediction(-1, -1, -1, -1, false);
            hash.Append(MemoryMarshal.AsBytes<double>([(double)d.Route, p.DenseSeconds, p.EncodeSeconds, p.GatherSeconds, p.DecodeSeconds, p.Probe ? 1 : 0, d.Prediction is null ? 0 : 1]));
        }

        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// <see cref="RoutingRule.Time"/> with every rank measuring differently (<see cref="InjectTimings"/>): every rank
    /// routes alike, predicts the same bits and ends with the same tensors. Tensor 0, whose slowest encode (N ms) costs
    /// more than its dense exchange (β·2(N−1)/N·4n ≤ 37 µs), goes dense from step 4 (the first call is not kept, the
    /// link model needs two calls, and each call plans the next), with the slowest rank's encode as its prediction (every
    /// rank's encodes scale alike with its rank, so tensor 0's share of the slowest rank's phase is that rank's); the
    /// cheap ones stay compressed. One rank has nothing to exchange: no time rule, the byte rule sends all dense.
    /// </summary>
    private static void TimeRoutingAgrees(ICommunicator comm)
    {
        using var allreduce = new AtomoAllreduce(comm, TimedOptions());
        TestHooks.Timings = (step, timings) => InjectTimings(comm, step, timings);
        try
        {
            for (int step = 0; step < 8; step++)
            {
                float[][] tensors = Gradients(TimedShapes, comm.Rank, step);
                allreduce.Average(AsMemory(tensors), TimedShapes);
                IReadOnlyList<TensorDecision> decisions = allreduce.LastCall.Decisions;
                var hashes = new ulong[2 * comm.Size];
                comm.Allgather<ulong>([Hash(tensors), DecisionsHash(decisions)], hashes);
                Expect(comm, Enumerable.Range(0, comm.Size).All(r => hashes[2 * r] == hashes[0] && hashes[(2 * r) + 1] == hashes[1]), $"step {step}: results or decisions differ across ranks");
                if (comm.Size == 1)
                {
                    Expect(comm, decisions.All(d => d.Route != TensorRoute.DenseFaster && d.Prediction is null), $"step {step}: one rank has no time rule");
                    continue;
                }

                TensorRoute expected = step >= 4 ? TensorRoute.DenseFaster : TensorRoute.Compressed;
                Expect(comm, decisions[0].Route == expected && decisions[1].Route == TensorRoute.Compressed && decisions[2].Route == TensorRoute.Compressed && decisions[3].Route == TensorRoute.DenseVector,
                    $"step {step}: routes {string.Join(", ", decisions.Select(d => d.Route))}, tensor 0 should be {expected}");
                Expect(comm, step < 4 || decisions[0].Prediction?.EncodeSeconds == SlowEncodeTicks(comm.Size - 1) / (double)TimeSpan.TicksPerSecond,
                    $"step {step}: tensor 0's predicted encode {decisions[0].Prediction?.EncodeSeconds} should be the slowest rank's");
            }
        }
        finally
        {
            TestHooks.Timings = null;
        }
    }

    private static Exception? Catch(Action action)
    {
        try
        {
            action();
            return null;
        }
#pragma warning disable CA1031 // the contract inspects whatever was thrown
        catch (Exception error)
#pragma warning restore CA1031
        {
            return error;
        }
    }
}
