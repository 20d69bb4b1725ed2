using System.CommandLine;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Management;
using Akka.Management.Cluster.Bootstrap;
using Akka.Remote.Hosting;
using ActorRelay;
using ActorRelay.Control;
using ActorRelay.Hosting;
using ActorRelay.Node;
using ActorRelay.NodeProcess;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Sides.Dotnet;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;

// First of all: two malloc arenas, which glibc reads from the environment as the process starts (NativeHeap)
NativeHeap.RestartWithStartupEnvironment();
// Before any socket exists: receives complete on the socket engine's thread (no thread-pool hop per packet).
DotnetSocketEngine.EnableInlineCompletions();
// A collection suspends the relay loops with every other managed thread. With background (concurrent) collection
// a full collection marks beside the loops instead of stopping them for the whole heap (measured on a busy host:
// 140-450 ms per blocking full collection, issue 13); SustainedLowLatency keeps full blocking collections for
// memory pressure only. Ephemeral collections stay blocking and short; the loops allocate nothing per packet.
System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.SustainedLowLatency;

var command = NodeCommandLine.Command();
command.SetAction((parse, cancel) => NodeProgram.RunAsync(parse, cancel));
var parsed = command.Parse(args);
if (parsed.Errors.Count > 0)
{
    // one line naming what is wrong, not System.CommandLine's error followed by the whole help
    Console.Error.WriteLine($"{parsed.Errors[0].Message} (--help for options)");
    return 1;
}
// The host handles SIGTERM/Ctrl-C itself (drain, exit 0), so System.CommandLine must not.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

internal static class NodeProgram
{
    private static readonly TimeSpan RestoreTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        NodeOptions? options = null;
        Config config;
        RelaySettings settings;
        NodeRemote remote;
        IReadOnlyList<DeclaredChannel> channels;
        NodeLogging logging;
        (long Soft, long Hard)? limits;
        JournalFileLock? journalLock = null;
        try
        {
            // everything a user can get wrong is checked here, before anything starts: one line, exit code 1
            options = NodeCommandLine.Read(parse);
            var built = NodeConfiguration.Build(options);
            config = NodeConfiguration.WithDatabase(built);
            settings = RelaySettings.From(config);
            _ = ActorRelay.Ng.NgSettings.From(config); // a bad relay.ng (or --ng) fails here, before anything starts
            remote = NodeRemote.From(config);
            var declared = DeclaredChannel.FromConfig(config);
            NodeCommandLine.CheckDistinct(declared, "relay.channels");
            channels = options.Pairs.Concat(declared).ToList();
            NodeCommandLine.CheckDistinct(channels, options.Pairs.Count > 0 && declared.Count > 0 ? "the command line and relay.channels" : "the command line");
            if (settings.Clustered && !remote.Enabled)
                throw new UsageException((settings.ClusterBootstrap ? "relay.cluster.bootstrap.enabled is on" : "relay.cluster.seed-nodes is set") +
                                         " but relay.remote.enabled is off: a cluster member needs Akka.Remote");
            if ((settings.PortMax - settings.PortMin + 1) / 2 == 0)
                throw new UsageException($"relay.ports {settings.PortMin}-{settings.PortMax} holds one port: a channel needs two");
            logging = NodeLogging.From(config, options.LogLevel);
            remote.CheckAvailable();
            if (NodeConfiguration.EmbeddedDatabase(built) is { } journal)
            {
                journalLock = JournalFileLock.Take(journal);
                JournalFileCheck.Readable(journal);
            }
            limits = FileLimits.RaiseSoftToHard();
            if (NodeCapacity.Of(settings, limits?.Soft) == 0) throw new UsageException(NoCapacity(settings, limits?.Soft));
        }
        catch (Exception e) when (e is UsageException or ConfigurationException)
        {
            journalLock?.Dispose();
            Console.Error.WriteLine(options is null ? e.Message : NodeConfiguration.Explain(e.Message, options));
            return 1;
        }

        Log.Logger = logging.CreateLogger();
        try
        {
            return await RunNodeAsync(config, settings, remote, channels, limits, logging, cancel);
        }
        finally
        {
            journalLock?.Dispose();
            await Log.CloseAndFlushAsync();
        }
    }

    private static string NoCapacity(RelaySettings settings, long? soft) =>
        $"This node can hold no channel: its open-file limit is {soft} and the process keeps {NodeCapacity.Reserved(settings, FileLimits.OpenDescriptors())} " +
        $"of them (relay.file-descriptors-reserved, or what it holds plus {NodeCapacity.Headroom}); raise the limit (ulimit -n) or lower relay.file-descriptors-reserved";

    private static async Task<int> RunNodeAsync(Config config, RelaySettings settings, NodeRemote remote, IReadOnlyList<DeclaredChannel> channels,
        (long Soft, long Hard)? limits, NodeLogging logging, CancellationToken cancel)
    {
        Akka.Remote.Transport.DotNetty.DotNettySslSetup? tls;
        try
        {
            tls = RelayTlsSettings.From(config.GetConfig("relay.remote.tls") ?? Akka.Configuration.Config.Empty)?.ToSetup();
        }
        catch (Exception e) when (e is ConfigurationException or IOException or System.Security.Cryptography.CryptographicException)
        {
            Console.Error.WriteLine($"relay.remote.tls: {e.Message}");
            return 1;
        }
        if (tls is not null) Log.Information("Control plane: mutual TLS with certificate {Subject}", tls.Certificate.Subject);

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka(NodeConfiguration.SystemName, (akka, _) =>
        {
            akka.AddHocon(settings.AkkaIoConfig(), HoconAddMode.Prepend)
                .AddHocon(config, HoconAddMode.Prepend)
                .ConfigureLoggers(l =>
                {
                    l.LogLevel = NodeLogging.AkkaLevel(logging.Least);
                    l.ClearLoggers();
                    l.AddLogger<SerilogLogger>();
                });
            if (remote.Enabled)
            {
                akka.WithRemoting(remote.Hostname, remote.Port, remote.PublicHostname);
                if (tls is not null) akka.AddHocon(RelayTls.Hocon, HoconAddMode.Prepend).AddSetup(tls);
                // a relay cluster member (relay.cluster.seed-nodes, --seed): NodeConfiguration wrote its cluster settings
                if (settings.Clustered) akka.WithActorRefProvider(ProviderSelection.Cluster.Instance);
                // relay.cluster.bootstrap: Akka.Management and its Cluster Bootstrap, configured by akka.management and
                // akka.discovery alone; the node starts them once the system runs (BootstrapContactPoint)
                if (settings.ClusterBootstrap)
                    akka.WithAkkaManagement(new AkkaManagementOptions()).WithClusterBootstrap(new ClusterBootstrapOptions(), autoStart: false);
            }
            akka.WithActorRelay();
        });
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancel);
        }
        catch (Exception e)
        {
            // what the checks before start did not foresee: one line, the innermost cause (the log has the rest at debug)
            var cause = e;
            while (cause.InnerException is not null) cause = cause.InnerException;
            Log.Debug(e, "The node could not start");
            Console.Error.WriteLine($"The node could not start: {cause.Message}");
            return 1;
        }

        var system = host.Services.GetRequiredService<ActorSystem>();
        BootstrapContactPoint? contact = null;
        if (settings.ClusterBootstrap)
        {
            try
            {
                contact = await BootstrapContactPoint.StartAsync(system);
            }
            catch (Exception e) when (e is HttpListenerException or Akka.Configuration.ConfigurationException or ArgumentException)
            {
                Log.Debug(e, "Cluster Bootstrap could not start");
                Console.Error.WriteLine($"Cluster Bootstrap could not start (akka.management.http): {e.Message}");
                await host.StopAsync(CancellationToken.None);
                return 1;
            }
            Log.Information("Joining the relay cluster through Cluster Bootstrap; contact point {ContactPoint}", contact.SelfContactPoint);
        }
        using var contactPoint = contact;
        var node = host.Services.GetRequiredService<ActorRegistry>().Get<RelayNode>();
        // a second SIGTERM (or Ctrl-C) while the first one's drain waits for the calls: close them now, exit 143
        using var signals = new StopSignals(node, settings.CloseTimeout);
        if (remote.Enabled)
            Log.Information("Supervisors reach this node at {Address}/user/{Node}",
                ((ExtendedActorSystem)system).Provider.DefaultAddress, settings.NodeName);

        // the node measured what the process holds as it started (NodeCapacity): its capacity is the one to report;
        // it answers once it has brought back the channels its journal held
        NodeStatus status;
        try
        {
            status = await node.Ask<NodeStatus>(GetNodeStatus.Instance, RestoreTimeout, cancel);
        }
        catch (AskTimeoutException)
        {
            Console.Error.WriteLine($"The node did not answer within {RestoreTimeout.TotalSeconds:0} s after it started (restoring its channels)");
            await host.StopAsync(CancellationToken.None);
            return 1;
        }
        Log.Information("Open files: soft limit {Soft}, hard limit {Hard}; {Open} open now, {Reserved} kept for the process; this node holds at most {Capacity} channels",
            limits?.Soft, limits?.Hard, FileLimits.OpenDescriptors(), NodeCapacity.Reserved(settings, FileLimits.OpenDescriptors()), status.Capacity);
        Log.Information("Runtime: {Processors} processors, {Gc} GC, tiered compilation {Tiering}", Environment.ProcessorCount,
            System.Runtime.GCSettings.IsServerGC ? "server" : "workstation", JitTiering.OnInThisProcess() ? "on" : "off");
        if (CpuLimit.OfThisProcess() is { } cores)
            Log.Information("CPU limit of this node's control group: {Cores:0.##} cores, {Processors} for the runtime", cores, Environment.ProcessorCount);
        if (status.Capacity == 0)
        {
            Console.Error.WriteLine(NoCapacity(settings, limits?.Soft));
            await host.StopAsync(CancellationToken.None);
            return 1;
        }
        if (status.Capacity < channels.Count)
        {
            Console.Error.WriteLine($"This node can hold {status.Capacity} channels, fewer than the {channels.Count} declared; raise the open-file limit (ulimit -n) or relay.max-channels");
            await host.StopAsync(CancellationToken.None);
            return 1;
        }

        // declared channels (LEFT:RIGHT pairs, relay.channels) live as long as the node: a keeper opens them and opens
        // any that closes again
        var keeper = system.ActorOf(DeclaredChannelKeeper.Props(node, channels), "declared-channels");
        string? failure;
        try
        {
            var reply = await keeper.Ask<object>(OpenDeclaredChannels.Instance, OpenTimeout + TimeSpan.FromSeconds(channels.Count), cancel);
            failure = reply is DeclaredChannelFailed f ? f.Message : null;
        }
        catch (AskTimeoutException)
        {
            failure = $"The node did not open its {channels.Count} declared channels within {(OpenTimeout + TimeSpan.FromSeconds(channels.Count)).TotalSeconds:0} s";
        }
        if (failure is not null)
        {
            Console.Error.WriteLine(failure);
            await host.StopAsync(CancellationToken.None);
            return 1;
        }
        Console.Error.WriteLine("All set.");

        // glibc keeps what the runtime's threads free in their arenas: hand it back once a minute (NativeHeap)
        using var trimming = NativeHeap.StartTrimming(took => Log.Debug("malloc_trim took {Milliseconds:0.###} ms", took.TotalMilliseconds));
        await host.WaitForShutdownAsync(cancel);
        return signals.CutShort ? StopSignals.ExitCode : 0;
    }

}
