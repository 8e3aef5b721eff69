namespace AtomoCollectives.Build.Tests;

/// <summary>
/// bench/netem.sh refuses bad options before it needs root, a namespace or a build, with one line naming the option:
/// run here with bash, which every CI machine has. (The emulated run itself is CI's netem smoke.)
/// </summary>
public sealed class NetemScriptTests
{
    [Theory]
    [InlineData("--ranks 1", "every N must be at least 2")]
    [InlineData("--ranks 4,1", "every N must be at least 2")]
    [InlineData("--ranks 0", "--ranks '0' is not like 4 or 2,4,8")]
    [InlineData("--ranks 2,,4", "--ranks '2,,4' is not like 4 or 2,4,8")]
    [InlineData("--rate fast", "--rate 'fast' is not like 1gbit")]
    [InlineData("--rate 0gbit", "--rate '0gbit' is zero")]
    [InlineData("--steps 0", "--steps '0' is not a whole number of at least 1")]
    [InlineData("--warmup x", "--warmup 'x' is not a whole number")]
    [InlineData("--sets mlp,vgg", "--sets: 'vgg' is not mlp, resnet18 or a gradient capture directory (no vgg/manifest.json)")]
    [InlineData("--sets capture:/nonexistent/capture", "(no /nonexistent/capture/manifest.json)")]
    [InlineData("--capture-step 0", "--capture-step '0' is not a whole number of at least 1")]
    [InlineData("--configs dense", "--configs must include atomo-spectral-s3")]
    [InlineData("--colour red", "unknown option '--colour'")]
    [InlineData("--nodes 0", "--nodes '0' is not a whole number of at least 1")]
    [InlineData("--nodes two", "--nodes 'two' is not a whole number of at least 1")]
    [InlineData("--nodes 251 --ranks 502", "--nodes '251': at most 250 emulated nodes")]
    [InlineData("--nodes 3 --ranks 4", "--ranks '4': N = 4 does not split evenly over --nodes 3")]
    [InlineData("--nodes 2 --ranks 4,6,7", "--ranks '4,6,7': N = 7 does not split evenly over --nodes 2")]
    [InlineData("--nodes 4 --ranks 2", "--ranks '2': N = 2 is fewer than the 4 nodes (every node needs a rank)")]
    [InlineData("--routing fast", "--routing 'fast' is not time, bytes or both")]
    [InlineData("--nodes 2 --routing Time", "--routing 'Time' is not time, bytes or both")]
    [InlineData("--nodes 2 --node-groups 0", "--node-groups '0' is not a whole number of at least 1")]
    [InlineData("--nodes 2 --node-groups two", "--node-groups 'two' is not a whole number of at least 1")]
    [InlineData("--node-groups 2", "--node-groups needs --nodes above 1")]
    [InlineData("--nodes 2 --intra-node ram", "--intra-node 'ram' is not shm or tcp")]
    [InlineData("--intra-node tcp", "--intra-node needs --nodes above 1")]
    public void BadOptionFailsWithOneLineNamingIt(string arguments, string message)
    {
        (int exitCode, string output, string error) = RunNetem(arguments);

        Assert.Equal(1, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("netem.sh: error: ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void HelpListsTheReliedOnOptions()
    {
        (int exitCode, string output, string error) = RunNetem("--help");

        Assert.Equal(0, exitCode);
        Assert.Equal("", error);
        Assert.Contains("--rate R", output, StringComparison.Ordinal);
        Assert.Contains("--ranks N", output, StringComparison.Ordinal);
        Assert.Contains("--nodes K", output, StringComparison.Ordinal);
        Assert.Contains("--routing time|bytes|both", output, StringComparison.Ordinal);
        Assert.Contains("speedup_vs_dense=X", output, StringComparison.Ordinal);
    }

    private static (int ExitCode, string Output, string Error) RunNetem(string arguments) => BenchScript.Run("netem.sh", arguments);
}
