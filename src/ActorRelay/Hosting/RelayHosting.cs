using System.Globalization;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using ActorRelay.Ng;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.Hosting;

/// <summary>Registry key for the node actor: inject <c>IRequiredActor&lt;RelayNode&gt;</c> to reach it.</summary>
public sealed class RelayNode;

/// <summary>
/// The relay's settings for an application that hosts it with Akka.Hosting, in the style of Akka.Hosting's own
/// options types: every property is optional, and what is set is written as HOCON over hocon/relay.conf (the one
/// place defaults live), so an in-process relay reads its settings exactly as the node process does. Setting
/// <see cref="MaxDatagram"/> also sizes Akka.IO's buffers for the akka-io transport.
/// </summary>
public sealed class RelayOptions
{
    public string? NodeName { get; set; }
    public SideTransport? Transport { get; set; }
    public SocketEngine? SocketEngine { get; set; }
    public int? RelayLoops { get; set; }
    public IPAddress? BindAddress { get; set; }
    public IPAddress? AdvertiseAddress { get; set; }
    public int? PortMin { get; set; }
    public int? PortMax { get; set; }
    public int? MaxChannels { get; set; }
    public int? MaxDatagram { get; set; }
    public TimeSpan? MaxQueueDelay { get; set; }
    public int? SocketReceiveBuffer { get; set; }
    public int? SocketSendBuffer { get; set; }
    public TimeSpan? IdleTimeout { get; set; }
    public TimeSpan? SetupTimeout { get; set; }
    public TimeSpan? MaxLifetime { get; set; }
    public TimeSpan? StatsInterval { get; set; }
    public LatchMode? LatchMode { get; set; }
    public TimeSpan? LearningWindow { get; set; }
    public int? Probation { get; set; }
    /// <summary>relay.control.allow: supervisor systems allowed over Akka.Remote ("*", "HOST", "SYSTEM@HOST[:PORT]").</summary>
    public IReadOnlyList<string>? ControlAllow { get; set; }
    /// <summary>relay.control.administrators: who may also use the privileged commands and act on any channel.</summary>
    public IReadOnlyList<string>? ControlAdministrators { get; set; }
    /// <summary>relay.metrics.listen: "HOST:PORT" addresses of the /metrics, /healthz and /ready endpoint.</summary>
    public IReadOnlyList<string>? MetricsListen { get; set; }
    public bool? QualityEnabled { get; set; }
    public TimeSpan? OpenerLostGrace { get; set; }
    /// <summary>relay.control.list-page-size: channels in a ListChannels page that names no Limit.</summary>
    public int? ListPageSize { get; set; }
    /// <summary>relay.ng.listen: UDP addresses of the NG endpoint for Kamailio / OpenSIPS ("127.0.0.1:2223"); empty or null = none.</summary>
    public IReadOnlyList<string>? NgListen { get; set; }
    /// <summary>relay.ng.allow: who may send NG commands (addresses or prefixes; default loopback only).</summary>
    public IReadOnlyList<string>? NgAllow { get; set; }
    /// <summary>relay.cluster.seed-nodes: "HOST:PORT" (or Akka addresses) of the relay cluster's seed nodes; set, the system
    /// becomes a cluster member with the relay role (<see cref="Apply"/> sets the cluster provider). Null or empty: alone.</summary>
    public IReadOnlyList<string>? ClusterSeeds { get; set; }
    /// <summary>relay.cluster.load-interval: how often the node publishes its load to the cluster.</summary>
    public TimeSpan? ClusterLoadInterval { get; set; }
    /// <summary>The ActorSystem name "HOST:PORT" seeds stand for (every member of a cluster has the same). Default: the node process's, "actor-relay".</summary>
    public string ClusterSystemName { get; set; } = "actor-relay";
    /// <summary>relay.cluster.drain-keeps-calls: stopping keeps the calls until they end or the drain's deadline.</summary>
    public bool? DrainKeepsCalls { get; set; }

    /// <summary>The HOCON these options stand for (only what is set).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        void SetList(string key, IReadOnlyList<string>? values)
        {
            if (values is null) return;
            sb.Append(key).Append(" = [").Append(string.Join(", ", values.Select(v => "\"" + v.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""))).Append("]\n");
        }
        void Set(string key, object? value)
        {
            if (value is null) return;
            var text = value switch
            {
                TimeSpan t => $"{(long)t.TotalMilliseconds}ms",
                SideTransport.AkkaIo => "akka-io",
                Enum e => e.ToString().ToLowerInvariant(),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString()!,
            };
            sb.Append(key).Append(" = \"").Append(text.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\"\n");
        }
        Set("relay.node-name", NodeName);
        Set("relay.transport", Transport);
        Set("relay.socket-engine", SocketEngine);
        Set("relay.relay-loops", RelayLoops);
        Set("relay.bind-address", BindAddress);
        Set("relay.advertise-address", AdvertiseAddress);
        Set("relay.ports.min", PortMin);
        Set("relay.ports.max", PortMax);
        Set("relay.max-channels", MaxChannels);
        Set("relay.max-datagram", MaxDatagram);
        Set("relay.max-queue-delay", MaxQueueDelay);
        Set("relay.socket-receive-buffer", SocketReceiveBuffer);
        Set("relay.socket-send-buffer", SocketSendBuffer);
        Set("relay.idle-timeout", IdleTimeout);
        Set("relay.setup-timeout", SetupTimeout);
        Set("relay.max-lifetime", MaxLifetime);
        Set("relay.stats-interval", StatsInterval);
        Set("relay.latch.mode", LatchMode);
        Set("relay.latch.learning-window", LearningWindow);
        Set("relay.latch.probation", Probation);
        SetList("relay.control.allow", ControlAllow);
        SetList("relay.control.administrators", ControlAdministrators);
        SetList("relay.metrics.listen", MetricsListen);
        Set("relay.quality.enabled", QualityEnabled is { } q ? (q ? "on" : "off") : null);
        Set("relay.control.opener-lost-grace", OpenerLostGrace);
        Set("relay.control.list-page-size", ListPageSize);
        SetList("relay.ng.listen", NgListen);
        SetList("relay.ng.allow", NgAllow);
        SetList("relay.cluster.seed-nodes", ClusterSeeds);
        Set("relay.cluster.load-interval", ClusterLoadInterval);
        Set("relay.cluster.drain-keeps-calls", DrainKeepsCalls is { } k ? (k ? "on" : "off") : null);
        if (MaxDatagram is { } max) sb.Append(RelaySettings.AkkaIoHocon(max));
        return sb.ToString();
    }

    /// <summary>Adds these options to the builder's configuration, over the defaults.</summary>
    public void Apply(AkkaConfigurationBuilder builder)
    {
        var hocon = ToString();
        if (hocon.Length > 0) builder.AddHocon(hocon, HoconAddMode.Prepend);
        if (ClusterSeeds is { Count: > 0 } seeds)
            builder.AddHocon(Cluster.RelayMembership.Hocon(ClusterSystemName, seeds, RelaySettings.Default.ClusterRole), HoconAddMode.Prepend);
    }
}

public static class RelayHostingExtensions
{
    /// <summary>
    /// Hosts the relay in this ActorSystem: adds <paramref name="options"/> over hocon/relay.conf, starts the node actor
    /// (/user/relay by default), registers it as <see cref="RelayNode"/> and drains it on coordinated shutdown (every
    /// channel closed, every port released, within the service-unbind phase's timeout).
    /// </summary>
    /// <param name="clock">The relay's clock (tests pass a manual one).</param>
    public static AkkaConfigurationBuilder WithActorRelay(this AkkaConfigurationBuilder builder, RelayOptions? options = null,
        RelayClock? clock = null)
    {
        options?.Apply(builder);
        builder.AddHocon(RelaySettings.DefaultConfig(), HoconAddMode.Append);
        return builder.WithActors((system, registry) => registry.Register<RelayNode>(StartRelayNode(system, clock)));
    }

    /// <summary>
    /// For a supervising application that talks to a relay node in another process: registers the relay protocol's
    /// serializer (<see cref="RelayProtocolSerializer.Config"/>). Not needed where <see cref="WithActorRelay"/> is used.
    /// </summary>
    public static AkkaConfigurationBuilder WithActorRelayProtocol(this AkkaConfigurationBuilder builder) =>
        builder.AddHocon(RelayProtocolSerializer.Config, HoconAddMode.Append);

    /// <summary>
    /// The receive buffers of the Akka.IO buffer pool in use (akka.io.udp.buffer-pool) must be larger than
    /// <paramref name="maxDatagram"/>, or Akka.IO truncates datagrams silently; a configuration error otherwise, naming the key.
    /// </summary>
    internal static void CheckAkkaIoBuffer(Config config, int maxDatagram)
    {
        var key = config.GetString("akka.io.udp.buffer-pool") + ".buffer-size"; // Akka's own defaults always name a pool
        var size = config.GetInt(key, 0);
        if (size <= maxDatagram)
            throw new ConfigurationException(
                $"{key} ({size}) must exceed relay.max-datagram ({maxDatagram}), " +
                "or Akka.IO truncates datagrams silently: set RelayOptions.MaxDatagram, or add RelaySettings.AkkaIoHocon(max-datagram)");
    }

    /// <summary>
    /// Starts the node actor in an existing system whose configuration includes hocon/relay.conf (what
    /// <see cref="WithActorRelay"/> does), and drains it on the system's coordinated shutdown. When relay.ng.listen
    /// names addresses, the NG endpoint starts too (<see cref="NgEndpoint"/>, /user/ng).
    /// </summary>
    public static IActorRef StartRelayNode(ActorSystem system, RelayClock? clock = null)
    {
        var settings = RelaySettings.From(system.Settings.Config);
        if (settings.Transport == SideTransport.AkkaIo) CheckAkkaIoBuffer(system.Settings.Config, settings.MaxDatagram);
        // the sides' counters, summed for /metrics and for the load a cluster member publishes (its relayed packets/s)
        var metrics = settings.MetricsListen.Count > 0 || settings.Clustered ? new Metrics.RelayMetrics() : null;
        if (settings.Clustered && !Cluster.RelayMembership.IsClustered(system))
            throw new ConfigurationException((settings.ClusterBootstrap ? "relay.cluster.bootstrap.enabled is on" : "relay.cluster.seed-nodes is set") +
                " but the system is not a cluster member: set akka.actor.provider = cluster " +
                "(RelayOptions.ClusterSeeds, or RelayMembership.Hocon / MemberHocon, writes what a relay cluster member needs)");
        var node = system.ActorOf(RelayNodeActor.Props(settings, clock, metrics: metrics), settings.NodeName);
        var entry = node;
        if (settings.Clustered)
        {
            // the cluster: the node's load goes to the replicated load map, and the placement entry point serves every
            // supervisor (and the NG endpoint) for the whole cluster
            system.ActorOf(Cluster.NodeLoadPublisher.Props(node, settings, clock ?? RelayClock.System), "relay-load");
            entry = system.ActorOf(Cluster.PlacementEntryActor.Props(node, settings, clock ?? RelayClock.System), settings.ClusterEntryName);
            system.Log.Info("Relay cluster member with role {0}; placement entry point at /user/{1}", settings.ClusterRole, settings.ClusterEntryName);
        }
        NgEndpoint.Start(system, entry, clock);
        if (metrics is not null)
        {
            var endpoints = settings.MetricsListen.Select(a => new Metrics.MetricsEndpoint(a, metrics)).ToList();
            foreach (var e in endpoints) system.Log.Info("Metrics at http://{0}/metrics (and /healthz, /ready)", e.Address);
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseActorSystemTerminate, "stop-relay-metrics", () =>
            {
                foreach (var e in endpoints) e.Dispose();
                return Task.FromResult(Akka.Done.Instance);
            });
        }
        if (settings.PersistenceEnabled && settings.KeepChannelsOnStop)
        {
            // a planned restart: the channels stay recorded and come back at the next start
            system.Log.Info("Stopping keeps the relay's channels (relay.persistence.keep-channels-on-stop): the next start brings them back");
            return node;
        }
        var shutdown = CoordinatedShutdown.Get(system);
        var deadline = shutdown.Timeout(CoordinatedShutdown.PhaseServiceUnbind);
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "drain-relay-node", async () =>
        {
            try
            {
                // a little under the phase's timeout, so a slow drain is reported here rather than cut off by the phase
                // with drain-keeps-calls the calls may end by themselves until the deadline, less the time closing takes
                var keep = settings.DrainKeepsCalls ? deadline * 0.9 - settings.CloseTimeout : TimeSpan.Zero;
                await node.Ask<NodeDrained>(keep > TimeSpan.Zero ? new DrainNode(keep) : DrainNode.Instance, deadline * 0.9);
            }
            catch (Exception e)
            {
                // the node is gone already, or the drain took too long: the sides' PostStop free the ports anyway
                system.Log.Warning("Relay node did not report drained within {0}: {1}", deadline * 0.9, e.Message);
            }
            return Akka.Done.Instance;
        });
        return node;
    }
}
