using System.Globalization;
using AtomoCollectives.Examples.Hosting;
using Microsoft.Extensions.Logging;

namespace AtomoCollectives.Examples.Training;

/// <summary>How the ranks average their gradients.</summary>
internal enum CompressorKind
{
    Dense,
    AtomoSpectral,
    AtomoCoordinate,
    AtomoFourier,
    Qsgd,
    TernGrad,
    PowerSgd,
}

/// <summary>
/// A compressor and its setting: <c>--budget</c> is spectral atoms per tensor for <c>atomo-spectral</c>, and atoms per
/// bucket of <see cref="BucketSize"/> entries for <c>atomo-coordinate</c> and <c>atomo-fourier</c>; <c>--bits</c> is
/// QSGD's bits per level; <c>--rank</c> is PowerSGD's rank. Written <c>name</c> or <c>name:value</c> in <c>compare --runs</c>,
/// with <c>@time</c> after an ATOMO-family one for the library's default routing (<see cref="ByTime"/>).
/// </summary>
internal sealed record Compressor(CompressorKind Kind, double Budget, int Bits, int Rank = Compressor.DefaultRank, bool ByTime = false)
{
    /// <summary>The suffix that asks an ATOMO-family compressor for <see cref="RoutingRule.Time"/>, the library's default.</summary>
    public const string ByTimeSuffix = "@time";

    /// <summary>Entries per bucket for coordinate, Fourier, TernGrad and QSGD (each bucket has its own scale).</summary>
    public const int BucketSize = 512;

    public static readonly IReadOnlyList<string> Names = ["dense", "atomo-spectral", "atomo-coordinate", "atomo-fourier", "qsgd", "terngrad", "powersgd"];

    /// <summary>The command-line name, e.g. <c>atomo-spectral</c>.</summary>
    public string Name => Names[(int)Kind];

    /// <summary>A short label with the setting, e.g. <c>atomo-spectral s=3</c>, <c>atomo-spectral s=3 by time</c> or <c>qsgd 4-bit</c>.</summary>
    public string Label => (Kind switch
    {
        CompressorKind.AtomoSpectral or CompressorKind.AtomoCoordinate or CompressorKind.AtomoFourier => string.Create(CultureInfo.InvariantCulture, $"{Name} s={Budget:G4}"),
        CompressorKind.Qsgd => $"{Name} {Bits}-bit",
        CompressorKind.PowerSgd => $"{Name} r={Rank}",
        _ => Name,
    }) + (ByTime ? " by time" : "");

    /// <summary>Whether the compressor runs as <see cref="AtomoAllreduce"/>, which routes its tensors: whether it has <see cref="ToAtomoOptions"/>.</summary>
    public bool Routes => ToAtomoOptions(0) is not null;

    /// <summary>The names of the compressors that route (<see cref="Routes"/>), for messages.</summary>
    private static string RoutingNames => string.Join(", ", Enum.GetValues<CompressorKind>()
        .Where(kind => new Compressor(kind, DefaultBudget(kind), DefaultBits).Routes).Select(kind => Names[(int)kind]));

    /// <summary>The default budget of a compressor: 3 spectral atoms per tensor, 10 atoms per 512-entry bucket otherwise.</summary>
    public static double DefaultBudget(CompressorKind kind) => kind == CompressorKind.AtomoSpectral ? 3 : 10;

    public const int DefaultBits = 4;

    /// <summary>PowerSGD's default rank (the hook's).</summary>
    public const int DefaultRank = 1;

    /// <summary>Parses a name; <paramref name="budget"/>, <paramref name="bits"/> and <paramref name="rank"/> override the defaults.</summary>
    /// <exception cref="ArgumentException">Unknown name, a budget that is not positive, bits outside 1–15, or a rank below 1.</exception>
    public static Compressor Create(string name, double? budget, int? bits, int? rank = null)
    {
        int index = Names.ToList().IndexOf(name.Trim().ToLowerInvariant());
        if (index < 0)
        {
            throw new ArgumentException($"Unknown compressor '{name}'. Use one of: {string.Join(", ", Names)}.", nameof(name));
        }

        var kind = (CompressorKind)index;
        double chosenBudget = budget ?? DefaultBudget(kind);
        if (!(chosenBudget > 0) || double.IsInfinity(chosenBudget))
        {
            throw new ArgumentException($"The budget must be a positive number, not {chosenBudget.ToString(CultureInfo.InvariantCulture)}.", nameof(budget));
        }

        int chosenBits = bits ?? DefaultBits;
        if (chosenBits is < 1 or > 15)
        {
            throw new ArgumentException($"QSGD takes 1 to 15 bits per level, not {chosenBits}.", nameof(bits));
        }

        int chosenRank = rank ?? DefaultRank;
        if (chosenRank < 1)
        {
            throw new ArgumentException($"PowerSGD's rank must be at least 1 (typically 1 to 4), not {chosenRank}.", nameof(rank));
        }

        return new Compressor(kind, chosenBudget, chosenBits, chosenRank);
    }

    /// <summary>
    /// Parses <c>name</c> or <c>name:value</c> (value = budget; bits for qsgd; the rank for powersgd), either followed by
    /// <c>@time</c> for an ATOMO-family compressor routed by time.
    /// </summary>
    /// <exception cref="ArgumentException">The text does not name a compressor, its value is invalid, or it asks a compressor that does not route for <c>@time</c>.</exception>
    public static Compressor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.EndsWith(ByTimeSuffix, StringComparison.OrdinalIgnoreCase))
        {
            Compressor routed = Parse(trimmed[..^ByTimeSuffix.Length]);
            return routed.ByTime ? throw new ArgumentException($"'{text}': {ByTimeSuffix} is given twice.", nameof(text))
                : routed.Routes ? routed with { ByTime = true }
                : throw new ArgumentException($"'{text}': {ByTimeSuffix} routes an ATOMO-family compressor ({RoutingNames}) by time; {routed.Name} has no routes.", nameof(text));
        }

        string[] parts = text.Split(':', 2);
        if (parts.Length == 1)
        {
            return Create(parts[0], null, null);
        }

        bool isQsgd = parts[0].Trim().Equals("qsgd", StringComparison.OrdinalIgnoreCase);
        bool isPowerSgd = parts[0].Trim().Equals("powersgd", StringComparison.OrdinalIgnoreCase);
        bool integer = isQsgd || isPowerSgd;
        if (!double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || (integer && (value != Math.Floor(value) || Math.Abs(value) > int.MaxValue)))
        {
            throw new ArgumentException($"'{text}': the part after ':' must be a number ({(isQsgd ? "bits, an integer" : isPowerSgd ? "the rank, an integer" : "the budget")}).", nameof(text));
        }

        return isQsgd ? Create(parts[0], null, (int)value) : isPowerSgd ? Create(parts[0], null, null, (int)value) : Create(parts[0], value, null);
    }

    /// <summary>
    /// The averager this compressor names, over <paramref name="world"/>; <paramref name="seed"/> seeds its draws. The one
    /// line a training loop changes to swap compressors.
    /// </summary>
    public IGradientAverager CreateAverager(ICommunicator world, ulong seed) => Kind switch
    {
        CompressorKind.Dense => new DenseAllreduce(world, null, ExampleLogging.Factory.CreateLogger<DenseAllreduce>()),
        CompressorKind.Qsgd => new QsgdAverager(world, Bits, BucketSize, seed),
        CompressorKind.PowerSgd => new PowerSgdAllreduce(world, new PowerSgdOptions { Rank = Rank, Seed = seed }, ExampleLogging.Factory.CreateLogger<PowerSgdAllreduce>()),
        _ => new AtomoAllreduce(world, ToAtomoOptions(seed)!, ExampleLogging.Factory.CreateLogger<AtomoAllreduce>()),
    };

    /// <summary>
    /// Parses a run list (<c>compare --runs</c>, <c>bench/netem-train.sh --runs</c>): entries of <see cref="Parse"/>,
    /// separated by spaces or commas; each at most once, since each run gets its own <see cref="DirectoryName"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An entry is invalid, or two entries are the same run.</exception>
    public static Compressor[] ParseList(string text)
    {
        Compressor[] compressors = [.. text.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).Select(Parse)];
        if (compressors.GroupBy(c => c.Label).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ArgumentException($"'{twice.Key}' is given more than once in the run list '{text}'.", nameof(text));
        }

        return compressors;
    }

    /// <summary>The run's directory name under <c>compare --output</c>: the label with anything but letters, digits and '-' as '_'.</summary>
    public string DirectoryName => string.Concat(Label.Select(c => char.IsLetterOrDigit(c) || c == '-' ? c : '_'));

    /// <summary>The library options for the ATOMO-family compressors, routed by <see cref="RoutingRule.Bytes"/> (by <see cref="RoutingRule.Time"/> with <see cref="ByTime"/>); <see langword="null"/> for dense, QSGD and PowerSGD.</summary>
    public AtomoOptions? ToAtomoOptions(ulong seed)
    {
        AtomoOptions? options = Kind switch
        {
            CompressorKind.AtomoSpectral => new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = Budget },
            CompressorKind.AtomoCoordinate => new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = Budget, BucketSize = BucketSize },
            CompressorKind.AtomoFourier => new AtomoOptions { Decomposition = Decomposition.Fourier, Budget = Budget, BucketSize = BucketSize },
            CompressorKind.TernGrad => AtomoOptions.TernGrad(BucketSize),
            _ => null,
        };
        if (options is not null)
        {
            options.Seed = seed;

            // A training run repeats bit for bit (same seed, same run; a resumed run ends as one that went through), so
            // that compressors compare on their estimates alone: routes by bytes, not by the machine's timings. By time
            // (the library's default, what a caller who swaps one call gets) on request: its trials and routes follow
            // the machine, so its runs do not repeat bit for bit (every rank still ends alike).
            options.Routing = ByTime ? RoutingRule.Time : RoutingRule.Bytes;
        }

        return options;
    }
}
