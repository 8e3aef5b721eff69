using System.Management.Automation.Language;
using System.Text.RegularExpressions;

namespace AtomoCollectives.Build.Tests;

/// <summary>
/// build.ps1 cannot be run here (no pwsh), so it is parsed with PowerShell's own parser, and each task's
/// <c>dotnet</c> command lines are read from the syntax tree and compared with README.md's "Build script" table.
/// </summary>
public sealed partial class BuildScriptTests
{
    private static readonly string[] ExpectedTasks = ["Restore", "Build", "Test", "Pack", "Run", "Bench"];

    private static string RepositoryRoot => Repository.Root;

    private static string BuildScriptPath => Path.Combine(RepositoryRoot, "build.ps1");

    [Fact]
    public void BuildScript_ParsesWithoutErrors()
    {
        BuildScript script = BuildScript.Parse(BuildScriptPath); // throws with every error's line and message
        Assert.NotNull(script.Ast.ParamBlock);
    }

    public static TheoryData<string, string, string> Breakages => new()
    {
        { "unclosed function body", "function Invoke-Test {", "function Invoke-Test {{" },
        { "missing closing brace at the end", "    Pop-Location\n}", "    Pop-Location\n" },
        { "unterminated string", "'dotnet restore'", "'dotnet restore" },
        { "unclosed param block", "    [string] $BenchFilter = '*SparsifierBenchmarks*'\n)", "    [string] $BenchFilter = '*SparsifierBenchmarks*'\n" },
    };

    /// <summary>The check above is real: a copy of build.ps1 with one deliberate mistake must be rejected.</summary>
    [Theory]
    [MemberData(nameof(Breakages))]
    public void ParseCheck_RejectsABrokenCopy(string breakage, string original, string broken)
    {
        string text = File.ReadAllText(BuildScriptPath).ReplaceLineEndings("\n");
        Assert.Contains(original, text, StringComparison.Ordinal);
        string path = Path.Combine(Path.GetTempPath(), $"build-broken-{Guid.NewGuid():N}.ps1");
        try
        {
            File.WriteAllText(path, ReplaceFirst(text, original, broken));
            var error = Assert.Throws<BuildScriptParseException>(() => BuildScript.Parse(path));
            Assert.True(error.Errors.Count > 0, $"{breakage}: no parse error reported");
            Assert.Contains("parse error", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Tasks_AreRestoreBuildTestPackRunBench_EachWithItsFunction()
    {
        BuildScript script = BuildScript.Parse(BuildScriptPath);
        Assert.Equal(ExpectedTasks, script.TaskNames());
        Assert.All(ExpectedTasks, task => Assert.NotNull(script.Function($"Invoke-{task}")));
    }

    [Fact]
    public void EveryParameter_HasADefault()
    {
        BuildScript script = BuildScript.Parse(BuildScriptPath);
        Assert.Contains(script.Parameters, p => p.Name.VariablePath.UserPath == "Ranks");
        Assert.All(script.Parameters, p => Assert.True(p.DefaultValue is not null, $"-{p.Name.VariablePath.UserPath} has no default"));
    }

    /// <summary>A failing dotnet/mpiexec must end the script with a non-zero exit code: every native call is checked.</summary>
    [Fact]
    public void EveryNativeCommand_IsFollowedByAnExitCodeCheck_AndFailuresExitNonZero()
    {
        BuildScript script = BuildScript.Parse(BuildScriptPath);
        int checkedCommands = 0;
        foreach (string task in ExpectedTasks)
        {
            StatementAst[] statements = [.. script.Function($"Invoke-{task}")!.Body.EndBlock.Statements];
            for (int i = 0; i < statements.Length; i++)
            {
                if (statements[i] is PipelineAst { PipelineElements: [CommandAst command] } && script.RunsDotnet(command))
                {
                    checkedCommands++;
                    Assert.True(
                        i + 1 < statements.Length && statements[i + 1].Extent.Text.StartsWith("Assert-LastExitCode", StringComparison.Ordinal),
                        $"Invoke-{task}: '{command.Extent.Text}' is not followed by Assert-LastExitCode");
                }
            }
        }

        Assert.Equal(8, checkedCommands); // Restore, Build, Test, Pack (two packages), Run (build + mpiexec), Bench
        Assert.Contains(script.Ast.FindAll(a => a is CatchClauseAst, true).Cast<CatchClauseAst>(),
            c => c.Body.Extent.Text.Contains("exit 1", StringComparison.Ordinal));
        Assert.Contains(script.Ast.FindAll(a => a is AssignmentStatementAst, false).Cast<AssignmentStatementAst>(),
            a => a.Extent.Text.Replace(" ", "", StringComparison.Ordinal) == "$ErrorActionPreference='Stop'");
    }

    public static TheoryData<string> Tasks => [.. ExpectedTasks];

    /// <summary>Each task runs exactly the commands README.md documents for it, in the same order.</summary>
    [Theory]
    [MemberData(nameof(Tasks))]
    public void Task_RunsTheDotnetCommandsTheReadmeDocuments(string task)
    {
        IReadOnlyDictionary<string, IReadOnlyList<string>> documented = ReadmeBuildScriptTable();
        Assert.True(documented.ContainsKey(task), $"README.md's Build script table has no row for {task}");
        string[] expected = documented[task].Select(c => string.Join(' ', Words(c))).ToArray();
        string[] actual = BuildScript.Parse(BuildScriptPath).DotnetCommands(task).Select(w => string.Join(' ', w)).ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ReadmeTable_HasExactlyTheScriptsTasks()
    {
        Assert.Equal(ExpectedTasks, ReadmeBuildScriptTable().Keys.ToArray());
    }

    /// <summary>The renderer sees through a broken command too: a script whose Build runs another command fails.</summary>
    [Fact]
    public void CommandComparison_CatchesADriftedCommand()
    {
        string text = File.ReadAllText(BuildScriptPath).ReplaceLineEndings("\n");
        string path = Path.Combine(Path.GetTempPath(), $"build-drift-{Guid.NewGuid():N}.ps1");
        try
        {
            File.WriteAllText(path, ReplaceFirst(text, "    dotnet build -c $Configuration\n", "    dotnet build -c $Configuration --no-restore\n"));
            string[] actual = BuildScript.Parse(path).DotnetCommands("Build").Select(w => string.Join(' ', w)).ToArray();
            string[] documented = ReadmeBuildScriptTable()["Build"].Select(c => string.Join(' ', Words(c))).ToArray();
            Assert.Equal(["dotnet build -c Release --no-restore"], actual);
            Assert.NotEqual(documented, actual);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BareDoubleDash_IsRejected()
    {
        string text = File.ReadAllText(BuildScriptPath).ReplaceLineEndings("\n");
        string path = Path.Combine(Path.GetTempPath(), $"build-dash-{Guid.NewGuid():N}.ps1");
        try
        {
            File.WriteAllText(path, ReplaceFirst(text, " '--' --filter", " -- --filter"));
            var error = Assert.Throws<InvalidOperationException>(() => BuildScript.Parse(path).DotnetCommands("Bench"));
            Assert.Contains("bare --", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// README.md, section "## Build script": a table whose rows are <c>| `Task` | `command` ... |</c>; every code
    /// span in the second cell is one command.
    /// </summary>
    private static IReadOnlyDictionary<string, IReadOnlyList<string>> ReadmeBuildScriptTable()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot, "README.md")).ReplaceLineEndings("\n");
        Match section = BuildScriptSection().Match(readme);
        Assert.True(section.Success, "README.md has no '## Build script' section");
        var table = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (Match row in TaskRow().Matches(section.Value))
        {
            table[row.Groups["task"].Value] = CodeSpan().Matches(row.Groups["commands"].Value).Select(m => m.Groups["code"].Value).ToList();
        }

        return table;
    }

    /// <summary>A shell command line as words: split on spaces, surrounding quotes removed.</summary>
    private static IEnumerable<string> Words(string command) =>
        command.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.Length >= 2 && (w[0] == '\'' || w[0] == '"') && w[^1] == w[0] ? w[1..^1] : w);

    private static string ReplaceFirst(string text, string original, string replacement)
    {
        int at = text.IndexOf(original, StringComparison.Ordinal);
        Assert.True(at >= 0, $"build.ps1 no longer contains '{original}': update the test");
        return string.Concat(text.AsSpan(0, at), replacement, text.AsSpan(at + original.Length));
    }

    [GeneratedRegex(@"^## Build script\n.*?(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex BuildScriptSection();

    [GeneratedRegex(@"^\|\s*`(?<task>\w+)`\s*\|(?<commands>[^\n]*)\|\s*$", RegexOptions.Multiline)]
    private static partial Regex TaskRow();

    [GeneratedRegex(@"`(?<code>[^`]+)`")]
    private static partial Regex CodeSpan();
}
