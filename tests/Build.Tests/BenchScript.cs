using System.Diagnostics;

namespace AtomoCollectives.Build.Tests;

/// <summary>Runs a bench/ script with bash from the repository root, for the option-checking tests, or functions of its library bench/lib/netem-link.sh.</summary>
internal static class BenchScript
{
    /// <summary>Runs <c>bash bench/SCRIPT ARGUMENTS</c>; fails the test if it runs past 30 s (it got past option checking).</summary>
    public static (int ExitCode, string Output, string Error) Run(string script, string arguments) =>
        Start(new ProcessStartInfo("bash", $"bench/{script} {arguments}"), $"{script} {arguments} did not exit within 30 s: it got past option checking");

    /// <summary>
    /// Runs <paramref name="commands"/> with bash after sourcing bench/lib/netem-link.sh as netem.sh does, for its
    /// functions that read the bench's CSV and the link counters; fails the test if it runs past 30 s.
    /// </summary>
    public static (int ExitCode, string Output, string Error) RunWithNetemLibrary(string commands) =>
        Start(new ProcessStartInfo("bash") { ArgumentList = { "-c", $"NETEM_SCRIPT=netem.sh; source bench/lib/netem-link.sh\n{commands}" } }, $"bash did not run these within 30 s: {commands}");

    private static (int ExitCode, string Output, string Error) Start(ProcessStartInfo start, string timeoutMessage)
    {
        start.WorkingDirectory = Repository.Root;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail(timeoutMessage);
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
