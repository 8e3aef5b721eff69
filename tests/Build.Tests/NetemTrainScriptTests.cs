namespace AtomoCollectives.Build.Tests;

/// <summary>
/// bench/netem-train.sh refuses bad options before it needs root, a namespace or a build, with one line naming the
/// option. (Run lists are checked by the Examples' own parser after the build: tests/Examples.Tests, report-train
/// --check; the emulated training itself is CI's netem-train smoke.)
/// </summary>
public sealed class NetemTrainScriptTests
{
    [Theory]
    [InlineData("--ranks 1", "--ranks '1' must be at least 2")]
    [InlineData("--ranks 2,4", "--ranks '2,4' is not a whole number")]
    [InlineData("--rate fast", "--rate 'fast' is not like 1gbit")]
    [InlineData("--rate 0mbit", "--rate '0mbit' is zero")]
    [InlineData("--model resnet", "--model 'resnet' is not mlp, cnn or mlp-wide")]
    [InlineData("--epochs 0", "--epochs '0' is not a whole number of at least 1")]
    [InlineData("--evaluations-per-epoch x", "--evaluations-per-epoch 'x' is not a whole number of at least 1")]
    [InlineData("--max-steps -3", "--max-steps '-3' is not a whole number")]
    [InlineData("--target-accuracy high", "--target-accuracy 'high' is not a number")]
    [InlineData("--runs \" , \"", "--runs names no compressor")] // double quotes: ProcessStartInfo splits arguments like a C runtime, not a shell
    [InlineData("--steps 3", "unknown option '--steps'")]
    public void BadOptionFailsWithOneLineNamingIt(string arguments, string message)
    {
        (int exitCode, string output, string error) = BenchScript.Run("netem-train.sh", arguments);

        Assert.Equal(1, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("netem-train.sh: error: ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void HelpListsTheReliedOnOptions()
    {
        (int exitCode, string output, string error) = BenchScript.Run("netem-train.sh", "--help");

        Assert.Equal(0, exitCode);
        Assert.Equal("", error);
        foreach (string option in new[] { "--rate R", "--ranks N", "--model M", "--epochs E", "--runs \"LIST\"", "--target-accuracy PCT", "--output DIR", "speedup_to_accuracy=X", "speedup_to_accuracy=none" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }
    }
}
