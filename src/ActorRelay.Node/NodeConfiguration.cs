using System.Collections;
using System.Globalization;
using System.Text;
using Akka.Configuration;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Builds the node's configuration. Precedence, lowest first: hocon/relay.conf (embedded defaults) &lt;
/// hocon/node.conf (the node process's Akka settings) &lt; the --config file &lt; environment
/// (ACTORRELAY__KEY__SUB_KEY=value → relay.key.sub-key = "value") &lt; command-line options.
/// Each layer is checked before it is used: the file is read strictly (<see cref="HoconText"/>), and in the file and
/// the environment every relay key must be one relay.conf has, holding the kind of value it has there
/// (<see cref="SettingsSchema"/>); a mistake is a <see cref="UsageException"/> of one line naming the key, the
/// variable or the file.
/// </summary>
internal static class NodeConfiguration
{
    public const string EnvironmentPrefix = "ACTORRELAY__";

    /// <summary>The node process's ActorSystem name: akka.tcp://actor-relay@HOST:PORT.</summary>
    public const string SystemName = "actor-relay";

    private static readonly Lazy<SettingsSchema> Reference = new(() => new SettingsSchema(RelaySettings.DefaultConfig()));

    public static SettingsSchema Schema => Reference.Value;

    public static Config Build(NodeOptions options, IDictionary? environment = null)
    {
        // only the relay's serializer reads what arrives over the wire (a library host keeps its own choice)
        var config = RelayProtocolSerializer.NodeOnlyConfig.WithFallback(NodeDefaults()).WithFallback(RelaySettings.DefaultConfig())
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        if (options.ConfigFile is { } file)
        {
            var layer = HoconText.ParseFile(file);
            Schema.Check(layer, file);
            config = layer.WithFallback(config);
        }
        var env = FromEnvironment(environment ?? Environment.GetEnvironmentVariables());
        if (env.Length > 0) config = Parse(env, "environment").WithFallback(config);
        var cli = FromOptions(options);
        if (cli.Length > 0) config = Parse(cli, "command line").WithFallback(config);
        return WithCluster(config);
    }

    /// <summary>
    /// With relay.cluster.seed-nodes set (--seed, the file, the environment), what a relay cluster member needs: the
    /// cluster provider, the seeds as Akka addresses of the node process's system, the relay role. With
    /// relay.cluster.bootstrap enabled the same without seeds: Cluster Bootstrap makes the node join (Program).
    /// </summary>
    public static Config WithCluster(Config config)
    {
        RelaySettings settings;
        try { settings = RelaySettings.From(config); }
        catch (ConfigurationException) { return config; } // the node reports it where it reads its settings
        if (!settings.Clustered) return config;
        if (settings.ClusterBootstrap) return ActorRelay.Cluster.RelayMembership.MemberHocon(settings.ClusterRole).WithFallback(config);
        try { return ActorRelay.Cluster.RelayMembership.Hocon(SystemName, settings.ClusterSeeds, settings.ClusterRole).WithFallback(config); }
        catch (ConfigurationException e) { throw new UsageException(e.Message); }
    }

    /// <summary>
    /// With persistence on and no database named (akka.persistence.*.sql.connection-string empty), the embedded SQLite
    /// file relay.persistence.data-directory/actorrelay-&lt;node-name&gt;.db; the directory is created.
    /// </summary>
    public static Config WithDatabase(Config config)
    {
        if (EmbeddedDatabase(config) is not { } file) return config;
        var directory = Path.GetDirectoryName(file)!;
        try { Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"relay.persistence.data-directory: cannot create {config.GetString("relay.persistence.data-directory", "data")}: {e.Message}");
        }
        var hocon = $"""
            akka.persistence.journal.sql.connection-string = {Quote($"Data Source={file}")}
            akka.persistence.snapshot-store.sql.connection-string = {Quote($"Data Source={file}")}
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(config);
    }

    /// <summary>
    /// The embedded SQLite file of the channel journal, relay.persistence.data-directory/actorrelay-&lt;node-name&gt;.db as a
    /// full path; null when persistence is off or a database is named (akka.persistence.journal.sql.connection-string).
    /// </summary>
    public static string? EmbeddedDatabase(Config config)
    {
        if (!config.GetBoolean("relay.persistence.enabled", false)) return null;
        if (config.GetString("akka.persistence.journal.sql.connection-string", "") is { Length: > 0 }) return null;
        var directory = config.GetString("relay.persistence.data-directory", "data");
        return Path.GetFullPath(Path.Combine(directory, $"actorrelay-{config.GetString("relay.node-name", "relay")}.db"));
    }

    /// <summary>hocon/node.conf, embedded in the node.</summary>
    public static Config NodeDefaults()
    {
        using var stream = typeof(NodeConfiguration).Assembly.GetManifestResourceStream("ActorRelay.Node.node.conf")
            ?? throw new InvalidOperationException("embedded node.conf missing");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    private static Config Parse(string hocon, string where)
    {
        try { return ConfigurationFactory.ParseString(hocon); }
        catch (Exception e) { throw new UsageException($"Invalid setting in {where}: {e.Message}"); }
    }

    /// <summary>ACTORRELAY__PORTS__MIN → relay.ports.min.</summary>
    public static string PathOf(string variable) =>
        "relay." + string.Join('.', variable[EnvironmentPrefix.Length..].Split("__").Select(p => p.ToLowerInvariant().Replace('_', '-')));

    /// <summary>relay.ports.min → ACTORRELAY__PORTS__MIN.</summary>
    public static string VariableOf(string path) =>
        EnvironmentPrefix + string.Join("__", path["relay.".Length..].Split('.').Select(p => p.ToUpperInvariant().Replace('-', '_')));

    /// <summary>
    /// ACTORRELAY__IDLE_TIMEOUT=30s → relay.idle-timeout = "30s"; ACTORRELAY__PORTS__MIN=20000 → relay.ports.min = "20000".
    /// A variable that names no setting of relay.conf, or names a section, is refused, with the closest known variable.
    /// </summary>
    public static string FromEnvironment(IDictionary environment)
    {
        var sb = new StringBuilder();
        foreach (var (variable, value) in environment.Cast<DictionaryEntry>()
                     .Where(e => e.Key is string k && k.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                     .Select(e => ((string)e.Key, e.Value?.ToString() ?? ""))
                     .OrderBy(e => e.Item1, StringComparer.Ordinal))
        {
            var path = PathOf(variable);
            switch (Schema.KindOf(path))
            {
                case null:
                    var near = Schema.Closest(path, Schema.Settings);
                    throw new UsageException($"Unknown environment variable {variable} (no setting {path})" +
                                             (near is null ? "" : $"; did you mean {VariableOf(near)}?"));
                case SettingKind.Section:
                    throw new UsageException($"Environment variable {variable}: {path} is a section, set its keys instead (" +
                                             string.Join(", ", Schema.ChildrenOf(path).Select(c => VariableOf($"{path}.{c}"))) + ")");
            }
            sb.Append(path).Append(" = ").Append(Quote(value)).Append('\n');
        }
        return sb.ToString();
    }

    private static string FromOptions(NodeOptions o)
    {
        var sb = new StringBuilder();
        void Set(string key, string? value) { if (value is not null) sb.Append(key).Append(" = ").Append(Quote(value)).Append('\n'); }
        Set("relay.bind-address", o.Bind);
        Set("relay.advertise-address", o.Advertise);
        Set("relay.transport", o.Transport);
        Set("relay.latch.mode", o.Latch);
        Set("relay.remote.hostname", o.RemoteHost);
        Set("relay.remote.port", o.RemotePort?.ToString(CultureInfo.InvariantCulture));
        if (o.KeepChannels) Set("relay.persistence.keep-channels-on-stop", "on");
        if (o.Metrics is { Count: > 0 } metrics) sb.Append("relay.metrics.listen = [").Append(string.Join(", ", metrics.Select(Quote))).Append("]\n");
        if (o.Ng is { Count: > 0 } ng) sb.Append("relay.ng.listen = [").Append(string.Join(", ", ng.Select(Quote))).Append("]\n");
        if (o.Seeds is { Count: > 0 } seeds) sb.Append("relay.cluster.seed-nodes = [").Append(string.Join(", ", seeds.Select(Quote))).Append("]\n");
        return sb.ToString();
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>
    /// A setting's message (relay.ports.min must be …) with where the value came from, when it came from the
    /// environment (the variable) or the command line (the option): what the user has to change.
    /// </summary>
    public static string Explain(string message, NodeOptions options, IDictionary? environment = null)
    {
        var end = 0;
        while (end < message.Length && (char.IsAsciiLetterLower(message[end]) || char.IsAsciiDigit(message[end]) || message[end] is '.' or '-')) end++;
        var path = message[..end];
        if (!path.StartsWith("relay.", StringComparison.Ordinal)) return message;
        string? option = path switch
        {
            "relay.bind-address" when options.Bind is not null => "--bind",
            "relay.advertise-address" when options.Advertise is not null => "--advertise",
            "relay.transport" when options.Transport is not null => "--transport",
            "relay.latch.mode" when options.Latch is not null => "--latch",
            "relay.remote.hostname" when options.RemoteHost is not null => "--remote-host",
            "relay.remote.port" when options.RemotePort is not null => "--remote-port",
            "relay.cluster.bootstrap.enabled" when options.Seeds is { Count: > 0 } => "--seed", // the seeds that conflict came from --seed
            _ => null,
        };
        if (option is not null) return $"{message} (from {option})";
        var variable = VariableOf(path);
        var env = environment ?? Environment.GetEnvironmentVariables();
        return env.Contains(variable) ? $"{message} (from {variable})" : message;
    }
}
