namespace AtomoCollectives.Examples.Bench;

/// <summary>One way of averaging the gradients: dense <c>MPI_Allreduce</c> (options null) or an <see cref="AtomoAllreduce"/>.</summary>
/// <param name="Name">Short name for the command line, the table and the CSV.</param>
/// <param name="Description">What it is, with its budget.</param>
/// <param name="Options">The collective's options; null for dense.</param>
internal sealed record BenchConfiguration(string Name, string Description, AtomoOptions? Options)
{
    /// <summary>Whether this is the dense baseline.</summary>
    public bool IsDense => Options is null;

    /// <summary>Whether <see cref="RoutingRule.Time"/> routes its tensors.</summary>
    public bool RoutesByTime => Options is { DenseWhenCheaper: true, Routing: RoutingRule.Time };

    /// <summary>How its tensors are routed, for the table and the CSV: <c>time</c>, <c>bytes</c>, or empty for dense.</summary>
    public string Routing => IsDense ? "" : RoutesByTime ? "time" : "bytes";
}

/// <summary>The configurations the benchmark compares.</summary>
internal static class BenchConfigurations
{
    /// <summary>Coordinate and Fourier budgets: atoms per bucket of <see cref="CoordinateBucket"/> entries (1 % of the entries).</summary>
    public const int CoordinateBudget = 10;

    /// <summary>Bucket size for coordinate and Fourier atoms.</summary>
    public const int CoordinateBucket = 1024;

    /// <summary>Bucket size for QSGD and TernGrad (the library's default for QSGD).</summary>
    public const int QuantizerBucket = 512;

    /// <summary>The name of the baseline.</summary>
    public const string Dense = "dense";

    /// <summary>The configuration the goals are stated for.</summary>
    public const string SpectralThree = "atomo-spectral-s3";

    /// <summary>All configurations, dense first.</summary>
    public static IReadOnlyList<BenchConfiguration> All(ulong seed)
    {
        var list = new List<BenchConfiguration>
        {
            new(Dense, "MPI_Allreduce (AllreduceSum) + divide by N", null),
        };
        for (int budget = 1; budget <= 3; budget++)
        {
            list.Add(new($"atomo-spectral-s{budget}", $"spectral ATOMO, budget {budget} rank-1 atoms per matrix (warm-started sketch, residual entries as coordinate atoms, float32)",
                new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = budget, Seed = seed }));
        }

        list.Add(new("atomo-coordinate", $"coordinate ATOMO, {CoordinateBudget} atoms per bucket of {CoordinateBucket} (~1 % of entries)",
            new AtomoOptions { Decomposition = Decomposition.Coordinate, Budget = CoordinateBudget, BucketSize = CoordinateBucket, Seed = seed }));
        list.Add(new("atomo-fourier", $"Fourier (DCT-II) ATOMO, {CoordinateBudget} atoms per bucket of {CoordinateBucket} (~1 % of coefficients)",
            new AtomoOptions { Decomposition = Decomposition.Fourier, Budget = CoordinateBudget, BucketSize = CoordinateBucket, Seed = seed }));
        AtomoOptions qsgd = AtomoOptions.Qsgd(QuantizerBucket);
        qsgd.Seed = seed;
        list.Add(new("qsgd", $"1-bit QSGD as coordinate ATOMO, buckets of {QuantizerBucket}", qsgd));
        AtomoOptions ternGrad = AtomoOptions.TernGrad(QuantizerBucket);
        ternGrad.Seed = seed;
        list.Add(new("terngrad", $"TernGrad as coordinate ATOMO, buckets of {QuantizerBucket}", ternGrad));
        return list;
    }

    /// <summary>The suffix of a configuration routed by bytes when both rules run (<c>--routing both</c>).</summary>
    public const string BytesSuffix = "-bytes";

    /// <summary>Parses <c>--routing</c>: <c>time</c>, <c>bytes</c> or <c>both</c> (time first).</summary>
    /// <exception cref="ArgumentException">Another word.</exception>
    public static IReadOnlyList<RoutingRule> ParseRouting(string text) => text.Trim().ToLowerInvariant() switch
    {
        "time" => [RoutingRule.Time],
        "bytes" => [RoutingRule.Bytes],
        "both" => [RoutingRule.Time, RoutingRule.Bytes],
        _ => throw new ArgumentException($"--routing '{text}' is not time, bytes or both."),
    };

    /// <summary>
    /// The configurations named in <paramref name="names"/> (comma-separated; <c>all</c> or empty for all), in the
    /// canonical order, each ATOMO one under every rule of <paramref name="routing"/> (when there are two, the byte
    /// rule's named with <see cref="BytesSuffix"/>); dense is always included (the speedups are relative to it).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public static IReadOnlyList<BenchConfiguration> Select(string? names, ulong seed, IReadOnlyList<RoutingRule> routing)
    {
        ArgumentNullException.ThrowIfNull(routing);
        return [.. Named(names, seed).SelectMany(c => c.IsDense ? [c] : routing.Select(rule => Routed(c, rule, routing.Count > 1)))];
    }

    private static BenchConfiguration Routed(BenchConfiguration configuration, RoutingRule rule, bool both)
    {
        AtomoOptions options = configuration.Options!.Clone();
        options.Routing = rule;
        return both && rule == RoutingRule.Bytes
            ? new(configuration.Name + BytesSuffix, configuration.Description, options)
            : configuration with { Options = options };
    }

    private static IReadOnlyList<BenchConfiguration> Named(string? names, ulong seed)
    {
        IReadOnlyList<BenchConfiguration> all = All(seed);
        if (string.IsNullOrWhiteSpace(names) || names.Trim() == "all")
        {
            return all;
        }

        var wanted = new HashSet<string>(names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
        foreach (string name in wanted)
        {
            if (!all.Any(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"Unknown configuration '{name}'; known: {string.Join(", ", all.Select(c => c.Name))}.", nameof(names));
            }
        }

        return [.. all.Where(c => c.IsDense || wanted.Contains(c.Name))];
    }
}
