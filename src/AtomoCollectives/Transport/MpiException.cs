namespace AtomoCollectives;

/// <summary>
/// An MPI call failed (with the library's own message from <c>MPI_Error_string</c>), or no usable MPI library
/// could be bound; the message says what to install or set.
/// </summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates an exception for a problem found before or around MPI (no MPI error code).</summary>
    public MpiException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception for a problem found before or around MPI, with its cause.</summary>
    public MpiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for an MPI call that returned <paramref name="errorCode"/>.</summary>
    public MpiException(string message, int errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>Creates an empty exception (for serializers and tooling).</summary>
    public MpiException()
    {
    }

    /// <summary>The MPI error code, or <see langword="null"/> when the failure did not come from an MPI call.</summary>
    public int? ErrorCode { get; }
}
