using System.Diagnostics;

namespace AtomoCollectives.Build.Tests;

/// <summary>Runs a bench/ script with bash from the repository root, for the option-checking tests.</summary>
internal static class BenchScript
{
    /// <summary>Runs <c>bash bench/SCRIPT ARGUMENTS</c>; fails the test if it runs past 30 s (it got past option checking).</summary>
    public static (int ExitCode, string Output, string Error) Run(string script, string arguments)
    {
        var start = new ProcessStartInfo("bash", $"bench/{script} {arguments}")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{script} {arguments} did not exit within 30 s: it got past option checking");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
