using System.Buffers;
using AtomoCollectives.Decompositions;
using CsCheck;

namespace AtomoCollectives.Tests.Sparsification;

/// <summary>
/// Property tests over float's whole range (issue 15): generated tensors mix magnitudes from 1e-38 to 3e38 in the
/// patterns that broke the encoders before (one huge entry per tensor or per bucket among tiny ones, many huge entries,
/// all entries huge or all tiny, magnitudes spread over the whole range). For every basis, preset and sampler, each
/// case is either refused before anything is sent, with an error that names float's range, or holds these:
/// <list type="bullet">
/// <item>every non-zero coefficient has an inclusion probability p &gt; 0 (nothing is dropped for sure);</item>
/// <item>the mean of T decoded estimates is the tensor, within the bound its exact variance gives;</item>
/// <item>all-zero estimates are no more frequent than the probabilities allow (never, where a group's Σp ≥ 1 is drawn systematically).</item>
/// </list>
/// </summary>
public class DynamicRangePropertyTests
{
    private const int Rows = 32, Columns = 64, Bucket = 512, Trials = 200;
    private static readonly int CasesPerVariant = int.TryParse(Environment.GetEnvironmentVariable("ATOMO_RANGE_CASES"), out int cases) ? cases : 12;

    /// <summary>
    /// The allowed distance of the mean of T estimates from the tensor, in standard errors: E‖mean − g‖² = V/T for
    /// any dependence between the atoms' draws, so by Markov's inequality a correct estimator exceeds 8·√(V/T) with
    /// probability at most 1/64 per check; the seeds are fixed, so the test is deterministic.
    /// </summary>
    private const double StandardErrors = 8;

    private enum Pattern
    {
        OneHugePerTensor,
        OneHugePerBucket,
        ManyHuge,
        AllHuge,
        AllTiny,
        WholeRange,
    }

    /// <summary>One generated case: the pattern, the huge and tiny magnitudes (powers of ten), and a seed for positions and signs.</summary>
    private sealed record Case(Pattern Pattern, double BigExponent, double SmallExponent, int Seed)
    {
        public override string ToString() => $"{Pattern} 1e{BigExponent:F2} among 1e{SmallExponent:F2}, seed {Seed}";

        public float[] Tensor()
        {
            var random = new Random(Seed);
            double big = Math.Pow(10, BigExponent), small = Math.Pow(10, SmallExponent);
            var g = new float[Rows * Columns];
            for (int i = 0; i < g.Length; i++)
            {
                double magnitude = Pattern switch
                {
                    Pattern.AllHuge => big * (0.5 + random.NextDouble()),
                    Pattern.WholeRange => Math.Pow(10, SmallExponent + ((BigExponent - SmallExponent) * random.NextDouble())),
                    Pattern.ManyHuge when random.NextDouble() < 0.1 => big,
                    _ => small * (0.5 + random.NextDouble()),
                };
                g[i] = (float)(random.Next(2) == 0 ? magnitude : -magnitude);
            }

            if (Pattern == Pattern.OneHugePerTensor)
            {
                g[random.Next(g.Length)] = (float)big;
            }
            else if (Pattern == Pattern.OneHugePerBucket)
            {
                for (int start = 0; start < g.Length; start += Bucket)
                {
                    g[start + random.Next(Bucket)] = (float)-big;
                }
            }

            return g;
        }
    }

    /// <summary>Huge from 1e10 to 3e38 (10^38.47), tiny from 1e-38 to 1: float's normal range.</summary>
    private static readonly Gen<Case> Cases =
        Gen.Select(Gen.Enum<Pattern>(), Gen.Double[10, 38.47], Gen.Double[-38, 0], Gen.Int[0, 1 << 20])
            .Select((pattern, big, small, seed) => new Case(pattern, big, small, seed));

    public static TheoryData<string, Sampling> Variants()
    {
        var data = new TheoryData<string, Sampling>();
        foreach (string name in Presets.Keys)
        {
            data.Add(name, Sampling.Systematic);
            data.Add(name, Sampling.Independent);
        }

        return data;
    }

    private static readonly Dictionary<string, Func<AtomoOptions>> Presets = new()
    {
        ["spectral fast"] = () => new AtomoOptions(),
        ["spectral exact"] = () => new AtomoOptions { SpectralMethod = SpectralMethod.Exact },
        ["coordinate"] = () => new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = 10, BucketSize = Bucket },
        ["fourier"] = () => new AtomoOptions { Decomposition = Decomposition.Fourier, Budget = 10, BucketSize = Bucket },
        ["terngrad"] = () => AtomoOptions.TernGrad(Bucket),
        ["qsgd"] = () => AtomoOptions.Qsgd(Bucket),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Every_finite_range_is_estimated_without_bias_or_refused(string preset, Sampling sampling)
    {
        AtomoOptions options = Presets[preset]();
        options.Sampling = sampling;
        // A fixed generator, so the cases are the same on every run (Sample would add random ones).
        var random = new PCG(15, 20261203);
        for (int i = 0; i < CasesPerVariant; i++)
        {
            CheckCase(options, Cases.Generate(random, null, out _));
        }
    }

    private static void CheckCase(AtomoOptions options, Case c)
    {
        float[] g = c.Tensor();
        var shape = TensorShape.Matrix(Rows, Columns);
        var codec = new AtomoCodec(options);
        bool spectral = options.Decomposition == Decomposition.Spectral;

        // Spectral Fast runs as AtomoAllreduce runs it, warm from the previous call's basis: the codec's sketch and the
        // test's evolve in lock step (the basis depends on g and the seeds' low word only, never on the draws).
        SpectralSketch? codecSketch = spectral ? new SpectralSketch() : null, testSketch = spectral ? new SpectralSketch() : null;
        var payload = new ArrayBufferWriter<byte>();
        const ulong SketchSeed = 17;   // the low word seeds a cold sketch
        int spans = spectral ? 1 : g.Length / Bucket;
        var variances = new double[spans];   // Σ over trials of each span's variance
        double zeroChance = 0;
        var sum = new double[g.Length];
        var estimate = new float[g.Length];
        int allZero = 0;
        List<Group>? groups = null;
        for (int t = 0; t < Trials; t++)
        {
            ulong seed = SketchSeed + ((ulong)t << 32);
            payload.ResetWrittenCount();
            try
            {
                codec.Encode(g, shape, seed, codecSketch, payload);
            }
            catch (ArgumentException error)
            {
                // A refusal is allowed only where a value the encoder must write cannot be held in float.
                double norm = Math.Sqrt(g.Sum(x => (double)x * x));
                Assert.True(t == 0, $"{c}: refused at trial {t} after accepting it before: {error.Message}");
                Assert.True(norm > 1e37, $"{c}: refused a tensor of norm {norm:G3}: {error.Message}");
                Assert.Contains("float", error.Message, StringComparison.Ordinal);
                return;
            }

            if (groups is null || spectral)
            {
                groups = Groups(options, g, shape, seed, testSketch);
                foreach (Group group in groups)
                {
                    foreach (float lambda in group.Coefficients)
                    {
                        Assert.True(lambda == 0 || group.Level.Probability(lambda) > 0, $"{c}: a coefficient {lambda:G6} has p = 0");
                    }
                }
            }

            for (int b = 0; b < spans; b++)
            {
                variances[b] += spectral ? groups.Sum(x => x.Variance()) : groups[b].Variance();
            }

            zeroChance += groups.Where(x => x.HasNonZero).Select(x => x.ChanceOfNothing(options.Sampling)).DefaultIfEmpty(1).Min();
            codec.Decode(payload.WrittenSpan, estimate);
            allZero += estimate.All(x => x == 0) ? 1 : 0;
            for (int i = 0; i < g.Length; i++)
            {
                sum[i] += estimate[i];
            }
        }

        AssertUnbiased(options, c, g, sum, variances);
        AssertZeroEstimatesAreRare(c, allZero, zeroChance);
    }

    /// <summary>
    /// Coordinate and Fourier buckets span disjoint coordinates, so each bucket is checked on its own, with its own
    /// variance; a spectral tensor is one check. The trials are independent given their atoms, so E‖mean − g‖² =
    /// Σ_t V_t / T². Beyond that bound, the estimate may differ from g by float rounding: the kept magnitude 1/c rounded
    /// to float (relative 6e-8) for coordinates, and the transform or the decomposition computed in float (relative
    /// 1e-5 of the norm: under 200 float roundings in a row) otherwise.
    /// </summary>
    private static void AssertUnbiased(AtomoOptions options, Case c, float[] g, double[] sum, double[] variances)
    {
        int span = g.Length / variances.Length;
        double rounding = options.Decomposition == Decomposition.Coordinate ? 1e-6 : 1e-5;
        for (int b = 0; b < variances.Length; b++)
        {
            double error = 0, norm = 0;
            for (int i = b * span; i < (b + 1) * span; i++)
            {
                double difference = (sum[i] / Trials) - g[i];
                error += difference * difference;
                norm += (double)g[i] * g[i];
            }

            double bound = (StandardErrors * Math.Sqrt(variances[b]) / Trials) + (rounding * Math.Sqrt(norm));
            Assert.True(Math.Sqrt(error) <= bound, $"{c}, entries {b * span}…{((b + 1) * span) - 1}: ‖mean − g‖ = {Math.Sqrt(error):G4}, bound {bound:G4} (ΣV = {variances[b]:G4})");
        }
    }

    /// <summary>
    /// An estimate is all zero only if every group drew nothing, so its chance in a trial is at most the smallest
    /// group's chance of drawing nothing: Π(1 − p) for independent draws, max(0, 1 − Σp) for systematic ones (which
    /// draw ⌊Σp⌋ or ⌈Σp⌉ atoms). Where every trial's chance is 0 no all-zero estimate may occur; otherwise the count
    /// (a sum of independent Bernoulli trials, mean and variance at most Σ chance) is within the mean plus six of its
    /// standard deviations, plus one.
    /// </summary>
    private static void AssertZeroEstimatesAreRare(Case c, int allZero, double chance)
    {
        double allowed = chance == 0 ? 0 : chance + (6 * Math.Sqrt(chance)) + 1;
        Assert.True(allZero <= allowed, $"{c}: {allZero} of {Trials} estimates were all zero; at most {allowed:G3} allowed (expected {chance:G3})");
    }

    /// <summary>One group of atoms drawn together at one water level: a coordinate or Fourier bucket, or a spectral group.</summary>
    private sealed record Group(float[] Coefficients, WaterLevel Level)
    {
        public bool HasNonZero => Coefficients.Any(x => x != 0);

        /// <summary><c>Σ λ²(1/p − 1)</c>: the group's exact contribution to E‖ĝ − g‖².</summary>
        public double Variance() => Coefficients.Where(x => x != 0).Sum(x => (double)x * x * ((1 / Level.Probability(x)) - 1));

        public double ChanceOfNothing(Sampling sampling)
        {
            double[] p = [.. Coefficients.Where(x => x != 0).Select(Level.Probability)];
            return sampling == Sampling.Independent ? p.Aggregate(1.0, (product, x) => product * (1 - x)) : Math.Max(0, 1 - p.Sum());
        }
    }

    /// <summary>The groups and levels the encoder draws from, recomputed from the decomposition.</summary>
    private static List<Group> Groups(AtomoOptions options, float[] g, TensorShape shape, ulong seed, SpectralSketch? sketch)
    {
        if (options.Decomposition == Decomposition.Spectral)
        {
            var atoms = new SpectralAtoms();
            atoms.Decompose(g, Rows, Columns, options, seed, sketch);
            (WaterLevel rankOne, WaterLevel residual) = SpectralSparsifier.Levels(atoms, options.Budget, options.SpectralPrecision);
            return [new Group(atoms.Coefficients.ToArray(), rankOne), new Group(atoms.Residual.ToArray(), residual)];
        }

        float[] coefficients = g;
        if (options.Decomposition == Decomposition.Fourier)
        {
            IAtomDecomposition fourier = Decomposer.Create(Decomposition.Fourier);
            fourier.Decompose(g, shape, options, seed);
            coefficients = fourier.Coefficients.ToArray();
        }

        var groups = new List<Group>();
        for (int start = 0; start < coefficients.Length; start += Bucket)
        {
            float[] bucket = coefficients[start..(start + Bucket)];
            groups.Add(new Group(bucket, CoordinateSparsifier.BucketLevel(options, bucket, MagnitudeStatistics.Measure(bucket, "bucket"))));
        }

        return groups;
    }
}
