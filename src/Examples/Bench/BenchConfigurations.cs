namespace AtomoCollectives.Examples.Bench;

/// <summary>
/// One way of averaging the gradients: dense <c>MPI_Allreduce</c> (both options null), a <see cref="DenseAllreduce"/>
/// (<paramref name="DenseOptions"/>) or an <see cref="AtomoAllreduce"/> (<paramref name="Options"/>).
/// </summary>
/// <param name="Name">Short name for the command line, the table and the CSV.</param>
/// <param name="Description">What it is, with its budget.</param>
/// <param name="Options">The collective's options; null for dense.</param>
/// <param name="DenseOptions">The options of a <see cref="DenseAllreduce"/>, for a dense configuration other than the baseline.</param>
/// <param name="InPieces">Dense <c>MPI_Allreduce</c> over one flat buffer of every tensor in the library's pieces, instead of per tensor.</param>
internal sealed record BenchConfiguration(string Name, string Description, AtomoOptions? Options, DenseAllreduceOptions? DenseOptions = null, bool InPieces = false)
{
    /// <summary>Whether this configuration compresses nothing.</summary>
    public bool IsDense => Options is null;

    /// <summary>Whether this is the baseline, <c>MPI_Allreduce</c> per tensor (always run: speedups are relative to it).</summary>
    public bool IsBaseline => Options is null && DenseOptions is null && !InPieces;

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

    /// <summary>The node-aware dense baseline (docs/node-aware.md).</summary>
    public const string DenseNode = "dense-node";

    /// <summary>Dense over one flat buffer in pieces of 10⁶ floats, as a loop that buckets its gradients would; run only when named.</summary>
    public const string DensePieces = "dense-pieces";

    /// <summary>Whether the configuration named <paramref name="config"/> compresses nothing (a result's name, as read back from a CSV).</summary>
    public static bool IsDenseName(string config) => config is Dense or DenseNode or DensePieces;

    /// <summary>The configuration the goals are stated for.</summary>
    public const string SpectralThree = "atomo-spectral-s3";

    /// <summary>It with the flat exchange whatever the grouping, to compare with the node-aware one; run only when named.</summary>
    public const string SpectralThreeFlat = "atomo-spectral-s3-flat";

    /// <summary>All configurations, dense first.</summary>
    public static IReadOnlyList<BenchConfiguration> All(ulong seed)
    {
        var list = new List<BenchConfiguration>
        {
            new(Dense, "MPI_Allreduce (AllreduceSum) + divide by N", null),
            new(DenseNode, "node-aware dense: sum within each node, allreduce 1/k of it on each of the node's k rails, share it within the node (dense on one node; ATOMO_RANKS_PER_NODE groups ranks into nodes)",
                null, new DenseAllreduceOptions { NodeAware = NodeAwareMode.Auto }),
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

    /// <summary>Configurations run only when named (not part of <c>all</c>).</summary>
    public static IReadOnlyList<BenchConfiguration> NamedOnly(ulong seed) =>
    [
        new(DensePieces, "MPI_Allreduce (AllreduceSum) over one flat buffer of every tensor, in the library's pieces of 10^6 floats, + divide by N: a loop whose gradients already lie in one buffer (no copies)",
            null, InPieces: true),
        new(SpectralThreeFlat, "spectral ATOMO, budget 3, flat exchange (NodeAware = Off) even when ranks are grouped into nodes",
            new AtomoOptions { Decomposition = Decomposition.Spectral, Budget = 3, Seed = seed, NodeAware = NodeAwareMode.Off }),
    ];

    /// <summary>The suffix of a configuration routed by bytes when both rules run (<c>--routing both</c>).</summary>
    public const string BytesSuffix = "-bytes";

    /// <summary>A configuration's name without <see cref="BytesSuffix"/>: the one a twin routed by bytes was made from.</summary>
    public static string WithoutBytesSuffix(string config) =>
        config.EndsWith(BytesSuffix, StringComparison.Ordinal) ? config[..^BytesSuffix.Length] : config;

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
    /// The configurations named in <paramref name="names"/> (comma-separated; <c>all</c> or empty for all but the
    /// <see cref="NamedOnly"/> ones), in the canonical order, each ATOMO one under every rule of <paramref name="routing"/>
    /// (when there are two, the byte rule's named with <see cref="BytesSuffix"/>); the baseline dense is always included
    /// (the speedups are relative to it).
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
            ? configuration with { Name = configuration.Name + BytesSuffix, Options = options }
            : configuration with { Options = options };
    }

    private static IReadOnlyList<BenchConfiguration> Named(string? names, ulong seed)
    {
        if (string.IsNullOrWhiteSpace(names) || names.Trim() == "all")
        {
            return All(seed);
        }

        IReadOnlyList<BenchConfiguration> all = [.. All(seed), .. NamedOnly(seed)];

        var wanted = new HashSet<string>(names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
        foreach (string name in wanted)
        {
            if (!all.Any(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException($"Unknown configuration '{name}'; known: {string.Join(", ", all.Select(c => c.Name))}.", nameof(names));
            }
        }

        return [.. all.Where(c => c.IsBaseline || wanted.Contains(c.Name))];
    }
}
