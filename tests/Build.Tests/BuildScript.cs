using System.Globalization;
using System.Management.Automation.Language;
using System.Text.RegularExpressions;

namespace AtomoCollectives.Build.Tests;

/// <summary>
/// Reads build.ps1 with the PowerShell parser (no PowerShell needed) and turns each task's native commands into
/// argument lists, with the parameters' default values substituted.
/// </summary>
internal sealed partial class BuildScript
{
    private readonly Dictionary<string, IReadOnlyList<string>> _defaults;

    private BuildScript(ScriptBlockAst ast)
    {
        Ast = ast;
        _defaults = (ast.ParamBlock?.Parameters ?? [])
            .ToDictionary(p => p.Name.VariablePath.UserPath, p => DefaultOf(p), StringComparer.OrdinalIgnoreCase);
    }

    public ScriptBlockAst Ast { get; }

    /// <summary>Parses <paramref name="path"/>; throws <see cref="BuildScriptParseException"/> listing every parse error.</summary>
    public static BuildScript Parse(string path)
    {
        ScriptBlockAst ast = Parser.ParseFile(path, out _, out ParseError[] errors);
        if (errors.Length > 0)
        {
            throw new BuildScriptParseException(path, errors);
        }

        return new BuildScript(ast);
    }

    /// <summary>The values of <c>[ValidateSet(...)]</c> on the <c>-Task</c> parameter.</summary>
    public IReadOnlyList<string> TaskNames()
    {
        ParameterAst task = Parameters.Single(p => p.Name.VariablePath.UserPath.Equals("Task", StringComparison.OrdinalIgnoreCase));
        AttributeAst validateSet = task.Attributes.OfType<AttributeAst>().Single(a => a.TypeName.Name == "ValidateSet");
        return validateSet.PositionalArguments.Cast<StringConstantExpressionAst>().Select(s => s.Value).ToList();
    }

    public IReadOnlyList<ParameterAst> Parameters => Ast.ParamBlock?.Parameters ?? [];

    public FunctionDefinitionAst? Function(string name) =>
        Ast.FindAll(a => a is FunctionDefinitionAst f && f.Name.Equals(name, StringComparison.OrdinalIgnoreCase), searchNestedScriptBlocks: true)
            .Cast<FunctionDefinitionAst>().SingleOrDefault();

    /// <summary>
    /// The command lines of task <paramref name="task"/> (function <c>Invoke-&lt;task&gt;</c>) that run <c>dotnet</c>,
    /// directly or through a launcher such as <c>&amp; $Mpiexec -n $Ranks dotnet ...</c>, in order, rendered with defaults.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> DotnetCommands(string task)
    {
        FunctionDefinitionAst function = Function($"Invoke-{task}")
            ?? throw new InvalidOperationException($"build.ps1 has no function Invoke-{task} for task {task}.");
        return function.Body.FindAll(a => a is CommandAst, searchNestedScriptBlocks: true)
            .Cast<CommandAst>()
            .Where(RunsDotnet)
            .OrderBy(c => c.Extent.StartOffset)
            .Select(Render)
            .ToList();
    }

    /// <summary>Whether a command runs <c>dotnet</c>: one of its elements is the word <c>dotnet</c>, or a parameter defaulting to it.</summary>
    public bool RunsDotnet(CommandAst command) => command.CommandElements.Any(element => element switch
    {
        StringConstantExpressionAst constant => constant.Value == "dotnet",
        VariableExpressionAst variable => _defaults.TryGetValue(variable.VariablePath.UserPath, out IReadOnlyList<string>? value) && value.Contains("dotnet"),
        _ => false,
    });

    /// <summary>Every command element as the words it passes, with parameter defaults substituted.</summary>
    public IReadOnlyList<string> Render(CommandAst command)
    {
        var words = new List<string>();
        foreach (CommandElementAst element in command.CommandElements)
        {
            if (element.Extent.Text == "--")
            {
                throw new InvalidOperationException($"build.ps1 line {element.Extent.StartLineNumber}: a bare -- is PowerShell's end-of-parameters marker and is not passed to the program; write '--'.");
            }

            switch (element)
            {
                case StringConstantExpressionAst constant:
                    words.Add(constant.Value);
                    break;
                case CommandParameterAst parameter when parameter.Argument is null:
                    words.Add(parameter.Extent.Text);
                    break;
                case VariableExpressionAst variable:
                    words.AddRange(Lookup(variable.VariablePath.UserPath));
                    break;
                case ExpandableStringExpressionAst expandable:
                    words.Add(VariableReference().Replace(expandable.Value, m => string.Join(' ', Lookup(m.Groups["name"].Value))));
                    break;
                case ConstantExpressionAst number:
                    words.Add(Convert.ToString(number.Value, CultureInfo.InvariantCulture) ?? "");
                    break;
                default:
                    throw new InvalidOperationException($"build.ps1 line {element.Extent.StartLineNumber}: cannot render '{element.Extent.Text}' ({element.GetType().Name}).");
            }
        }

        return words;
    }

    private IReadOnlyList<string> Lookup(string name) =>
        _defaults.TryGetValue(name, out IReadOnlyList<string>? value)
            ? value
            : throw new InvalidOperationException($"build.ps1 uses ${name} in a command, which is not a parameter with a default value.");

    private static IReadOnlyList<string> DefaultOf(ParameterAst parameter) => parameter.DefaultValue switch
    {
        null => [],
        StringConstantExpressionAst s => [s.Value],
        ConstantExpressionAst c => [Convert.ToString(c.Value, CultureInfo.InvariantCulture) ?? ""],
        ArrayExpressionAst array => array.SubExpression.Statements
            .SelectMany(statement => statement.FindAll(a => a is StringConstantExpressionAst, searchNestedScriptBlocks: false))
            .Cast<StringConstantExpressionAst>().Select(s => s.Value).ToList(),
        ArrayLiteralAst list => list.Elements.Cast<StringConstantExpressionAst>().Select(s => s.Value).ToList(),
        ExpressionAst other => throw new InvalidOperationException($"build.ps1: cannot evaluate the default of ${parameter.Name.VariablePath.UserPath}: {other.Extent.Text}"),
    };

    [GeneratedRegex(@"\$(\{(?<name>\w+)\}|(?<name>\w+))")]
    private static partial Regex VariableReference();
}

/// <summary>build.ps1 does not parse.</summary>
internal sealed class BuildScriptParseException(string path, IReadOnlyList<ParseError> errors)
    : Exception($"{path} has {errors.Count} PowerShell parse error(s):\n" + string.Join('\n', errors.Select(e => $"  line {e.Extent.StartLineNumber}, column {e.Extent.StartColumnNumber}: {e.Message} ({e.ErrorId})")))
{
    public IReadOnlyList<ParseError> Errors { get; } = errors;
}
