using System.Collections;
using System.Text;
using Akka.Configuration;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Builds the node's configuration. Precedence, lowest first: hocon/relay.conf (embedded defaults) &lt;
/// hocon/node.conf (the node process's Akka settings) &lt; the --config file &lt; environment
/// (ACTORRELAY__KEY__SUB_KEY=value → relay.key.sub-key = "value") &lt; command-line options.
/// </summary>
internal static class NodeConfiguration
{
    public const string EnvironmentPrefix = "ACTORRELAY__";

    public static Config Build(NodeOptions options, IDictionary? environment = null)
    {
        // only the relay's serializer reads what arrives over the wire (a library host keeps its own choice)
        var config = RelayProtocolSerializer.NodeOnlyConfig.WithFallback(NodeDefaults()).WithFallback(RelaySettings.DefaultConfig())
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        if (options.ConfigFile is { } file)
        {
            if (!File.Exists(file)) throw new UsageException($"Configuration file not found: {file}");
            try { config = ConfigurationFactory.ParseString(File.ReadAllText(file)).WithFallback(config); }
            catch (Exception e) { throw new UsageException($"Invalid configuration file {file}: {e.Message}"); }
        }
        var env = FromEnvironment(environment ?? Environment.GetEnvironmentVariables());
        if (env.Length > 0) config = Parse(env, "environment").WithFallback(config);
        var cli = FromOptions(options);
        if (cli.Length > 0) config = Parse(cli, "command line").WithFallback(config);
        return config;
    }

    /// <summary>
    /// With persistence on and no database named (akka.persistence.*.sql.connection-string empty), the embedded SQLite
    /// file relay.persistence.data-directory/actorrelay-&lt;node-name&gt;.db; the directory is created.
    /// </summary>
    public static Config WithDatabase(Config config)
    {
        if (!config.GetBoolean("relay.persistence.enabled", false)) return config;
        if (config.GetString("akka.persistence.journal.sql.connection-string", "") is { Length: > 0 }) return config;
        var directory = config.GetString("relay.persistence.data-directory", "data");
        try { Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"relay.persistence.data-directory: cannot create {directory}: {e.Message}");
        }
        var file = Path.GetFullPath(Path.Combine(directory, $"actorrelay-{config.GetString("relay.node-name", "relay")}.db"));
        var hocon = $"""
            akka.persistence.journal.sql.connection-string = {Quote($"Data Source={file}")}
            akka.persistence.snapshot-store.sql.connection-string = {Quote($"Data Source={file}")}
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(config);
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

    /// <summary>ACTORRELAY__IDLE_TIMEOUT=30s → relay.idle-timeout = "30s"; ACTORRELAY__PORTS__MIN=20000 → relay.ports.min = "20000".</summary>
    public static string FromEnvironment(IDictionary environment)
    {
        var sb = new StringBuilder();
        foreach (DictionaryEntry e in environment)
        {
            if (e.Key is not string key || !key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal)) continue;
            var path = string.Join('.', key[EnvironmentPrefix.Length..].Split("__").Select(p => p.ToLowerInvariant().Replace('_', '-')));
            sb.Append("relay.").Append(path).Append(" = ").Append(Quote(e.Value?.ToString() ?? "")).Append('\n');
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
        Set("relay.remote.port", o.RemotePort?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (o.KeepChannels) Set("relay.persistence.keep-channels-on-stop", "on");
        if (o.Ng is { Count: > 0 } ng) sb.Append("relay.ng.listen = [").Append(string.Join(", ", ng.Select(Quote))).Append("]\n");
        return sb.ToString();
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>relay.channels from configuration.</summary>
    public static IReadOnlyList<StartupChannel> DeclaredChannels(Config config)
    {
        var list = new List<StartupChannel>();
        var value = config.GetValue("relay.channels");
        if (value is null || value.IsEmpty) return list;
        foreach (var item in value.GetArray())
        {
            var obj = item.GetObject() ?? throw new UsageException("relay.channels entries must be objects { id, left, right, latch }");
            string? Field(string name) => obj.Items.TryGetValue(name, out var v) ? v.GetString() : null;
            var left = Field("left") ?? throw new UsageException("relay.channels entry without left port");
            var right = Field("right") ?? throw new UsageException("relay.channels entry without right port");
            var leftPort = NodeCommandLine.ParsePort(left);
            var rightPort = NodeCommandLine.ParsePort(right);
            var latch = Field("latch") is { } l ? RelaySettings.ParseLatchMode(l) : (LatchMode?)null;
            list.Add(new StartupChannel(Field("id") ?? $"{leftPort}:{rightPort}", leftPort, rightPort, latch));
        }
        return list;
    }
}
