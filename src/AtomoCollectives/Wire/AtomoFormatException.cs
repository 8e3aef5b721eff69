namespace AtomoCollectives;

/// <summary>A payload's bytes are malformed: truncated, corrupted, or not a payload for this tensor.</summary>
public sealed class AtomoFormatException : Exception
{
    /// <summary>A format error naming the offending field.</summary>
    public AtomoFormatException(string field, string problem)
        : base($"Malformed ATOMO payload: {field}: {problem}")
    {
        Field = field;
    }

    /// <summary>A format error without a field.</summary>
    public AtomoFormatException()
        : this("payload", "malformed")
    {
    }

    /// <summary>A format error with a free-form message.</summary>
    public AtomoFormatException(string message)
        : base(message)
    {
        Field = "payload";
    }

    /// <summary>A format error with a free-form message and its cause.</summary>
    public AtomoFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = "payload";
    }

    /// <summary>The field of the payload that was found malformed.</summary>
    public string Field { get; } = "payload";
}
