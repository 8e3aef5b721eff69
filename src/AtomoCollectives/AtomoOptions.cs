namespace AtomoCollectives;

/// <summary>How the budget of a coordinate (or Fourier) sparsification is set.</summary>
public enum BudgetRule
{
    /// <summary><see cref="AtomoOptions.Budget"/> atoms per bucket.</summary>
    Fixed,

    /// <summary>TernGrad: <c>s = ‖g‖₁/‖g‖∞</c> per bucket, so <c>p_i = |g_i|/‖g‖∞</c> and kept values are <c>±‖g‖∞</c>.</summary>
    TernGrad,

    /// <summary>1-bit QSGD: <c>s = ‖g‖₁/‖g‖₂</c> per bucket, so <c>p_i = |g_i|/‖g‖₂</c> and kept values are <c>±‖g‖₂</c>.</summary>
    Qsgd,
}

/// <summary>How spectral atoms are computed.</summary>
public enum SpectralMethod
{
    /// <summary>
    /// A sketch of the dominant subspace (warm-started from the previous step in <see cref="AtomoAllreduce"/>) gives
    /// rank-1 atoms; what it misses, the residual, is sparsified entry by entry as coordinate atoms in the same byte
    /// budget. Exactly unbiased however rough the sketch, at a few times the cost of reading the tensor.
    /// </summary>
    Fast,

    /// <summary>A full LAPACK singular value decomposition.</summary>
    Exact,
}

/// <summary>How the vectors of spectral atoms travel.</summary>
public enum ValuePrecision
{
    /// <summary>IEEE single precision: the estimate stays exactly unbiased.</summary>
    Float32,

    /// <summary>IEEE half precision: half the bytes; rounding adds a small bias and variance.</summary>
    Float16,

    /// <summary>bfloat16 (float32's exponent, 8 bits of mantissa): half the bytes, float32's range; rounding adds a small bias and variance.</summary>
    BFloat16,
}

/// <summary>How <see cref="AtomoOptions.DenseWhenCheaper"/> judges that the dense route is cheaper.</summary>
public enum RoutingRule
{
    /// <summary>
    /// By bytes: a tensor goes dense when its payloads would move as many bytes as the dense ring allreduce. Depends
    /// only on the data, so a run repeats bitwise (and a stopped and resumed run ends as one that ran through).
    /// </summary>
    Bytes,

    /// <summary>
    /// By time: a tensor goes dense, before it is encoded, when the dense allreduce of it is predicted faster than
    /// encoding, exchanging and decoding it, from an α–β link model fitted to the call's own collectives and each
    /// tensor's measured encode and decode (its share of the slowest rank's). Every rank decides alike, but decisions follow the
    /// timings, so two runs may route differently; the byte rule still applies after encoding
    /// (docs/gradient-averagers.md, "Routing by time").
    /// </summary>
    Time,
}

/// <summary>What AtomoCodec and the collectives do with one tensor. Setters validate at once.</summary>
public sealed class AtomoOptions
{
    private double _budget = 3;
    private int _bucketSize;
    private int _fourierBlockLength = 32;
    private int _oversampling = 2;
    private int _powerIterations = 1;
    private int _spectralMinimumDimension = 8;
    private int _denseWarmupSteps;
    private int _minimumCompressedElements = 1024;
    private Decomposition _decomposition = Decomposition.Spectral;
    private Sampling _sampling = Sampling.Systematic;
    private BudgetRule _budgetRule = BudgetRule.Fixed;
    private SpectralMethod _spectralMethod = SpectralMethod.Fast;
    private ValuePrecision _spectralPrecision = ValuePrecision.Float32;
    private NodeAwareMode _nodeAware = NodeAwareMode.Auto;
    private int _nodeGroupSize;
    private RoutingRule _routing = RoutingRule.Time;
    private TimeSpan _timeout = TimeSpan.FromMinutes(10);

    /// <summary>The basis the tensor is written in. Default <see cref="Decomposition.Spectral"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="AtomoCollectives.Decomposition"/>.</exception>
    public Decomposition Decomposition
    {
        get => _decomposition;
        set => _decomposition = Defined(value);
    }

    /// <summary>
    /// The expected number of atoms kept per tensor (per bucket when bucketed); fractional budgets are allowed. For
    /// spectral atoms it is a budget of bytes: Budget rank-1 atoms' worth of vectors, <c>Budget·(m + n)</c> values,
    /// spread between rank-1 atoms and residual entries so as to minimise the variance (with
    /// <see cref="SpectralMethod.Exact"/>, which leaves no residual, exactly Budget rank-1 atoms). Default 3.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive, or NaN.</exception>
    public double Budget
    {
        get => _budget;
        set
        {
            if (!(value > 0))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The budget must be a positive number of atoms.");
            }

            _budget = value;
        }
    }

    /// <summary>How atoms are drawn. Default <see cref="Sampling.Systematic"/> (a payload of predictable size).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="AtomoCollectives.Sampling"/>.</exception>
    public Sampling Sampling
    {
        get => _sampling;
        set => _sampling = Defined(value);
    }

    /// <summary>The run's seed; streams per (rank, step, tensor) are derived from it.</summary>
    public ulong Seed { get; set; }

    /// <summary>How the budget of coordinate atoms is set. Default <see cref="BudgetRule.Fixed"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="AtomoCollectives.BudgetRule"/>.</exception>
    public BudgetRule BudgetRule
    {
        get => _budgetRule;
        set => _budgetRule = Defined(value);
    }

    /// <summary>
    /// Coordinate atoms are sparsified in buckets of this many consecutive entries, each with its own water
    /// level (and, for TernGrad and QSGD, its own budget). 0 means the whole tensor is one bucket.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int BucketSize
    {
        get => _bucketSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _bucketSize = value;
        }
    }

    /// <summary>
    /// With <see cref="Decomposition.Fourier"/>: the length B of the blocks whose DCT-II gives the atoms (a power of two
    /// from 8 to 1024), or 0 for one DCT-II of the whole flattened tensor. Blocks cost about one read and one write of the
    /// tensor on every CPU with a decode kernel of the library's own (bitwise the same everywhere); the whole-tensor DCT
    /// costs O(log n) passes on FFTW (docs/fourier-atoms.md has both, and what each does to the variance on real
    /// gradients). Default 32.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Neither 0 nor a power of two from 8 to 1024.</exception>
    public int FourierBlockLength
    {
        get => _fourierBlockLength;
        set
        {
            if (value != 0 && !Decompositions.BlockCosineTransform.IsValidBlockLength(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"The Fourier block length must be 0 (the whole tensor) or a power of two from {Decompositions.BlockCosineTransform.MinimumBlockLength} to {Decompositions.BlockCosineTransform.MaximumBlockLength}.");
            }

            _fourierBlockLength = value;
        }
    }

    /// <summary>How spectral atoms are computed. Default <see cref="SpectralMethod.Fast"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="AtomoCollectives.SpectralMethod"/>.</exception>
    public SpectralMethod SpectralMethod
    {
        get => _spectralMethod;
        set => _spectralMethod = Defined(value);
    }

    /// <summary>
    /// Extra sketch columns beyond ⌈budget⌉ for <see cref="SpectralMethod.Fast"/>. Default 2: what the sketch misses is sent
    /// as residual entries, so a wider sketch buys little (measured on real gradients, docs/spectral-encoder.md).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int Oversampling
    {
        get => _oversampling;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _oversampling = value;
        }
    }

    /// <summary>
    /// Power iterations of a cold sketch for <see cref="SpectralMethod.Fast"/> (two passes over the tensor each; 0 starts
    /// from a random subspace). A warm start adds one per call at no extra pass. Default 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int PowerIterations
    {
        get => _powerIterations;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _powerIterations = value;
        }
    }

    /// <summary>
    /// With <see cref="SpectralMethod.Fast"/>, <see cref="AtomoAllreduce"/> keeps each tensor's sketch basis between
    /// calls and starts the next call's sketch from it (one pass over the gradient instead of 2q + 1, and a subspace
    /// that improves by one power iteration per step). The basis belongs to the tensor's position in the call and is
    /// dropped when that position's shape changes; it shapes only this rank's payload, so estimates stay exactly
    /// unbiased and identical on every rank. <see cref="AtomoCodec"/> alone always starts cold. Default on.
    /// </summary>
    public bool SpectralWarmStart { get; set; } = true;

    /// <summary>How spectral atoms' vectors are sent. Default <see cref="ValuePrecision.Float32"/> (exactly unbiased).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="ValuePrecision"/>.</exception>
    public ValuePrecision SpectralPrecision
    {
        get => _spectralPrecision;
        set => _spectralPrecision = Defined(value);
    }

    /// <summary>
    /// With <see cref="Decomposition.Spectral"/>, tensors whose matrix view has fewer rows or columns than this use
    /// coordinate atoms instead (a thin matrix has nothing to gain from rank-1 atoms). Default 8.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 2.</exception>
    public int SpectralMinimumDimension
    {
        get => _spectralMinimumDimension;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 2);
            _spectralMinimumDimension = value;
        }
    }

    /// <summary>The first this many steps of a collective are averaged densely (exactly). Default 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int DenseWarmupSteps
    {
        get => _denseWarmupSteps;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _denseWarmupSteps = value;
        }
    }

    /// <summary>Tensors with fewer elements than this are averaged densely. Default 1024.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int MinimumCompressedElements
    {
        get => _minimumCompressedElements;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _minimumCompressedElements = value;
        }
    }

    /// <summary>Whether 1-D tensors (biases, norms) are compressed with coordinate atoms; by default they go dense.</summary>
    public bool CompressVectors { get; set; }

    /// <summary>
    /// Send a tensor densely when that is cheaper: always when its compressed exchange would move as many bytes as a
    /// dense ring allreduce, <c>(N−1)·payload ≥ 2(N−1)/N·dense</c> with the payload averaged over ranks; with
    /// <see cref="Routing"/> <see cref="RoutingRule.Time"/> also when the dense route is predicted faster. Default on.
    /// </summary>
    public bool DenseWhenCheaper { get; set; } = true;

    /// <summary>
    /// Whether <see cref="AtomoAllreduce"/> sums within each node first and compresses only what goes between nodes,
    /// the node's ranks splitting the encoding and decoding (docs/node-aware.md). Default <see cref="NodeAwareMode.Auto"/>:
    /// when the communicator groups its ranks into several nodes of several ranks each (<see cref="INodeAwareCommunicator"/>;
    /// <c>ATOMO_RANKS_PER_NODE</c> sets the grouping on one machine).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="NodeAwareMode"/>.</exception>
    public NodeAwareMode NodeAware
    {
        get => _nodeAware;
        set => _nodeAware = Defined(value);
    }

    /// <summary>
    /// The middle level of the node-aware exchange (docs/node-aware.md, "Groups of nodes"): nodes per group. Each
    /// group's nodes gather their payloads, one rank per group decodes the group's sum and compresses it again from fresh
    /// randomness (so the estimate stays unbiased, with the variance of a second compression added), and only the
    /// groups' payloads go to every node: a node receives and decodes about G + M/G payloads instead of M. 0 (default):
    /// groups of round(√M) nodes from 32 nodes on, none below; 1: no groups. No effect unless the exchange is
    /// node-aware.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int NodeGroupSize
    {
        get => _nodeGroupSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _nodeGroupSize = value;
        }
    }

    /// <summary>
    /// How <see cref="DenseWhenCheaper"/> decides (it has no effect when that is off). Default <see cref="RoutingRule.Time"/>;
    /// use <see cref="RoutingRule.Bytes"/> where a run must repeat bitwise.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a member of <see cref="RoutingRule"/>.</exception>
    public RoutingRule Routing
    {
        get => _routing;
        set => _routing = Defined(value);
    }

    /// <summary>
    /// The watchdog of <see cref="AtomoAllreduce"/>: a call that has not completed this long after it started aborts the
    /// whole job (<c>MPI_Abort</c> under MPI; in-process, every rank's call fails) with a message naming the step, the
    /// call and the rank whose watchdog fired. It bounds the wait for a rank that crashed without ending the job, left
    /// early, or stopped calling. Default 10 minutes; <see cref="Timeout.InfiniteTimeSpan"/> disables it. Each rank
    /// uses its own value (it is not part of the options every rank must share).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    [RankLocal]
    public TimeSpan Timeout
    {
        get => _timeout;
        set => _timeout = DenseAllreduceOptions.CheckTimeout(value);
    }

    /// <summary>TernGrad (Wen et al. 2017) as coordinate ATOMO: <c>p_i = |g_i|/‖g‖∞</c> per bucket.</summary>
    /// <param name="bucketSize">Entries per bucket; 0 for the whole tensor.</param>
    public static AtomoOptions TernGrad(int bucketSize = 0) =>
        new() { Decomposition = Decomposition.Coordinate, BudgetRule = BudgetRule.TernGrad, BucketSize = bucketSize };

    /// <summary>1-bit QSGD (Alistarh et al. 2017, s = 1) as coordinate ATOMO: <c>p_i = |g_i|/‖g‖₂</c> per bucket.</summary>
    /// <param name="bucketSize">Entries per bucket; 0 for the whole tensor.</param>
    public static AtomoOptions Qsgd(int bucketSize = 512) =>
        new() { Decomposition = Decomposition.Coordinate, BudgetRule = BudgetRule.Qsgd, BucketSize = bucketSize };

    /// <summary>
    /// <paramref name="value"/> when it is a named member of its enum; otherwise an error listing the valid ones, at once
    /// rather than as a malformed payload on some later call.
    /// </summary>
    internal static T Defined<T>(T value, [System.Runtime.CompilerServices.CallerMemberName] string property = "")
        where T : struct, Enum =>
        Enum.IsDefined(value)
            ? value
            : throw new ArgumentOutOfRangeException(property, value, $"{Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)} is not a {typeof(T).Name}; valid: {string.Join(", ", Enum.GetNames<T>())}.");

    /// <summary>A copy that can be changed without affecting this one.</summary>
    public AtomoOptions Clone() => (AtomoOptions)MemberwiseClone();
}
