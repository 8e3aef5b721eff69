namespace AtomoCollectives.Examples.Data;

/// <summary>A <c>.npy</c> file that is not a little-endian float32 C-order array as <see cref="NpyFile"/> reads it.</summary>
internal sealed class NpyFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="path"/>: the message is "<c>path: problem</c>".</summary>
    public NpyFormatException(string path, string problem)
        : base($"{path}: {problem}")
    {
        Path = path;
    }

    /// <summary>The file at fault.</summary>
    public string Path { get; }
}
