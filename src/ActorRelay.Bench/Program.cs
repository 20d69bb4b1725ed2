using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Bench;
using ActorRelay.Hosting;
using ActorRelay.Protocol;

// The generator's own sockets complete inline too: it must not be the bottleneck.
RelayRuntime.EnableInlineSocketCompletions();

var opts = BenchOptions.Parse(args);
if (opts.Relays.Contains("auto"))
    opts = opts with { Relays = RtpEngine.Installed ? ["socket", "akka-io", "c-epoll", "rtpengine"] : ["socket", "akka-io", "c-epoll"] };
if (opts.Relays.Contains("rtpengine") && !RtpEngine.Installed)
    throw new InvalidOperationException($"rtpengine is not installed ({RtpEngine.Binary}); apt-get install rtpengine-daemon");
ActorRelayNode.MaxIdleChannels = opts.IdleChannels;
RelayUnderTest.PinnedCpu = opts.RelayCpu;
var root = Paths.Root;
var cRelay = Path.Combine(Path.GetTempPath(), "actorrelay-c-relay");
if (opts.Relays.Contains("c-epoll"))
{
    var gcc = Process.Start("gcc", ["-O2", "-o", cRelay, Path.Combine(root, "bench", "c-relay", "relay.c")])!;
    gcc.WaitForExit();
    if (gcc.ExitCode != 0) throw new InvalidOperationException("gcc failed to build bench/c-relay/relay.c");
}

using var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString(
    "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }\nakka.loglevel = WARNING\nakka.log-dead-letters = off"));

RelayUnderTest Make(string name, int k) => name switch
{
    "socket" => new ActorRelayNode("socket", 10000, 4600 + k, system),
    "akka-io" => new ActorRelayNode("akka-io", 10000, 4600 + k, system),
    "c-epoll" => new CRelay(cRelay, 20000),
    "rtpengine" => new RtpEngine(24000, 2223 + k),
    _ => throw new ArgumentException($"unknown relay {name}"),
};

var report = new Dictionary<string, object>
{
    ["machine"] = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString() },
    ["options"] = opts,
    ["started"] = DateTimeOffset.UtcNow,
};
var stream = new List<object>();
var k = 0;
// Interleaved: round 1 of every relay, then round 2, ... so drift in the machine's load hits all alike.
for (var round = 1; round <= opts.Rounds; round++)
{
    foreach (var name in opts.Relays)
    {
        await using var relay = Make(name, k++);
        var ports = await relay.StartAsync(opts.Channels);
        using var gen = new LoadGenerator(ports, 24000, opts.Size);
        gen.Latch();
        var rt0 = await relay.RuntimeAsync();
        var cpu0 = relay.CpuMilliseconds();
        var r = gen.Stream(opts.Pps, opts.Seconds);
        var cpu1 = relay.CpuMilliseconds();
        var rt1 = await relay.RuntimeAsync();
        var cpuUsPerPacket = r.Received == 0 ? double.NaN : (cpu1 - cpu0) * 1000.0 / r.Received;
        var row = new
        {
            relay = name, round, r.Channels, offered_pps = Math.Round(r.OfferedPps), delivered_pps = Math.Round(r.DeliveredPps),
            loss_pct = Math.Round(r.LossPercent, 4), reordered = r.Reordered,
            p50_ms = Math.Round(r.P50Ms, 3), p99_ms = Math.Round(r.P99Ms, 3), p999_ms = Math.Round(r.P999Ms, 3), max_ms = Math.Round(r.MaxMs, 3),
            cpu_us_per_packet = Math.Round(cpuUsPerPacket, 2),
            gc_collections = rt0 is null ? (int?)null : rt1!.Gen0Collections + rt1.Gen1Collections + rt1.Gen2Collections - rt0.Gen0Collections - rt0.Gen1Collections - rt0.Gen2Collections,
            gc_pause_ms = rt0 is null ? (double?)null : Math.Round(rt1!.GcPauseMilliseconds - rt0.GcPauseMilliseconds, 2),
            alloc_bytes_per_packet = rt0 is null || r.Received == 0 ? (double?)null : Math.Round((rt1!.AllocatedBytes - rt0.AllocatedBytes) / (double)r.Received, 1),
            generator_send_lag_p99_ms = Math.Round(r.SendLagP99Ms, 3), generator_limited = r.GeneratorLimited,
        };
        stream.Add(row);
        Console.WriteLine(JsonSerializer.Serialize(row));
    }
}
report["stream"] = stream;

// Overload: the nominal rate, then twice it, then the nominal rate again, on the same channels; loss and latency
// per phase show whether the relay sheds (bounded latency) or queues (latency grows), and whether it recovers at once.
if (opts.Overload)
{
    var overload = new List<object>();
    foreach (var name in opts.Relays)
    {
        await using var relay = Make(name, k++);
        var ports = await relay.StartAsync(opts.Channels);
        using var gen = new LoadGenerator(ports, 24000, opts.Size);
        gen.Latch();
        foreach (var (phase, pps) in new[] { ("nominal", opts.Pps), ("double", opts.Pps * 2), ("recovered", opts.Pps) })
        {
            var cpu0 = relay.CpuMilliseconds();
            var r = gen.Stream(pps, opts.Seconds, warmupSeconds: phase == "nominal" ? 3 : 0.5);
            var cpu1 = relay.CpuMilliseconds();
            var row = new
            {
                relay = name, phase, channels = opts.Channels, offered_pps = Math.Round(r.OfferedPps), delivered_pps = Math.Round(r.DeliveredPps),
                loss_pct = Math.Round(r.LossPercent, 3), p50_ms = Math.Round(r.P50Ms, 3), p99_ms = Math.Round(r.P99Ms, 3), max_ms = Math.Round(r.MaxMs, 3),
                relay_cpu_pct = Math.Round((cpu1 - cpu0) / ((opts.Seconds + (phase == "nominal" ? 3 : 0.5) + 0.2) * 10), 1), generator_limited = r.GeneratorLimited,
            };
            overload.Add(row);
            Console.WriteLine(JsonSerializer.Serialize(row));
        }
    }
    report["overload"] = overload;
}

// Ramp: more channels until loss >= 0.1 % or p99 >= 5 ms; the last step that held is the relay's sustainable load.
if (opts.Ramp.Length > 0)
{
    var ramp = new List<object>();
    foreach (var name in opts.Relays)
    {
        var held = 0;
        foreach (var channels in opts.Ramp)
        {
            await using var relay = Make(name, k++);
            var ports = await relay.StartAsync(channels);
            using var gen = new LoadGenerator(ports, 24000, opts.Size);
            gen.Latch();
            var cpu0 = relay.CpuMilliseconds();
            var r = gen.Stream(opts.Pps, opts.Seconds);
            var cpu1 = relay.CpuMilliseconds();
            var ok = r.LossPercent < 0.1 && r.P99Ms < 5;
            var row = new
            {
                relay = name, channels, delivered_pps = Math.Round(r.DeliveredPps), loss_pct = Math.Round(r.LossPercent, 4),
                p99_ms = Math.Round(r.P99Ms, 3), cpu_us_per_packet = Math.Round((cpu1 - cpu0) * 1000.0 / Math.Max(1, r.Received), 2),
                holds = ok, generator_limited = r.GeneratorLimited,
            };
            ramp.Add(row);
            Console.WriteLine(JsonSerializer.Serialize(row));
            if (!ok) break;
            held = channels;
        }
        ramp.Add(new { relay = name, max_channels_held = held, max_pps_held = held * 2 * opts.Pps });
        Console.WriteLine(JsonSerializer.Serialize(new { relay = name, max_channels_held = held, max_pps_held = held * 2 * opts.Pps }));
    }
    report["ramp"] = ramp;
}

if (opts.IdleChannels > 0)
{
    var idle = new List<object>();
    foreach (var name in opts.Relays.Where(r => r is "socket" or "akka-io"))
    {
        await using var relay = (ActorRelayNode)Make(name, k++);
        await relay.StartAsync(0);
        await Task.Delay(2000);
        var rss0 = relay.RssBytes();
        var sw = Stopwatch.StartNew();
        var opened = await Task.WhenAll(Enumerable.Range(0, opts.IdleChannels).Select(i =>
            relay.Node.Ask<object>(new OpenChannel($"idle-{i}", SubscribeOpener: false), TimeSpan.FromSeconds(60))));
        var openSeconds = sw.Elapsed.TotalSeconds;
        await Task.Delay(2000);
        var rss1 = relay.RssBytes();
        sw.Restart();
        await Task.WhenAll(Enumerable.Range(0, opts.IdleChannels).Select(i =>
            relay.Node.Ask<object>(new CloseChannel($"idle-{i}"), TimeSpan.FromSeconds(60))));
        var closeSeconds = sw.Elapsed.TotalSeconds;
        var status = await relay.Node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(10));
        var row = new
        {
            relay = name, channels = opts.IdleChannels, opened_ok = opened.Count(o => o is ChannelOpened),
            rss_empty_mb = Math.Round(rss0 / 1048576.0, 1), rss_loaded_mb = Math.Round(rss1 / 1048576.0, 1),
            kb_per_idle_channel = Math.Round((rss1 - rss0) / 1024.0 / opts.IdleChannels, 2),
            opens_per_second = Math.Round(opts.IdleChannels / openSeconds), closes_per_second = Math.Round(opts.IdleChannels / closeSeconds),
            ports_leaked = status.PortsTotal - status.PortsFree,
        };
        idle.Add(row);
        Console.WriteLine(JsonSerializer.Serialize(row));
    }
    report["idle"] = idle;
}

var dir = Path.Combine(root, "bench", "results");
Directory.CreateDirectory(dir);
var file = Path.Combine(dir, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
File.WriteAllText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"results: {file}");
await system.Terminate();

internal sealed record BenchOptions(string[] Relays, int Channels, int Pps, int Size, double Seconds, int Rounds, int IdleChannels, int[] Ramp,
    bool Overload = false, int? RelayCpu = null)
{
    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions(["auto"], 500, 50, 172, 10, 3, 4000, []);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--relays" => o with { Relays = Next().Split(',') },
                "--channels" => o with { Channels = int.Parse(Next()) },
                "--pps" => o with { Pps = int.Parse(Next()) },
                "--size" => o with { Size = int.Parse(Next()) },
                "--seconds" => o with { Seconds = double.Parse(Next()) },
                "--rounds" => o with { Rounds = int.Parse(Next()) },
                "--idle-channels" => o with { IdleChannels = int.Parse(Next()) },
                "--ramp" => o with { Ramp = Next().Split(',').Select(int.Parse).ToArray() },
                "--overload" => o with { Overload = true },
                "--relay-cpu" => o with { RelayCpu = int.Parse(Next()) },
                _ => throw new ArgumentException($"unknown option {args[i]}; see docs/benchmarks.md"),
            };
        }
        return o;
    }
}
