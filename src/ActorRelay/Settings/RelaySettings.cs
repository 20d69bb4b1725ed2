using System.Globalization;
using System.Net;
using Akka.Configuration;
using ActorRelay.Control;
using ActorRelay.Latching;
using ActorRelay.Protocol;

namespace ActorRelay.Settings;

/// <summary>Which data path a side uses (relay.transport).</summary>
public enum SideTransport { Socket, AkkaIo }

/// <summary>
/// How <c>socket</c> sides wait for datagrams (relay.socket-engine): relay loops (epoll, batched system calls;
/// Linux x64/arm64), the runtime's socket engine (any OS), or Auto (relay loops where supported).
/// </summary>
public enum SocketEngine { Auto, Epoll, Dotnet }

/// <summary>
/// Every relay setting, read once from the <c>relay</c> HOCON section. hocon/relay.conf (embedded in this assembly)
/// is the one place defaults live: nothing here has a default of its own, every value is read from configuration
/// that falls back to that file. A value that cannot be read fails fast with a <see cref="ConfigurationException"/>
/// naming the key and what is wrong.
/// </summary>
public sealed record RelaySettings
{
    public required string NodeName { get; init; }
    public required SideTransport Transport { get; init; }
    public required IPAddress BindAddress { get; init; }
    public required IPAddress? AdvertiseAddress { get; init; }
    public required int PortMin { get; init; }
    public required int PortMax { get; init; }
    public required int BindAttempts { get; init; }
    public required int MaxChannels { get; init; }
    public required int FileDescriptorsReserved { get; init; }
    public required int MaxDatagram { get; init; }
    public required SocketEngine SocketEngine { get; init; }
    public required int RelayLoops { get; init; }
    /// <summary>The nice value the relay loops ask for (relay.relay-loop-nice); 0: the node's own.</summary>
    public required int RelayLoopNice { get; init; }
    public required TimeSpan MaxQueueDelay { get; init; }
    public required int SocketReceiveBuffer { get; init; }
    public required int SocketSendBuffer { get; init; }
    public required TimeSpan IdleTimeout { get; init; }
    public required TimeSpan SetupTimeout { get; init; }
    public required TimeSpan MaxLifetime { get; init; }
    public required TimeSpan StatsInterval { get; init; }
    public required TimeSpan BindTimeout { get; init; }
    public required TimeSpan CloseTimeout { get; init; }
    public required TimeSpan UnbindTimeout { get; init; }
    public required int RecoveryAttempts { get; init; }
    public required LatchMode LatchMode { get; init; }
    public required TimeSpan LearningWindow { get; init; }
    public required int Probation { get; init; }
    public required int MaxSequenceJump { get; init; }
    public required IReadOnlyList<string> ControlAllow { get; init; }
    public required IReadOnlyList<string> ControlAdministrators { get; init; }
    public required TimeSpan OpenerLostGrace { get; init; }
    /// <summary>relay.control.list-page-size: channels in a ListChannels page that names no Limit (at most the node's largest page).</summary>
    public required int ListPageSize { get; init; }
    public required bool PersistenceEnabled { get; init; }
    public required string PersistenceJournalPlugin { get; init; }
    public required string PersistenceSnapshotPlugin { get; init; }
    public required string PersistenceDataDirectory { get; init; }
    public required TimeSpan PersistenceFlushAfter { get; init; }
    public required int PersistenceBatchSize { get; init; }
    public required int PersistenceSnapshotEvery { get; init; }
    public required bool KeepChannelsOnStop { get; init; }
    public required bool QualityEnabled { get; init; }
    public required IReadOnlyList<string> MetricsListen { get; init; }
    /// <summary>relay.cluster.seed-nodes: "HOST:PORT" or full Akka addresses; empty = the node runs alone.</summary>
    public required IReadOnlyList<string> ClusterSeeds { get; init; }
    public required string ClusterRole { get; init; }
    public required TimeSpan ClusterLoadInterval { get; init; }
    public required string ClusterEntryName { get; init; }
    public required TimeSpan ClusterNodeTimeout { get; init; }
    /// <summary>relay.cluster.drain-keeps-calls: stopping keeps the calls until they end (or the drain's deadline).</summary>
    public required bool DrainKeepsCalls { get; init; }

    /// <summary>True when the node joins a relay cluster (relay.cluster.seed-nodes is set).</summary>
    public bool Clustered => ClusterSeeds.Count > 0;

    public const int MaxUdpPayload = 65507;

    /// <summary>The defaults shipped in hocon/relay.conf (embedded in this assembly).</summary>
    public static Config DefaultConfig()
    {
        using var stream = typeof(RelaySettings).Assembly.GetManifestResourceStream("ActorRelay.relay.conf")
            ?? throw new InvalidOperationException("embedded relay.conf missing");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    /// <summary>The shipped defaults as settings.</summary>
    public static RelaySettings Default => DefaultSettings.Value;
    private static readonly Lazy<RelaySettings> DefaultSettings = new(() => From(DefaultConfig()));

    /// <summary>The latch policy of a side that has no per-channel overrides.</summary>
    public LatchPolicy Latch => new(LatchMode, LearningWindow, Probation, MaxSequenceJump);

    /// <summary>Reads the <c>relay</c> section of a full config (falls back to the shipped defaults).</summary>
    public static RelaySettings From(Config config)
    {
        var r = new Reader(config.WithFallback(DefaultConfig()).GetConfig("relay"));
        var s = new RelaySettings
        {
            NodeName = r.String("node-name"),
            Transport = ParseTransport(r.String("transport")),
            BindAddress = r.Address("bind-address")!,
            AdvertiseAddress = r.Address("advertise-address", optional: true),
            PortMin = r.Int("ports.min", 1, 65535),
            PortMax = r.Int("ports.max", 1, 65535),
            BindAttempts = r.Int("ports.bind-attempts", 1, 1000),
            MaxChannels = r.Int("max-channels", 0, 10_000_000),
            FileDescriptorsReserved = r.Int("file-descriptors-reserved", 0, 10_000_000),
            MaxDatagram = r.Int("max-datagram", 1, MaxUdpPayload),
            SocketEngine = ParseSocketEngine(r.String("socket-engine")),
            RelayLoops = r.Int("relay-loops", 0, 1024),
            RelayLoopNice = r.Int("relay-loop-nice", -20, 19),
            MaxQueueDelay = r.Duration("max-queue-delay"),
            SocketReceiveBuffer = r.Int("socket-receive-buffer", 0, int.MaxValue),
            SocketSendBuffer = r.Int("socket-send-buffer", 0, int.MaxValue),
            IdleTimeout = r.Duration("idle-timeout"),
            SetupTimeout = r.Duration("setup-timeout"),
            MaxLifetime = r.Duration("max-lifetime"),
            StatsInterval = r.Duration("stats-interval"),
            BindTimeout = r.Duration("bind-timeout"),
            CloseTimeout = r.Duration("close-timeout"),
            UnbindTimeout = r.Duration("unbind-timeout"),
            RecoveryAttempts = r.Int("recovery-attempts", 0, 1000),
            LatchMode = ParseLatchMode(r.String("latch.mode")),
            LearningWindow = r.Duration("latch.learning-window"),
            Probation = r.Int("latch.probation", 1, 64),
            MaxSequenceJump = r.Int("latch.max-sequence-jump", 1, 32767),
            ControlAllow = r.List("control.allow"),
            ControlAdministrators = r.List("control.administrators"),
            OpenerLostGrace = r.Duration("control.opener-lost-grace"),
            ListPageSize = r.Int("control.list-page-size", 1, 100_000),
            PersistenceEnabled = r.Bool("persistence.enabled"),
            PersistenceJournalPlugin = r.String("persistence.journal-plugin").Trim(),
            PersistenceSnapshotPlugin = r.String("persistence.snapshot-plugin").Trim(),
            PersistenceDataDirectory = r.String("persistence.data-directory").Trim(),
            PersistenceFlushAfter = r.Duration("persistence.flush-after"),
            PersistenceBatchSize = r.Int("persistence.batch-size", 1, 100_000),
            PersistenceSnapshotEvery = r.Int("persistence.snapshot-every", 1, 1_000_000),
            KeepChannelsOnStop = r.Bool("persistence.keep-channels-on-stop"),
            QualityEnabled = r.Bool("quality.enabled"),
            MetricsListen = r.List("metrics.listen"),
            ClusterSeeds = r.List("cluster.seed-nodes"),
            ClusterRole = r.String("cluster.role").Trim(),
            ClusterLoadInterval = r.Duration("cluster.load-interval"),
            ClusterEntryName = r.String("cluster.entry-name").Trim(),
            ClusterNodeTimeout = r.Duration("cluster.node-timeout"),
            DrainKeepsCalls = r.Bool("cluster.drain-keeps-calls"),
        };
        s.Validate();
        return s;
    }

    /// <summary>Checks what a single key cannot (relations between keys, the platform); throws <see cref="ConfigurationException"/>.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(NodeName)) throw new ConfigurationException("relay.node-name must not be empty");
        if (PortMin < 1 || PortMax > 65535 || PortMin > PortMax)
            throw new ConfigurationException($"relay.ports must satisfy 1 <= min <= max <= 65535, got {PortMin}-{PortMax}");
        if (BindAttempts < 1) throw new ConfigurationException("relay.ports.bind-attempts must be >= 1");
        if (MaxChannels < 0) throw new ConfigurationException("relay.max-channels must be >= 0");
        if (FileDescriptorsReserved < 0) throw new ConfigurationException("relay.file-descriptors-reserved must be >= 0");
        if (MaxDatagram < 1 || MaxDatagram > MaxUdpPayload)
            throw new ConfigurationException($"relay.max-datagram must be in 1..{MaxUdpPayload}, got {MaxDatagram}");
        if (RelayLoops < 0) throw new ConfigurationException($"relay.relay-loops must be >= 0, got {RelayLoops}");
        if (SocketEngine == SocketEngine.Epoll && !global::ActorRelay.RelayLoops.LinuxUdp.Supported)
            throw new ConfigurationException("relay.socket-engine = epoll needs Linux on x64 or arm64; use auto or dotnet");
        if (MaxQueueDelay < TimeSpan.Zero) throw new ConfigurationException("relay.max-queue-delay must be >= 0");
        if (SocketReceiveBuffer < 0 || SocketSendBuffer < 0)
            throw new ConfigurationException("relay.socket-*-buffer must be >= 0");
        if (IdleTimeout < TimeSpan.Zero || SetupTimeout < TimeSpan.Zero || MaxLifetime < TimeSpan.Zero)
            throw new ConfigurationException("relay timeouts must be >= 0");
        if (StatsInterval <= TimeSpan.Zero) throw new ConfigurationException("relay.stats-interval must be > 0");
        if (BindTimeout <= TimeSpan.Zero) throw new ConfigurationException("relay.bind-timeout must be > 0");
        if (CloseTimeout <= TimeSpan.Zero) throw new ConfigurationException("relay.close-timeout must be > 0");
        if (UnbindTimeout <= TimeSpan.Zero) throw new ConfigurationException("relay.unbind-timeout must be > 0");
        if (string.IsNullOrWhiteSpace(ClusterRole)) throw new ConfigurationException("relay.cluster.role must not be empty");
        if (string.IsNullOrWhiteSpace(ClusterEntryName)) throw new ConfigurationException("relay.cluster.entry-name must not be empty");
        if (ClusterLoadInterval <= TimeSpan.Zero) throw new ConfigurationException("relay.cluster.load-interval must be > 0");
        if (ClusterNodeTimeout <= TimeSpan.Zero) throw new ConfigurationException("relay.cluster.node-timeout must be > 0");
        if (RecoveryAttempts < 0) throw new ConfigurationException("relay.recovery-attempts must be >= 0");
        if (LearningWindow < TimeSpan.Zero) throw new ConfigurationException("relay.latch.learning-window must be >= 0");
        if (Probation < 1 || Probation > 64) throw new ConfigurationException($"relay.latch.probation must be in 1..64, got {Probation}");
        if (MaxSequenceJump < 1 || MaxSequenceJump > 32767)
            throw new ConfigurationException($"relay.latch.max-sequence-jump must be in 1..32767, got {MaxSequenceJump}");
        if (OpenerLostGrace < TimeSpan.Zero) throw new ConfigurationException("relay.control.opener-lost-grace must be >= 0");
        if (ListPageSize < 1) throw new ConfigurationException($"relay.control.list-page-size must be >= 1, got {ListPageSize}");
        _ = ControlPolicy; // parses the patterns: a bad one fails here, naming its key
        foreach (var address in MetricsListen)
        {
            try { Metrics.MetricsEndpoint.Parse(address); }
            catch (FormatException e) { throw new ConfigurationException($"relay.metrics.listen: {e.Message}"); }
        }
    }

    /// <summary>Who may use the control plane, and for what (relay.control).</summary>
    public ControlPolicy ControlPolicy => new(ControlAllow, ControlAdministrators);

    /// <summary>HOCON for akka.io.udp derived from these settings (buffer-size = max-datagram + 1).</summary>
    public Config AkkaIoConfig() => ConfigurationFactory.ParseString(AkkaIoHocon(MaxDatagram));

    /// <summary>The Akka.IO buffer sizes that let <paramref name="maxDatagram"/> through intact (one byte more: a full buffer is oversize).</summary>
    public static string AkkaIoHocon(int maxDatagram) =>
        $"akka.io.udp.disabled-buffer-pool.buffer-size = {maxDatagram + 1}\n" +
        $"akka.io.udp.direct-buffer-pool.buffer-size = {maxDatagram + 1}\n";

    public static SideTransport ParseTransport(string value) => value.Trim().ToLowerInvariant() switch
    {
        "socket" => SideTransport.Socket,
        "akka-io" or "akkaio" => SideTransport.AkkaIo,
        _ => throw new ConfigurationException($"relay.transport must be \"socket\" or \"akka-io\", got \"{value}\""),
    };

    public static SocketEngine ParseSocketEngine(string value) => value.Trim().ToLowerInvariant() switch
    {
        "auto" or "" => SocketEngine.Auto,
        "epoll" => SocketEngine.Epoll,
        "dotnet" => SocketEngine.Dotnet,
        _ => throw new ConfigurationException($"relay.socket-engine must be \"auto\", \"epoll\" or \"dotnet\", got \"{value}\""),
    };

    /// <summary>True when socket sides run on relay loops: transport socket, engine epoll, or auto where supported.</summary>
    public bool UsesRelayLoops => Transport == SideTransport.Socket &&
        (SocketEngine == SocketEngine.Epoll || SocketEngine == SocketEngine.Auto && global::ActorRelay.RelayLoops.LinuxUdp.Supported);

    /// <summary>Relay loops to run: the configured count, or one per two processor cores (at least one).</summary>
    public int RelayLoopCount => RelayLoops > 0 ? RelayLoops : Math.Max(1, Environment.ProcessorCount / 2);

    public static LatchMode ParseLatchMode(string value) =>
        Enum.TryParse<LatchMode>(value.Trim().Replace("-", ""), ignoreCase: true, out var m) && Enum.IsDefined(m) && !int.TryParse(value, out _)
            ? m
            : throw new ConfigurationException(
                $"relay.latch.mode must be one of {string.Join(", ", Enum.GetNames<LatchMode>().Select(n => n.ToLowerInvariant()))}, got \"{value}\"");

    /// <summary>Reads typed values of one section; every failure names the key (relay.*) and the value it got.</summary>
    private readonly struct Reader(Config section)
    {
        private string Raw(string key)
        {
            try
            {
                var value = section.GetValue(key);
                if (value is null || value.IsEmpty) throw new ConfigurationException($"relay.{key} is missing");
                if (!value.IsString()) throw new ConfigurationException($"relay.{key} must be a single value, got an object or a list");
                return value.GetString();
            }
            catch (ConfigurationException) { throw; }
            catch (Exception e) { throw new ConfigurationException($"relay.{key} cannot be read: {e.Message}"); }
        }

        public string String(string key) => Raw(key);

        public bool Bool(string key) => Raw(key).Trim().ToLowerInvariant() switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            var v => throw new ConfigurationException($"relay.{key} must be on or off, got \"{v}\""),
        };

        public int Int(string key, int min, int max)
        {
            var raw = Raw(key).Trim();
            if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
                throw new ConfigurationException($"relay.{key} must be a whole number in {min}..{max}, got \"{raw}\"");
            if (v < min || v > max) throw new ConfigurationException($"relay.{key} must be in {min}..{max}, got {raw}");
            return (int)v;
        }

        public TimeSpan Duration(string key)
        {
            var raw = Raw(key).Trim();
            if (raw is "0" or "off") return TimeSpan.Zero;
            try
            {
                return section.GetTimeSpan(key, allowInfinite: false);
            }
            catch (Exception)
            {
                throw new ConfigurationException($"relay.{key} must be a duration such as 500ms, 30s or 2m, got \"{raw}\"");
            }
        }

        /// <summary>A list of strings, or one string of comma-separated entries (what an environment variable can carry).</summary>
        public IReadOnlyList<string> List(string key)
        {
            var value = section.GetValue(key);
            if (value is null || value.IsEmpty) return [];
            try
            {
                if (value.IsString())
                    return value.GetString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                return section.GetStringList(key).Select(v => v.Trim()).Where(v => v.Length > 0).ToList(); // [] reads as empty
            }
            catch (Exception e) when (e is not ConfigurationException)
            {
                throw new ConfigurationException($"relay.{key} must be a list of strings, or one string of comma-separated entries: {e.Message}");
            }
        }

        public IPAddress? Address(string key, bool optional = false)
        {
            var raw = Raw(key).Trim();
            if (optional && raw.Length == 0) return null;
            return IPAddress.TryParse(raw.Trim('[', ']'), out var a)
                ? a
                : throw new ConfigurationException($"relay.{key} must be an IP address, got \"{raw}\"");
        }
    }
}
