using AtomoCollectives.Examples.Cli;

namespace AtomoCollectives.Examples.Tests.Cli;

[Collection("Training")]
public sealed class ExamplesCliTests
{
    [Theory]
    [InlineData("", "train")]
    [InlineData("--max-steps 5", "train --max-steps 5")]
    [InlineData("--help", "--help")]
    [InlineData("compare --epochs 1", "compare --epochs 1")]
    [InlineData("demo", "demo")]
    public void NoCommandMeansTrain(string given, string expected)
    {
        string[] args = given.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected.Split(' '), ExamplesCli.WithDefaultCommand(args));
    }

    [Fact]
    public void MissingDataIsOneClearErrorNamingTheInstallCommand()
    {
        var error = new StringWriter();
        TextWriter original = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(1, ExamplesCli.Run(["--data", "/nonexistent/fashion", "--max-steps", "1", "--output", Path.Combine(Path.GetTempPath(), "cli-missing-data")]));
        }
        finally
        {
            Console.SetError(original);
        }

        Assert.StartsWith("error: Fashion-MNIST file train-images-idx3-ubyte[.gz] not found in /nonexistent/fashion", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("apt-get install dataset-fashion-mnist", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("train", "--compressor", "topk")]
    [InlineData("train", "--epochs", "0")]
    [InlineData("train", "--lr", "-1")]
    [InlineData("compare", "--runs", "dense,qsgd:99")]
    public void BadValuesFailBeforeAnyTraining(params string[] args)
    {
        TextWriter original = Console.Error, originalOut = Console.Out;
        Console.SetError(new StringWriter());
        Console.SetOut(new StringWriter());
        try
        {
            Assert.NotEqual(0, ExamplesCli.Run([.. args, "--data", "/nonexistent"]));
        }
        finally
        {
            Console.SetError(original);
            Console.SetOut(originalOut);
        }
    }

    [Theory]
    [InlineData("bench --sets vgg", "error: Unknown gradient set 'vgg'; known: mlp, resnet18, or a capture directory (capture:PATH).")]
    [InlineData("bench --configs dense,zip", "error: Unknown configuration 'zip'; known: dense,")]
    [InlineData("bench model --rate fast", "error: 'fast' is not a rate like 1gbit")]
    [InlineData("bench --sets mlp --output {file}/under-a-file", "error: cannot create the output directory '{file}/under-a-file' (--output): ")]
    public void BenchErrorsAreOneLineAndExitOne(string arguments, string expected)
    {
        string file = Path.GetTempFileName();
        var error = new StringWriter();
        TextWriter original = Console.Error, originalOut = Console.Out;
        Console.SetError(error);
        Console.SetOut(new StringWriter());
        try
        {
            Assert.Equal(1, ExamplesCli.Run(arguments.Replace("{file}", file, StringComparison.Ordinal).Split(' ')));
        }
        finally
        {
            Console.SetError(original);
            Console.SetOut(originalOut);
            File.Delete(file);
        }

        string text = error.ToString();
        Assert.StartsWith(expected.Replace("{file}", file, StringComparison.Ordinal), text, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
    }
}
