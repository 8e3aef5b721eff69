using Microsoft.Extensions.Logging;
using NLog;
using NLog.Config;
using NLog.Extensions.Logging;
using NLog.Targets;

namespace AtomoCollectives.Examples.Hosting;

/// <summary>
/// NLog behind <see cref="ILogger"/>: Information and up on the console from rank 0 only, Debug and up in one
/// file per rank (<c>LOGS/rank-N.log</c>). An <c>NLog.config</c> next to <c>Examples.dll</c> replaces these
/// defaults; it can use <c>${gdc:item=logDirectory}</c> and <c>${scopeproperty:item=rank}</c>.
/// </summary>
internal static class ExampleLogging
{
    public const string LogDirectoryItem = "logDirectory";
    public const string RankProperty = "rank";

    private static readonly object Gate = new();
    private static ILoggerFactory? s_factory;

    /// <summary>The process's logger factory; also installed as the library's (<see cref="Diagnostics.AtomoLogging"/>).</summary>
    public static ILoggerFactory Factory
    {
        get
        {
            lock (Gate)
            {
                if (s_factory is null)
                {
                    if (LogManager.Configuration is null)
                    {
                        LogManager.Configuration = DefaultConfiguration();
                    }

                    s_factory = LoggerFactory.Create(builder => builder.ClearProviders().SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Trace).AddNLog());
                    Diagnostics.AtomoLogging.LoggerFactory = s_factory;
                }

                return s_factory;
            }
        }
    }

    /// <summary>Sends the per-rank log files to <paramref name="directory"/> from now on.</summary>
    public static void WriteFilesTo(string directory)
    {
        Directory.CreateDirectory(directory);
        GlobalDiagnosticsContext.Set(LogDirectoryItem, Path.GetFullPath(directory));
        _ = Factory;
        LogManager.ReconfigExistingLoggers();
    }

    /// <summary>Tags everything this thread (and what it starts) logs with <paramref name="rank"/>.</summary>
    public static IDisposable EnterRank(int rank) => ScopeContext.PushProperty(RankProperty, rank);

    /// <summary>Flushes the files; call before the process ends.</summary>
    public static void Flush() => LogManager.Flush();

    private static LoggingConfiguration DefaultConfiguration()
    {
        var configuration = new LoggingConfiguration();
        var console = new ConsoleTarget("console")
        {
            Layout = "${date:format=HH\\:mm\\:ss} ${level:uppercase=true:padding=-5} ${message}${onexception:inner= ${exception:format=message}}",
            StdErr = false,
        };
        var file = new FileTarget("file")
        {
            FileName = "${gdc:item=logDirectory:whenEmpty=logs}/rank-${scopeproperty:item=rank:whenEmpty=0}.log",
            Layout = "${longdate} ${level:uppercase=true:padding=-5} ${logger:shortName=true} ${message}${onexception:inner=${newline}${exception:format=tostring}}",
            KeepFileOpen = true,
        };
        var consoleRule = new LoggingRule("*", NLog.LogLevel.Info, console) { FilterDefaultAction = NLog.Filters.FilterResult.Log };
        consoleRule.Filters.Add(new NLog.Filters.ConditionBasedFilter
        {
            Condition = "'${scopeproperty:item=rank:whenEmpty=0}' != '0'",
            Action = NLog.Filters.FilterResult.Ignore,
        });
        configuration.LoggingRules.Add(consoleRule);
        configuration.AddRule(NLog.LogLevel.Debug, NLog.LogLevel.Fatal, file);
        return configuration;
    }
}
