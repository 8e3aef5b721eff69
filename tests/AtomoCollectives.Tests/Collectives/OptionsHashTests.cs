using System.Reflection;

namespace AtomoCollectives.Tests.Collectives;

/// <summary>The options hash every rank compares covers every option by construction, and only the rank-local timeout is left out.</summary>
public class OptionsHashTests
{
    /// <summary>A valid value other than the current one, for each kind of option.</summary>
    private static object Changed(PropertyInfo property, object? current) => current switch
    {
        Enum e => Enum.GetValues(e.GetType()).Cast<object>().First(v => !v.Equals(e)),
        bool b => !b,
        int i => property.Name == nameof(AtomoOptions.FourierBlockLength) ? i * 2 : i + 1, // a power of two stays one
        ulong u => u + 1,
        double d => d + 1,
        _ => throw new InvalidOperationException($"{property.Name}: add a changed value for {property.PropertyType.Name}"),
    };

    private static void EveryOptionChangesTheHash<T>(Func<T> create, string[] expected)
        where T : class
    {
        PropertyInfo[] agreed = [.. OptionsHash.AgreedProperties<T>()];
        Assert.Equal(expected.Order(StringComparer.Ordinal), agreed.Select(p => p.Name));
        long baseline = OptionsHash.Of(create());
        Assert.Equal(baseline, OptionsHash.Of(create()));
        foreach (PropertyInfo property in agreed)
        {
            T options = create();
            property.SetValue(options, Changed(property, property.GetValue(options)));
            Assert.True(OptionsHash.Of(options) != baseline, $"{typeof(T).Name}.{property.Name} does not change the options hash");
        }

        T local = create();
        typeof(T).GetProperty("Timeout")!.SetValue(local, TimeSpan.FromSeconds(7));
        Assert.Equal(baseline, OptionsHash.Of(local));
    }

    [Fact]
    public void Every_AtomoOptions_setting_but_the_timeout_is_agreed() => EveryOptionChangesTheHash(
        () => new AtomoOptions(),
        ["Budget", "BucketSize", "BudgetRule", "CompressVectors", "Decomposition", "DenseWarmupSteps", "DenseWhenCheaper", "FourierBlockLength", "MinimumCompressedElements",
         "NodeAware", "NodeGroupSize", "Oversampling", "PowerIterations", "Routing", "Sampling", "Seed", "SpectralMethod", "SpectralMinimumDimension", "SpectralPrecision", "SpectralWarmStart"]);

    [Fact]
    public void Every_PowerSgdOptions_setting_but_the_timeout_is_agreed() => EveryOptionChangesTheHash(
        () => new PowerSgdOptions(),
        ["DenseWarmupSteps", "ErrorFeedback", "MinimumCompressionRate", "Rank", "Seed", "WarmStart"]);

    [Fact]
    public void Every_DenseAllreduceOptions_setting_but_the_timeout_is_agreed() => EveryOptionChangesTheHash(() => new DenseAllreduceOptions(), ["NodeAware"]);
}
