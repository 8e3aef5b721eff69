using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AtomoCollectives.Diagnostics;

/// <summary>
/// Where the library writes its log lines (which linear algebra provider is active and why, and similar
/// one-off decisions). Set <see cref="LoggerFactory"/> once at start-up, before the first collective or codec call.
/// </summary>
public static class AtomoLogging
{
    private static ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;

    /// <summary>The factory the library creates its loggers from. Default: a factory that discards everything.</summary>
    /// <exception cref="ArgumentNullException">Set to <see langword="null"/>.</exception>
    public static ILoggerFactory LoggerFactory
    {
        get => Volatile.Read(ref _loggerFactory);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            Volatile.Write(ref _loggerFactory, value);
        }
    }

    internal static ILogger CreateLogger(string category) => LoggerFactory.CreateLogger(category);
}
