namespace AtomoCollectives.Examples.Data;

/// <summary>An IDX file (the MNIST format) that is truncated, corrupt, or not what was expected.</summary>
public sealed class IdxFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public IdxFormatException(string path, string problem)
        : base($"{path}: {problem}")
    {
        Path = path;
    }

    /// <summary>Creates the exception for <paramref name="path"/> with the error that exposed the problem.</summary>
    public IdxFormatException(string path, string problem, Exception innerException)
        : base($"{path}: {problem}", innerException)
    {
        Path = path;
    }

    /// <summary>Creates an empty exception (for serializers and tooling).</summary>
    public IdxFormatException()
    {
        Path = "";
    }

    /// <summary>Creates the exception with a message.</summary>
    public IdxFormatException(string message)
        : base(message)
    {
        Path = "";
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public IdxFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = "";
    }

    /// <summary>The file at fault.</summary>
    public string Path { get; }
}
