namespace AtomoCollectives.Tests;

/// <summary>AtomoOptions refuses bad values when they are set, naming what is valid (src/AtomoCollectives/AtomoOptions.cs).</summary>
public class AtomoOptionsTests
{
    public static TheoryData<string, Action<AtomoOptions>> UndefinedEnumValues => new()
    {
        { "Decomposition", o => o.Decomposition = (Decomposition)99 },
        { "Sampling", o => o.Sampling = (Sampling)99 },
        { "BudgetRule", o => o.BudgetRule = (BudgetRule)99 },
        { "SpectralMethod", o => o.SpectralMethod = (SpectralMethod)99 },
        { "SpectralPrecision", o => o.SpectralPrecision = (ValuePrecision)99 },
        { "Routing", o => o.Routing = (RoutingRule)99 },
    };

    [Theory]
    [MemberData(nameof(UndefinedEnumValues))]
    public void Undefined_enum_values_are_refused_when_set(string property, Action<AtomoOptions> set)
    {
        var options = new AtomoOptions();
        AtomoOptions before = options.Clone();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => set(options));
        Assert.Equal(property, error.ParamName);
        Assert.Contains("99 is not a", error.Message, StringComparison.Ordinal);
        Assert.Contains("valid:", error.Message, StringComparison.Ordinal);

        // The refused value did not stick.
        Assert.Equal(before.Decomposition, options.Decomposition);
        Assert.Equal(before.Sampling, options.Sampling);
        Assert.Equal(before.BudgetRule, options.BudgetRule);
        Assert.Equal(before.SpectralMethod, options.SpectralMethod);
        Assert.Equal(before.SpectralPrecision, options.SpectralPrecision);
        Assert.Equal(before.Routing, options.Routing);
    }

    [Fact]
    public void Every_named_value_is_accepted_and_the_defaults_hold()
    {
        var options = new AtomoOptions();
        Assert.Equal(Decomposition.Spectral, options.Decomposition);
        Assert.Equal(SpectralMethod.Fast, options.SpectralMethod);
        Assert.Equal(2, options.Oversampling);
        Assert.True(options.SpectralWarmStart);
        Assert.Equal(RoutingRule.Time, options.Routing);
        foreach (Decomposition value in Enum.GetValues<Decomposition>())
        {
            options.Decomposition = value;
        }

        foreach (ValuePrecision value in Enum.GetValues<ValuePrecision>())
        {
            options.SpectralPrecision = value;
        }

        Assert.Equal(ValuePrecision.BFloat16, options.SpectralPrecision);
    }

    [Fact]
    public void The_timeout_is_positive_or_infinite()
    {
        var options = new AtomoOptions();
        Assert.Equal(TimeSpan.FromMinutes(10), options.Timeout);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Timeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Timeout = TimeSpan.FromSeconds(-1));
        options.Timeout = Timeout.InfiniteTimeSpan;
        options.Timeout = TimeSpan.FromMilliseconds(1);
        Assert.Equal(TimeSpan.FromMilliseconds(1), options.Timeout);
    }
}
