using System.CommandLine;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Logger.Serilog;
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

// Before any socket exists: receives complete on the socket engine's thread (no thread-pool hop per packet).
DotnetSocketEngine.EnableInlineCompletions();

var command = NodeCommandLine.Command();
command.SetAction((parse, cancel) => NodeProgram.RunAsync(parse, cancel));
// The host handles SIGTERM/Ctrl-C itself (drain, exit 0), so System.CommandLine must not.
return await command.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

internal static class NodeProgram
{
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        NodeOptions options;
        Config config;
        RelaySettings settings;
        IReadOnlyList<StartupChannel> channels;
        LogEventLevel level;
        try
        {
            options = NodeCommandLine.Read(parse);
            config = NodeConfiguration.WithDatabase(NodeConfiguration.Build(options));
            settings = RelaySettings.From(config);
            _ = ActorRelay.Ng.NgSettings.From(config); // a bad relay.ng (or --ng) fails here, before anything starts
            channels = options.Pairs.Concat(NodeConfiguration.DeclaredChannels(config)).ToList();
            level = ParseLevel(options.LogLevel);
        }
        catch (Exception e) when (e is UsageException or ConfigurationException)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }

        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .Enrich.FromLogContext()
            .WriteTo.Console(standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}")
            .CreateLogger();
        try
        {
            return await RunNodeAsync(config, settings, channels, options.LogLevel, cancel);
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private static async Task<int> RunNodeAsync(Config config, RelaySettings settings, IReadOnlyList<StartupChannel> channels,
        string logLevel, CancellationToken cancel)
    {
        var limits = FileLimits.RaiseSoftToHard();
        var capacity = NodeCapacity.Of(settings);
        Log.Information("Open files: soft limit {Soft}, hard limit {Hard}; this node holds at most {Capacity} channels",
            limits?.Soft, limits?.Hard, capacity);

        var remote = config.GetConfig("relay.remote");
        Akka.Remote.Transport.DotNetty.DotNettySslSetup? tls;
        try
        {
            tls = RelayTlsSettings.From(remote.GetConfig("tls") ?? Akka.Configuration.Config.Empty)?.ToSetup();
        }
        catch (Exception e) when (e is ConfigurationException or IOException or System.Security.Cryptography.CryptographicException)
        {
            Console.Error.WriteLine($"relay.remote.tls: {e.Message}");
            return 1;
        }
        if (tls is not null) Log.Information("Control plane: mutual TLS with certificate {Subject}", tls.Certificate.Subject);

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddAkka("actor-relay", (akka, _) =>
        {
            akka.AddHocon(settings.AkkaIoConfig(), HoconAddMode.Prepend)
                .AddHocon(config, HoconAddMode.Prepend)
                .ConfigureLoggers(l =>
                {
                    l.LogLevel = AkkaLevel(logLevel);
                    l.ClearLoggers();
                    l.AddLogger<SerilogLogger>();
                });
            if (remote.GetBoolean("enabled", true))
            {
                var publicHost = remote.GetString("public-hostname");
                akka.WithRemoting(remote.GetString("hostname"), remote.GetInt("port"),
                    string.IsNullOrWhiteSpace(publicHost) ? null : publicHost);
                if (tls is not null) akka.AddHocon(RelayTls.Hocon, HoconAddMode.Prepend).AddSetup(tls);
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
            Log.Fatal(e, "The node could not start: {Error}", e.Message);
            Console.Error.WriteLine($"The node could not start: {e.Message}");
            return 1;
        }

        var system = host.Services.GetRequiredService<ActorSystem>();
        var node = host.Services.GetRequiredService<ActorRegistry>().Get<RelayNode>();
        if (remote.GetBoolean("enabled", true))
            Log.Information("Supervisors reach this node at {Address}/user/{Node}",
                ((ExtendedActorSystem)system).Provider.DefaultAddress, settings.NodeName);

        // the node answers once it has brought back the channels its journal held
        try { await node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(60), cancel); }
        catch (AskTimeoutException)
        {
            Console.Error.WriteLine("The node did not finish restoring its channels within 60 s");
            await host.StopAsync(CancellationToken.None);
            return 1;
        }

        foreach (var ch in channels)
        {
            var options = ch.Latch is { } mode ? new ChannelOptions(LatchMode: mode) : null;
            string? failure;
            try
            {
                var reply = await node.Ask<object>(new OpenChannel(ch.Id, new SideRequest(ch.Left), new SideRequest(ch.Right), options,
                    SubscribeOpener: false), OpenTimeout, cancel);
                failure = reply is OpenRejected rejected ? rejected.Message : null;
            }
            catch (AskTimeoutException)
            {
                failure = $"The node did not answer within {OpenTimeout.TotalSeconds:0} s while opening channel {ch.Id}";
            }
            if (failure is not null)
            {
                Console.Error.WriteLine(failure);
                await host.StopAsync(CancellationToken.None);
                return 1;
            }
        }
        Console.Error.WriteLine("All set.");

        await host.WaitForShutdownAsync(cancel);
        return 0;
    }

    private static LogEventLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "verbose" or "trace" => LogEventLevel.Verbose,
        "debug" => LogEventLevel.Debug,
        "information" or "info" => LogEventLevel.Information,
        "warning" or "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        _ => throw new UsageException($"Invalid log level: {level}"),
    };

    private static Akka.Event.LogLevel AkkaLevel(string level) => ParseLevel(level) switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => Akka.Event.LogLevel.DebugLevel,
        LogEventLevel.Information => Akka.Event.LogLevel.InfoLevel,
        LogEventLevel.Warning => Akka.Event.LogLevel.WarningLevel,
        _ => Akka.Event.LogLevel.ErrorLevel,
    };
}
