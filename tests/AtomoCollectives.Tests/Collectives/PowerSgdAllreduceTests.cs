using AtomoCollectives.Decompositions;

namespace AtomoCollectives.Tests.Collectives;

public sealed class PowerSgdAllreduceTests
{
    private const double Unit = 1.0 / (1 << 24);   // float's unit roundoff u = 2⁻²⁴

    /// <summary>Compressed at rank 1 and 2 with rate 1 (the conv view is 6×8); the vector and the 2×2 go dense.</summary>
    private static readonly TensorShape[] Shapes = [TensorShape.Matrix(12, 10), TensorShape.Of(6, 2, 2, 2), TensorShape.Vector(5), TensorShape.Matrix(2, 2)];

    private static float[][] Gradients(int rank, long step)
    {
        var random = new Random((rank * 7919) + ((int)step * 104729) + 1);
        return [.. Shapes.Select(s => Enumerable.Range(0, s.ElementCount).Select(_ => (float)((random.NextDouble() * 2) - 1 + (0.3 * rank))).ToArray())];
    }

    private static Memory<float>[] AsMemory(float[][] tensors) => [.. tensors.Select(t => (Memory<float>)t)];

    public static TheoryData<int, int, bool, bool> ReferenceCases()
    {
        var data = new TheoryData<int, int, bool, bool>();
        foreach (int ranks in new[] { 1, 2, 4 })
        {
            foreach (int rank in new[] { 1, 2 })
            {
                data.Add(ranks, rank, true, true);
                data.Add(ranks, rank, false, false);
            }
        }

        data.Add(2, 2, true, false);
        data.Add(2, 2, false, true);
        return data;
    }

    /// <summary>
    /// Three steps on every rank equal the algorithm written out in double below, output and error feedback alike.
    /// Bound per entry at step s (0-based), from the float kernels' forward errors: each float GEMM with inner
    /// dimension k is off by at most k·u·‖A‖‖B‖; orthonormalising P multiplies its relative error by at most κ(P);
    /// so the output is off by about (r + m + N + κ(n + N))·u·‖M‖_F, and warm start and error feedback carry one
    /// step's error into the next. Tolerance: 8·(s + 1)·(r + m + N + κ·(n + N))·u·max_w ‖M_w‖_F, with κ an upper
    /// bound (‖R‖_F·‖R⁻¹‖_F) on the condition number of the reference's P.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Equals_the_reference_algorithm_to_float_rounding(int ranks, int matrixRank, bool warmStart, bool errorFeedback)
    {
        var options = new PowerSgdOptions { Rank = matrixRank, WarmStart = warmStart, ErrorFeedback = errorFeedback, MinimumCompressionRate = 1, Seed = 42 };
        const int steps = 3;
        var reference = new Reference(options, ranks);
        var expected = new double[steps][][][];   // step, rank, tensor, entry
        var expectedErrors = new double[]?[steps][][];
        for (int step = 0; step < steps; step++)
        {
            expected[step] = reference.Step([.. Enumerable.Range(0, ranks).Select(r => Gradients(r, step))], step);
            expectedErrors[step] = [.. reference.Errors.Select(e => (double[]?[])e.Clone())];
        }

        InProcessCluster.Run(ranks, comm =>
        {
            using var averager = new PowerSgdAllreduce(comm, options);
            for (int step = 0; step < steps; step++)
            {
                float[][] tensors = Gradients(comm.Rank, step);
                averager.Average(AsMemory(tensors), Shapes);
                for (int t = 0; t < Shapes.Length; t++)
                {
                    bool compressed = averager.LastCall.Decisions[t].Route == TensorRoute.Compressed;
                    Assert.Equal(t < 2, compressed);
                    double tolerance = compressed ? reference.Tolerance[step][t] : 1e-6 * ranks;
                    for (int i = 0; i < tensors[t].Length; i++)
                    {
                        Assert.True(Math.Abs(tensors[t][i] - expected[step][comm.Rank][t][i]) <= tolerance, $"rank {comm.Rank} step {step} tensor {t} entry {i}: {tensors[t][i]} vs reference {expected[step][comm.Rank][t][i]}, tolerance {tolerance:E2}");
                    }

                    float[]? error = averager.ErrorOf(t);
                    Assert.Equal(compressed && errorFeedback, error is not null);
                    for (int i = 0; error is not null && i < error.Length; i++)
                    {
                        double want = expectedErrors[step][comm.Rank][t]![i];
                        Assert.True(Math.Abs(error[i] - want) <= tolerance * 2, $"rank {comm.Rank} step {step} tensor {t} error entry {i}: {error[i]} vs reference {want}");
                    }
                }
            }
        });
    }

    /// <summary>
    /// input + old error = output + new error on every rank and entry of every compressed tensor, to rounding: the
    /// library forms M = fl(g + e) and e' = fl(M − out), each one rounding, so in exact arithmetic
    /// |g + e − out − e'| ≤ u·|g + e| + u·|M − out| ≤ 2⁻²³·(|g| + |e| + |e'|).
    /// </summary>
    [Fact]
    public void Error_feedback_bookkeeping_is_exact_to_rounding()
    {
        InProcessCluster.Run(4, comm =>
        {
            using var averager = new PowerSgdAllreduce(comm, new PowerSgdOptions { Rank = 1, MinimumCompressionRate = 1, Seed = 5 });
            var old = new float[Shapes.Length][];
            for (int t = 0; t < Shapes.Length; t++)
            {
                old[t] = new float[Shapes[t].ElementCount];
            }

            for (int step = 0; step < 5; step++)
            {
                float[][] input = Gradients(comm.Rank, step);
                float[][] output = [.. input.Select(x => (float[])x.Clone())];
                averager.Average(AsMemory(output), Shapes);
                for (int t = 0; t < 2; t++)
                {
                    float[] fresh = averager.ErrorOf(t)!;
                    for (int i = 0; i < fresh.Length; i++)
                    {
                        double gap = (double)input[t][i] + old[t][i] - output[t][i] - fresh[i];
                        double bound = 2 * Unit * (Math.Abs(input[t][i]) + Math.Abs(old[t][i]) + Math.Abs(fresh[i]));
                        Assert.True(Math.Abs(gap) <= bound, $"rank {comm.Rank} step {step} tensor {t} entry {i}: input + old error − output − new error = {gap:E3}, bound {bound:E3}");
                    }

                    Assert.Contains(fresh, e => e != 0);   // rank 1 leaves something out of these full-rank matrices
                    old[t] = fresh;
                }
            }
        });
    }

    /// <summary>
    /// The second step starts from the first step's mean Q (what <c>WarmStartOf</c> holds after it), not a fresh draw:
    /// its output equals the reference started from that Q, and differs, by far more than the rounding bound, from the
    /// one started from the fresh draw a cold averager uses.
    /// </summary>
    [Fact]
    public void Warm_start_carries_each_tensors_Q_into_the_next_step()
    {
        var warmOptions = new PowerSgdOptions { Rank = 1, ErrorFeedback = false, MinimumCompressionRate = 1, Seed = 8 };
        PowerSgdOptions coldOptions = warmOptions.Clone();
        coldOptions.WarmStart = false;
        InProcessCluster.Run(2, comm =>
        {
            using var warm = new PowerSgdAllreduce(comm, warmOptions);
            using var cold = new PowerSgdAllreduce(comm, coldOptions);
            float[][] first = Gradients(comm.Rank, 0), firstCold = Gradients(comm.Rank, 0);
            warm.Average(AsMemory(first), Shapes);
            cold.Average(AsMemory(firstCold), Shapes);
            Assert.Equal(first[0], firstCold[0]);   // the same first step
            float[] q1 = warm.WarmStartOf(0)!;
            Assert.Null(cold.WarmStartOf(0));

            float[][] second = Gradients(comm.Rank, 1), secondCold = Gradients(comm.Rank, 1);
            warm.Average(AsMemory(second), Shapes);
            cold.Average(AsMemory(secondCold), Shapes);

            // The reference's step 1 for tensor 0, from q1 and from the cold draw of step 1.
            double[][] inputs = [.. Enumerable.Range(0, comm.Size).Select(r => Gradients(r, 1)[0].Select(x => (double)x).ToArray())];
            (int m, int n) = Shapes[0].MatrixView;
            var coldQ = new float[n];
            Gaussian.Fill(coldQ, PowerSgdAllreduce.InitialQSeed(8, 1, 0));
            double[] fromWarm = Reference.PowerStep(inputs, m, n, 1, [.. q1.Select(x => (double)x)], out _, out double kWarm);
            double[] fromCold = Reference.PowerStep(inputs, m, n, 1, [.. coldQ.Select(x => (double)x)], out _, out _);
            double scale = inputs.Max(Reference.Frobenius);
            double tolerance = 8 * (1 + m + comm.Size + (kWarm * (n + comm.Size))) * Unit * scale;
            double warmGap = second[0].Select((x, i) => Math.Abs(x - fromWarm[i])).Max();
            double coldGap = second[0].Select((x, i) => Math.Abs(x - fromCold[i])).Max();
            Assert.True(warmGap <= tolerance, $"warm step 2 is {warmGap:E2} from the reference started at step 1's Q (tolerance {tolerance:E2})");
            Assert.True(coldGap > 100 * tolerance, $"a fresh Q would give nearly the same answer ({coldGap:E2}): the test cannot tell warm from cold");
            Assert.True(secondCold[0].Select((x, i) => Math.Abs(x - fromCold[i])).Max() <= tolerance, "the cold averager's step 2 is the reference from a fresh draw");
        });
    }

    [Fact]
    public void Routes_follow_the_hooks_policy_and_bytes_are_ring_allreduces_of_P_Q_and_dense()
    {
        TensorShape[] shapes = [TensorShape.Matrix(5, 5), TensorShape.Matrix(4, 4), TensorShape.Vector(300), TensorShape.Of(8, 4, 3, 3), TensorShape.Matrix(10, 10)];
        InProcessCluster.Run(4, comm =>
        {
            using var averager = new PowerSgdAllreduce(comm, new PowerSgdOptions { Rank = 2, DenseWarmupSteps = 2, Seed = 1 });
            var random = new Random(comm.Rank);
            for (int step = 0; step < 3; step++)
            {
                float[][] tensors = [.. shapes.Select(s => Enumerable.Range(0, s.ElementCount).Select(_ => (float)random.NextDouble()).ToArray())];
                averager.Average(AsMemory(tensors), shapes);
                TensorRoute[] routes = [.. averager.LastCall.Decisions.Select(d => d.Route)];
                if (step < 2)
                {
                    Assert.All(routes, r => Assert.Equal(TensorRoute.DenseWarmup, r));
                    Assert.Null(averager.ErrorOf(0));
                    continue;
                }

                // (m + n)·r·rate vs m·n with r = 2, rate 2: 5×5: 40 ≥ 25 dense; 4×4: 32 ≥ 16 dense; 8×36: 176 < 288;
                // 10×10: 80 < 100.
                Assert.Equal([TensorRoute.DenseCheaper, TensorRoute.DenseCheaper, TensorRoute.DenseVector, TensorRoute.Compressed, TensorRoute.Compressed], routes);
                long dense = 25 + 16 + 300, p = (8 * 2) + (10 * 2), q = (36 * 2) + (10 * 2);
                long expected = (long)AllreduceStatistics.RingAllreduceBytes(dense + p, 4) + (long)AllreduceStatistics.RingAllreduceBytes(q, 4);
                Assert.Equal(expected, averager.LastCall.BytesSent);
                Assert.Equal(expected, averager.LastCall.BytesReceived);
                Assert.Equal((long)AllreduceStatistics.RingAllreduceBytes(shapes.Sum(s => s.ElementCount), 4), averager.LastCall.DenseEquivalentBytes);
                Assert.Equal(2, averager.LastCall.CompressedTensors);
                Assert.Equal(4 * (8 + 36) * 2, averager.LastCall.Decisions[3].PayloadBytes);
            }
        });
    }

    [Fact]
    public void A_tensors_state_is_dropped_when_its_shape_changes()
    {
        InProcessCluster.Run(2, comm =>
        {
            using var averager = new PowerSgdAllreduce(comm, new PowerSgdOptions { Rank = 1, Seed = 3 });
            averager.Average([Enumerable.Range(0, 120).Select(i => (float)Math.Sin(i + comm.Rank)).ToArray()], [TensorShape.Matrix(12, 10)]);
            Assert.Equal(10, averager.WarmStartOf(0)!.Length);
            averager.Average([Enumerable.Range(0, 120).Select(i => (float)Math.Cos(i + comm.Rank)).ToArray()], [TensorShape.Matrix(10, 12)]);
            Assert.Equal(12, averager.WarmStartOf(0)!.Length);
            float[] error = averager.ErrorOf(0)!;
            Assert.Equal(120, error.Length);
        });
    }

    [Fact]
    public void Values_whose_products_overflow_are_refused_on_every_rank_with_tensors_untouched()
    {
        Exception?[] errors = InProcessCluster.Run(2, comm =>
        {
            using var averager = new PowerSgdAllreduce(comm, new PowerSgdOptions { Rank = 1, Seed = 3 });
            float[] data = [.. Enumerable.Repeat(3e38f, 120)];
            Exception? error = Record.Exception(() => averager.Average([data], [TensorShape.Matrix(12, 10)]));
            Assert.All(data, x => Assert.Equal(3e38f, x));
            return error;
        });
        Assert.All(errors, e => Assert.Contains("overflows float", e!.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Options_are_validated_when_set_with_the_valid_values_named()
    {
        var options = new PowerSgdOptions();
        Assert.Equal((1, true, true, 0, 2.0), (options.Rank, options.WarmStart, options.ErrorFeedback, options.DenseWarmupSteps, options.MinimumCompressionRate));
        Assert.Contains("at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => options.Rank = 0).Message, StringComparison.Ordinal);
        Assert.Contains("0 or more", Assert.Throws<ArgumentOutOfRangeException>(() => options.DenseWarmupSteps = -1).Message, StringComparison.Ordinal);
        foreach (double rate in new[] { 0.5, double.NaN, double.PositiveInfinity })
        {
            Assert.Contains("≥ 1", Assert.Throws<ArgumentOutOfRangeException>(() => options.MinimumCompressionRate = rate).Message, StringComparison.Ordinal);
        }

        Assert.Contains("InfiniteTimeSpan", Assert.Throws<ArgumentOutOfRangeException>(() => options.Timeout = TimeSpan.Zero).Message, StringComparison.Ordinal);
        Assert.Contains("InfiniteTimeSpan", Assert.Throws<ArgumentOutOfRangeException>(() => new DenseAllreduceOptions().Timeout = TimeSpan.FromSeconds(-1)).Message, StringComparison.Ordinal);
        options.Timeout = Timeout.InfiniteTimeSpan;
        Assert.Equal((1, 2.0), (options.Rank, options.MinimumCompressionRate));   // refused values left the options as they were
        Assert.Throws<ArgumentNullException>(() => new PowerSgdAllreduce(null!, options));
        InProcessCluster.Run(1, comm => Assert.Throws<ArgumentNullException>(() => new PowerSgdAllreduce(comm, null!)));
    }

    [Fact]
    public void Dense_allreduce_is_the_mean_with_every_tensor_on_the_dense_route()
    {
        InProcessCluster.Run(4, comm =>
        {
            using var averager = new DenseAllreduce(comm);
            float[][] tensors = Gradients(comm.Rank, 0);
            averager.Average(AsMemory(tensors), Shapes);
            for (int t = 0; t < Shapes.Length; t++)
            {
                for (int i = 0; i < tensors[t].Length; i++)
                {
                    double mean = Enumerable.Range(0, 4).Average(r => (double)Gradients(r, 0)[t][i]);
                    Assert.True(Math.Abs(tensors[t][i] - mean) <= 4e-6 * 4, $"tensor {t} entry {i}: {tensors[t][i]} vs {mean}");   // N additions and a scaling, |x| < 2
                }
            }

            Assert.All(averager.LastCall.Decisions, d => Assert.Equal(TensorRoute.Dense, d.Route));
            long bytes = (long)AllreduceStatistics.RingAllreduceBytes(Shapes.Sum(s => s.ElementCount), 4);
            Assert.Equal((bytes, bytes, bytes, 1L), (averager.LastCall.BytesSent, averager.LastCall.BytesReceived, averager.LastCall.DenseEquivalentBytes, averager.Step));
        });
    }

    /// <summary>PowerSGD written out in double, every rank simulated, in the textbook order (Vogels et al., Algorithm 1 with 2).</summary>
    private sealed class Reference(PowerSgdOptions options, int ranks)
    {
        private readonly double[]?[] _q = new double[Shapes.Length][];

        /// <summary>Each rank's error feedback after the last step, by tensor (null for dense tensors).</summary>
        public double[]?[][] Errors { get; } = [.. Enumerable.Range(0, ranks).Select(_ => new double[Shapes.Length][])];

        /// <summary>The tolerance (see the test) of each step and tensor.</summary>
        public List<double[]> Tolerance { get; } = [];

        /// <summary>One step: every rank's output (the same for all), by rank, tensor and entry.</summary>
        public double[][][] Step(float[][][] gradients, long step)
        {
            var outputs = new double[ranks][][];
            var tolerance = new double[Shapes.Length];
            for (int r = 0; r < ranks; r++)
            {
                outputs[r] = new double[Shapes.Length][];
            }

            for (int t = 0; t < Shapes.Length; t++)
            {
                (TensorRoute route, int m, int n, int rank) = PowerSgdAllreduce.Plan(Shapes[t], step, options);
                if (route != TensorRoute.Compressed)
                {
                    double[] mean = new double[Shapes[t].ElementCount];
                    for (int i = 0; i < mean.Length; i++)
                    {
                        mean[i] = Enumerable.Range(0, ranks).Average(r => (double)gradients[r][t][i]);
                    }

                    for (int r = 0; r < ranks; r++)
                    {
                        outputs[r][t] = mean;
                    }

                    continue;
                }

                double[][] inputs = new double[ranks][];
                for (int r = 0; r < ranks; r++)
                {
                    inputs[r] = [.. gradients[r][t].Select(x => (double)x)];
                    if (options.ErrorFeedback && Errors[r][t] is { } error)
                    {
                        for (int i = 0; i < inputs[r].Length; i++)
                        {
                            inputs[r][i] += error[i];
                        }
                    }
                }

                double[] start;
                if (options.WarmStart && _q[t] is { } warm)
                {
                    start = warm;
                }
                else
                {
                    var draw = new float[n * rank];
                    Gaussian.Fill(draw, PowerSgdAllreduce.InitialQSeed(options.Seed, step, t));
                    start = [.. draw.Select(x => (double)x)];
                }

                double[] output = PowerStep(inputs, m, n, rank, start, out double[] q, out double kappa);
                _q[t] = q;
                tolerance[t] = 8 * (step + 1) * (rank + m + ranks + (kappa * (n + ranks))) * Unit * inputs.Max(Frobenius);
                for (int r = 0; r < ranks; r++)
                {
                    outputs[r][t] = output;
                    if (options.ErrorFeedback)
                    {
                        Errors[r][t] = [.. inputs[r].Select((x, i) => x - output[i])];
                    }
                }
            }

            Tolerance.Add(tolerance);
            return outputs;
        }

        /// <summary>
        /// Q₀ ← orth(start); P ← mean(M_w Q₀); P ← orth(P); Q ← mean(M_wᵀ P); returns P Qᵀ, with Q and an upper bound on
        /// the condition number of the mean P.
        /// </summary>
        public static double[] PowerStep(double[][] inputs, int m, int n, int rank, double[] start, out double[] q, out double kappa)
        {
            double[] q0 = (double[])start.Clone();
            GramSchmidt(q0, n, rank, out _);
            var p = new double[m * rank];
            foreach (double[] matrix in inputs)
            {
                for (int i = 0; i < m; i++)
                {
                    for (int k = 0; k < rank; k++)
                    {
                        double sum = 0;
                        for (int j = 0; j < n; j++)
                        {
                            sum += matrix[(i * n) + j] * q0[(j * rank) + k];
                        }

                        p[(i * rank) + k] += sum / inputs.Length;
                    }
                }
            }

            GramSchmidt(p, m, rank, out kappa);
            q = new double[n * rank];
            foreach (double[] matrix in inputs)
            {
                for (int j = 0; j < n; j++)
                {
                    for (int k = 0; k < rank; k++)
                    {
                        double sum = 0;
                        for (int i = 0; i < m; i++)
                        {
                            sum += matrix[(i * n) + j] * p[(i * rank) + k];
                        }

                        q[(j * rank) + k] += sum / inputs.Length;
                    }
                }
            }

            var output = new double[m * n];
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    for (int k = 0; k < rank; k++)
                    {
                        output[(i * n) + j] += p[(i * rank) + k] * q[(j * rank) + k];
                    }
                }
            }

            return output;
        }

        public static double Frobenius(double[] matrix) => Math.Sqrt(matrix.Sum(x => x * x));

        /// <summary>Modified Gram–Schmidt on the columns of a rows×rank row-major matrix; κ ≤ ‖R‖_F·‖R⁻¹‖_F.</summary>
        private static void GramSchmidt(double[] a, int rows, int rank, out double kappa)
        {
            var r = new double[rank, rank];
            for (int k = 0; k < rank; k++)
            {
                for (int previous = 0; previous < k; previous++)
                {
                    double dot = 0;
                    for (int i = 0; i < rows; i++)
                    {
                        dot += a[(i * rank) + previous] * a[(i * rank) + k];
                    }

                    r[previous, k] = dot;
                    for (int i = 0; i < rows; i++)
                    {
                        a[(i * rank) + k] -= dot * a[(i * rank) + previous];
                    }
                }

                double norm = Math.Sqrt(Enumerable.Range(0, rows).Sum(i => a[(i * rank) + k] * a[(i * rank) + k]));
                r[k, k] = norm;
                for (int i = 0; i < rows; i++)
                {
                    a[(i * rank) + k] /= norm;
                }
            }

            // R⁻¹ by back substitution, column by column.
            var inverse = new double[rank, rank];
            for (int column = 0; column < rank; column++)
            {
                for (int row = rank - 1; row >= 0; row--)
                {
                    double sum = row == column ? 1 : 0;
                    for (int k = row + 1; k < rank; k++)
                    {
                        sum -= r[row, k] * inverse[k, column];
                    }

                    inverse[row, column] = sum / r[row, row];
                }
            }

            double normR = Math.Sqrt(r.Cast<double>().Sum(x => x * x)), normInverse = Math.Sqrt(inverse.Cast<double>().Sum(x => x * x));
            kappa = normR * normInverse;
        }
    }
}
