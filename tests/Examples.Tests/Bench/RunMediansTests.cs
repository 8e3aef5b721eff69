using AtomoCollectives.Examples.Bench;

namespace AtomoCollectives.Examples.Tests.Bench;

public class RunMediansTests
{
    [Theory]
    [InlineData(new[] { 3.0 }, 3.0)]
    [InlineData(new[] { 5.0, 1.0, 3.0 }, 3.0)]
    [InlineData(new[] { 4.0, 1.0, 3.0, 2.0 }, 2.5)]
    [InlineData(new[] { 2.0, double.NaN, 4.0 }, 3.0)]
    public void The_median_is_the_middle_value_of_the_finite_ones(double[] values, double expected) =>
        Assert.Equal(expected, RunMedians.Median(values));

    [Fact]
    public void The_median_of_no_finite_value_is_NaN() =>
        Assert.True(double.IsNaN(RunMedians.Median([double.NaN, double.PositiveInfinity])));

    [Fact]
    public void One_run_is_its_own_median()
    {
        BenchRunFiles run = Run("a", stepSeconds: 0.2, calibrationSeconds: 0.01, route: "Compressed", payload: 100);
        Assert.Same(run, RunMedians.Of([run]));
    }

    [Fact]
    public void Every_timing_is_the_median_over_the_runs()
    {
        BenchRunFiles median = RunMedians.Of([
            Run("a", stepSeconds: 0.30, calibrationSeconds: 0.012, route: "Compressed", payload: 100, encodeSeconds: 0.05),
            Run("b", stepSeconds: 0.10, calibrationSeconds: 0.020, route: "Compressed", payload: 300, encodeSeconds: double.NaN),
            Run("c", stepSeconds: 0.20, calibrationSeconds: 0.010, route: "Compressed", payload: 200, encodeSeconds: 0.07),
        ]);

        ConfigResult result = Assert.Single(median.Results);
        Assert.Equal(0.20, result.StepSeconds);
        Assert.Equal(0.06, result.IsolatedEncodeSeconds, 12);   // the two runs that measured it
        Assert.Equal("atomo-spectral-s3", result.Config);
        Assert.Equal(0.012, Assert.Single(median.Calibration).Seconds);
        Assert.Equal(200, Assert.Single(median.Tensors).PayloadBytes);
        Assert.Equal("medians of 3 runs (a, b, c)", median.Source);
    }

    [Fact]
    public void A_tensor_takes_the_route_most_runs_took_and_their_median_payload()
    {
        TensorResult tensor = Assert.Single(RunMedians.Of([
            Run("a", stepSeconds: 0.1, calibrationSeconds: 0.01, route: "DenseFaster", payload: 0),
            Run("b", stepSeconds: 0.1, calibrationSeconds: 0.01, route: "Compressed", payload: 500),
            Run("c", stepSeconds: 0.1, calibrationSeconds: 0.01, route: "Compressed", payload: 300),
        ]).Tensors);

        Assert.Equal("Compressed", tensor.Route);
        Assert.Equal(400, tensor.PayloadBytes);
    }

    [Fact]
    public void Runs_of_different_commands_are_refused_naming_what_differs()
    {
        BenchRunFiles a = Run("a", stepSeconds: 0.1, calibrationSeconds: 0.01, route: "Compressed", payload: 1);
        BenchRunFiles b = Run("b", stepSeconds: 0.1, calibrationSeconds: 0.01, route: "Compressed", payload: 1) is var run
            ? run with { Results = [.. run.Results.Select(r => r with { Config = "qsgd" })] }
            : throw new InvalidOperationException();

        var error = Assert.Throws<ArgumentException>(() => RunMedians.Of([a, b]));
        Assert.Contains("configurations differ", error.Message, StringComparison.Ordinal);
        Assert.Contains("atomo-spectral-s3", error.Message, StringComparison.Ordinal);
        Assert.Contains("not runs of one bench command", error.Message, StringComparison.Ordinal);
    }

    private static BenchRunFiles Run(string source, double stepSeconds, double calibrationSeconds, string route, double payload, double encodeSeconds = double.NaN) => new(
        source,
        [new ConfigResult("10gbit-2nodes", "resnet18", "atomo-spectral-s3", 8, 25, stepSeconds, stepSeconds / 2, 0.01, stepSeconds / 2, 0.01, 1e6, 8e7, 1e6, 11_689_512, 0, 62, 21, 0.004, encodeSeconds, Routing: "time")],
        [new TensorResult("10gbit-2nodes", "resnet18", "atomo-spectral-s3", 8, 0, "conv1", "64x147", 9408, route, payload)],
        [new CalibrationPoint("10gbit-2nodes", 8, 1024, calibrationSeconds, CalibrationLevel.Rail, 2)]);
}
