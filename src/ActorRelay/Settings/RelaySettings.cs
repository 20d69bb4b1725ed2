using System.Net;
using System.Reflection;
using Akka.Configuration;
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
/// Every relay setting, read once from the <c>relay</c> HOCON section (hocon/relay.conf holds the
/// documented defaults). Invalid values fail fast with <see cref="ConfigurationException"/>.
/// </summary>
public sealed record RelaySettings
{
    public string NodeName { get; init; } = "relay";
    public SideTransport Transport { get; init; } = SideTransport.Socket;
    public IPAddress BindAddress { get; init; } = IPAddress.IPv6Any;
    public IPAddress? AdvertiseAddress { get; init; }
    public int PortMin { get; init; } = 10000;
    public int PortMax { get; init; } = 31999;
    public int BindAttempts { get; init; } = 8;
    public int MaxChannels { get; init; }
    public int FileDescriptorsReserved { get; init; } = 512;
    public int MaxDatagram { get; init; } = 1500;
    public SocketEngine SocketEngine { get; init; } = SocketEngine.Auto;
    public int RelayLoops { get; init; }
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public int SocketReceiveBuffer { get; init; }
    public int SocketSendBuffer { get; init; }
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan SetupTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.Zero;
    public TimeSpan StatsInterval { get; init; } = TimeSpan.FromSeconds(1);
    public LatchMode LatchMode { get; init; } = LatchMode.First;
    public TimeSpan LearningWindow { get; init; } = TimeSpan.FromSeconds(3);
    public int Probation { get; init; } = 4;
    public int MaxSequenceJump { get; init; } = 536;

    public const int MaxUdpPayload = 65507;

    /// <summary>The defaults shipped in hocon/relay.conf (embedded in this assembly).</summary>
    public static Config DefaultConfig()
    {
        using var stream = typeof(RelaySettings).Assembly.GetManifestResourceStream("ActorRelay.relay.conf")
            ?? throw new InvalidOperationException("embedded relay.conf missing");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    /// <summary>
    /// Makes the shipped defaults a fallback of <paramref name="system"/>'s configuration when it lacks them (a system
    /// created without hocon/relay.conf): the channel mailbox is looked up there. Idempotent.
    /// </summary>
    public static void EnsureDefaults(Akka.Actor.ActorSystem system)
    {
        if (!system.Settings.Config.HasPath(Channels.CompactMailbox.ConfigPath + ".mailbox-type"))
            system.Settings.InjectTopLevelFallback(DefaultConfig());
    }

    /// <summary>Reads the <c>relay</c> section of a full config (falls back to the shipped defaults).</summary>
    public static RelaySettings From(Config config)
    {
        var c = config.WithFallback(DefaultConfig()).GetConfig("relay");
        var s = new RelaySettings
        {
            NodeName = c.GetString("node-name"),
            Transport = ParseTransport(c.GetString("transport")),
            BindAddress = ParseAddress(c.GetString("bind-address"), "relay.bind-address"),
            AdvertiseAddress = string.IsNullOrWhiteSpace(c.GetString("advertise-address"))
                ? null : ParseAddress(c.GetString("advertise-address"), "relay.advertise-address"),
            PortMin = c.GetInt("ports.min"),
            PortMax = c.GetInt("ports.max"),
            BindAttempts = c.GetInt("ports.bind-attempts"),
            MaxChannels = c.GetInt("max-channels"),
            FileDescriptorsReserved = c.GetInt("file-descriptors-reserved"),
            MaxDatagram = c.GetInt("max-datagram"),
            SocketEngine = ParseSocketEngine(c.GetString("socket-engine")),
            RelayLoops = c.GetInt("relay-loops"),
            MaxQueueDelay = ParseDuration(c, "max-queue-delay"),
            SocketReceiveBuffer = c.GetInt("socket-receive-buffer"),
            SocketSendBuffer = c.GetInt("socket-send-buffer"),
            IdleTimeout = ParseDuration(c, "idle-timeout"),
            SetupTimeout = ParseDuration(c, "setup-timeout"),
            MaxLifetime = ParseDuration(c, "max-lifetime"),
            StatsInterval = ParseDuration(c, "stats-interval"),
            LatchMode = ParseLatchMode(c.GetString("latch.mode")),
            LearningWindow = ParseDuration(c, "latch.learning-window"),
            Probation = c.GetInt("latch.probation"),
            MaxSequenceJump = c.GetInt("latch.max-sequence-jump"),
        };
        s.Validate();
        return s;
    }

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
        if (SocketEngine == SocketEngine.Epoll && !Sides.LinuxUdp.Supported)
            throw new ConfigurationException("relay.socket-engine = epoll needs Linux on x64 or arm64; use auto or dotnet");
        if (MaxQueueDelay < TimeSpan.Zero) throw new ConfigurationException("relay.max-queue-delay must be >= 0");
        if (SocketReceiveBuffer < 0 || SocketSendBuffer < 0)
            throw new ConfigurationException("relay.socket-*-buffer must be >= 0");
        if (IdleTimeout < TimeSpan.Zero || SetupTimeout < TimeSpan.Zero || MaxLifetime < TimeSpan.Zero)
            throw new ConfigurationException("relay timeouts must be >= 0");
        if (StatsInterval <= TimeSpan.Zero) throw new ConfigurationException("relay.stats-interval must be > 0");
        if (LearningWindow < TimeSpan.Zero) throw new ConfigurationException("relay.latch.learning-window must be >= 0");
        if (Probation < 1 || Probation > 64) throw new ConfigurationException($"relay.latch.probation must be in 1..64, got {Probation}");
        if (MaxSequenceJump < 1 || MaxSequenceJump > 32767)
            throw new ConfigurationException($"relay.latch.max-sequence-jump must be in 1..32767, got {MaxSequenceJump}");
    }

    /// <summary>HOCON for akka.io.udp derived from these settings (buffer-size = max-datagram + 1).</summary>
    public Config AkkaIoConfig() => ConfigurationFactory.ParseString(
        $"akka.io.udp.disabled-buffer-pool.buffer-size = {MaxDatagram + 1}\n" +
        $"akka.io.udp.direct-buffer-pool.buffer-size = {MaxDatagram + 1}");

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
        (SocketEngine == SocketEngine.Epoll || SocketEngine == SocketEngine.Auto && Sides.LinuxUdp.Supported);

    /// <summary>Relay loops to run: the configured count, or one per two processor cores (at least one).</summary>
    public int RelayLoopCount => RelayLoops > 0 ? RelayLoops : Math.Max(1, Environment.ProcessorCount / 2);

    public static LatchMode ParseLatchMode(string value) =>
        Enum.TryParse<LatchMode>(value.Trim().Replace("-", ""), ignoreCase: true, out var m) && Enum.IsDefined(m)
            ? m
            : throw new ConfigurationException(
                $"relay.latch.mode must be one of {string.Join(", ", Enum.GetNames<LatchMode>().Select(n => n.ToLowerInvariant()))}, got \"{value}\"");

    private static IPAddress ParseAddress(string value, string key) =>
        IPAddress.TryParse(value.Trim().Trim('[', ']'), out var a)
            ? a
            : throw new ConfigurationException($"{key} must be an IP address, got \"{value}\"");

    private static TimeSpan ParseDuration(Config c, string key)
    {
        var raw = c.GetString(key)?.Trim();
        if (raw is "0" or "off" or "") return TimeSpan.Zero;
        try
        {
            return c.GetTimeSpan(key, allowInfinite: false);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new ConfigurationException($"relay.{key} must be a duration such as 500ms, 30s or 2m, got \"{raw}\"");
        }
    }
}
