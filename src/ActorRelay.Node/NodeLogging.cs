using Akka.Configuration;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace ActorRelay.NodeProcess;

/// <summary>
/// The node process's logging, read from relay.logging (hocon/relay.conf, the --config file, ACTORRELAY__LOGGING__…,
/// --log-level), or, when the working directory has an appsettings.json with a "Serilog" section, from that section
/// alone (Serilog.Settings.Configuration: sinks, levels per source, enrichers, as any .NET service is configured).
/// </summary>
internal sealed record NodeLogging(
    LogEventLevel Level,
    bool Json,
    IReadOnlyDictionary<string, LogEventLevel> Levels,
    IConfiguration? AppSettings)
{
    public const string AppSettingsFile = "appsettings.json";

    /// <param name="levelOption">--log-level, which wins over relay.logging.level.</param>
    /// <param name="directory">Where appsettings.json is looked for (the working directory).</param>
    public static NodeLogging From(Config config, string? levelOption, string? directory = null)
    {
        var level = Parse(levelOption ?? config.GetString("relay.logging.level", "information"),
            levelOption is null ? "relay.logging.level" : "--log-level");
        var format = config.GetString("relay.logging.format", "text");
        var json = format switch
        {
            "text" => false,
            "json" => true,
            _ => throw new UsageException($"relay.logging.format must be text or json, got \"{format}\""),
        };
        var levels = new SortedDictionary<string, LogEventLevel>(StringComparer.Ordinal);
        if (config.GetConfig("relay.logging.levels") is { IsEmpty: false } section)
            foreach (var (source, value) in section.AsEnumerable())
                levels[source] = Parse(value.GetString(), $"relay.logging.levels.\"{source}\"");

        var file = Path.Combine(directory ?? Directory.GetCurrentDirectory(), AppSettingsFile);
        IConfiguration? appSettings = null;
        if (File.Exists(file))
        {
            try
            {
                var read = new ConfigurationBuilder().AddJsonFile(file, optional: false).Build();
                if (read.GetSection("Serilog").Exists()) appSettings = read;
            }
            catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
            {
                throw new UsageException($"{file}: {e.Message}");
            }
        }
        return new NodeLogging(level, json, levels, appSettings);
    }

    /// <summary>The least level any source writes at: what Akka must still pass to Serilog.</summary>
    public LogEventLevel Least => Levels.Values.Append(Level).Min();

    public Logger CreateLogger()
    {
        if (AppSettings is not null)
            return new LoggerConfiguration().ReadFrom.Configuration(AppSettings).CreateLogger();

        var c = new LoggerConfiguration().MinimumLevel.Is(Least).Enrich.FromLogContext();
        if (Levels.Count > 0) c = c.Filter.ByIncludingOnly(Admits);
        return (Json
            ? c.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: LogEventLevel.Verbose)
            : c.WriteTo.Console(standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}")).CreateLogger();
    }

    /// <summary>Whether an event is at or above the level of its source (the longest configured prefix of it), else the default.</summary>
    public bool Admits(LogEvent e) => e.Level >= LevelOf(SourceOf(e));

    public LogEventLevel LevelOf(string? source)
    {
        if (source is null) return Level;
        string? best = null;
        foreach (var key in Levels.Keys)
            if (IsUnder(source, key) && (best is null || key.Length > best.Length)) best = key;
        return best is null ? Level : Levels[best];
    }

    /// <summary>"ActorRelay.Ng.NgEndpoint" is under "ActorRelay.Ng" and under itself, not under "ActorRelay.N".</summary>
    internal static bool IsUnder(string source, string key) =>
        source.StartsWith(key, StringComparison.Ordinal) && (source.Length == key.Length || source[key.Length] is '.' or '+' or '`');

    /// <summary>Serilog's SourceContext; for Akka's events (Akka.Logger.Serilog) the logging class when it is a type name.</summary>
    private static string? SourceOf(LogEvent e) =>
        e.Properties.TryGetValue(Constants.SourceContextPropertyName, out var v) && v is ScalarValue { Value: string s } ? s : null;

    public static LogEventLevel Parse(string level, string where) => level.ToLowerInvariant() switch
    {
        "verbose" or "trace" => LogEventLevel.Verbose,
        "debug" => LogEventLevel.Debug,
        "information" or "info" => LogEventLevel.Information,
        "warning" or "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        _ => throw new UsageException($"{where} must be verbose, debug, information, warning or error, got \"{level}\""),
    };

    public static Akka.Event.LogLevel AkkaLevel(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => Akka.Event.LogLevel.DebugLevel,
        LogEventLevel.Information => Akka.Event.LogLevel.InfoLevel,
        LogEventLevel.Warning => Akka.Event.LogLevel.WarningLevel,
        _ => Akka.Event.LogLevel.ErrorLevel,
    };
}
