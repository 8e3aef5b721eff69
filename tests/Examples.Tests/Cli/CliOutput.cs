using AtomoCollectives.Examples.Cli;

namespace AtomoCollectives.Examples.Tests.Cli;

/// <summary>Runs the Examples CLI in-process and captures what it wrote to standard error.</summary>
internal static class CliOutput
{
    /// <summary>Standard error of a run with <paramref name="args"/>, which must exit with 1 (an <c>error:</c> line).</summary>
    public static string ErrorOf(string[] args)
    {
        var error = new StringWriter();
        TextWriter originalOut = Console.Out, originalError = Console.Error;
        Console.SetOut(new StringWriter());
        Console.SetError(error);
        try
        {
            Assert.Equal(1, ExamplesCli.Run(args));
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }

        return error.ToString();
    }
}
