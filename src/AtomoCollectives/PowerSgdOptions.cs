namespace AtomoCollectives;

/// <summary>What <see cref="PowerSgdAllreduce"/> does. Setters validate at once; the defaults are the PyTorch hook's.</summary>
public sealed class PowerSgdOptions
{
    private int _rank = 1;
    private int _denseWarmupSteps;
    private double _minimumCompressionRate = 2;
    private TimeSpan _timeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The rank r of each tensor's approximation <c>P·Qᵀ</c>: a tensor whose matrix view is m×n sends <c>(m + n)·r</c>
    /// floats instead of <c>m·n</c>. Typical values are 1 to 4. Default 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int Rank
    {
        get => _rank;
        set
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The rank must be at least 1 (typically 1 to 4).");
            }

            _rank = value;
        }
    }

    /// <summary>
    /// Start each step's power iteration from the previous step's Q of the same tensor (dropped when the tensor's shape
    /// changes), instead of a fresh random Q: one power iteration per step that accumulates over steps. Default on.
    /// </summary>
    public bool WarmStart { get; set; } = true;

    /// <summary>
    /// Add what the last step's approximation left out (this rank's <c>M − P·Qᵀ</c>) to the next step's gradient, so that
    /// nothing is lost, only delayed. PowerSGD is biased; without this it converges worse. Default on.
    /// </summary>
    public bool ErrorFeedback { get; set; } = true;

    /// <summary>The first this many steps average every tensor densely (exactly), without error feedback. Default 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int DenseWarmupSteps
    {
        get => _denseWarmupSteps;
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The dense warm-up must be 0 or more steps.");
            }

            _denseWarmupSteps = value;
        }
    }

    /// <summary>
    /// A tensor is compressed only when its factors are at least this many times smaller than it:
    /// <c>(m + n)·r·rate &lt; m·n</c>; otherwise it goes dense (as do 1-D tensors). Default 2.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1, NaN or infinite (below 1 a tensor would be "compressed" into more floats than it has).</exception>
    public double MinimumCompressionRate
    {
        get => _minimumCompressionRate;
        set
        {
            if (!(value >= 1) || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The minimum compression rate must be a finite number ≥ 1 (default 2).");
            }

            _minimumCompressionRate = value;
        }
    }

    /// <summary>The run's seed: the random initial Q of each tensor is drawn from it, the same on every rank.</summary>
    public ulong Seed { get; set; }

    /// <summary>
    /// The watchdog: a call that has not completed this long after it started aborts the whole job, as
    /// <see cref="AtomoOptions.Timeout"/> does. Default 10 minutes; <see cref="Timeout.InfiniteTimeSpan"/> disables it.
    /// Each rank uses its own value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    [RankLocal]
    public TimeSpan Timeout
    {
        get => _timeout;
        set => _timeout = DenseAllreduceOptions.CheckTimeout(value);
    }

    /// <summary>A copy that can be changed without affecting this one.</summary>
    public PowerSgdOptions Clone() => (PowerSgdOptions)MemberwiseClone();
}
