using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Bench;
using ActorRelay.Hosting;
using ActorRelay.Protocol;
using static ActorRelay.Bench.BenchMath;

// An in-process relay on the runtime's socket engine completes receives inline, as the node does.
ActorRelay.Sides.Dotnet.DotnetSocketEngine.EnableInlineCompletions();

if (args is ["--gc-shape-child", var shape, var rate, var live, var secs])
    return ActorRelay.Bench.GcShape.Child(shape, int.Parse(rate), int.Parse(live), double.Parse(secs, System.Globalization.CultureInfo.InvariantCulture));
var opts = BenchOptions.Parse(args);
if (opts.GcShape) return await ActorRelay.Bench.GcShape.Run(opts);
using var allocations = opts.AllocTypes ? new ActorRelay.Bench.AllocationByType() : null;
if (opts.NgSetup)
{
    await NgSetupBench.Run(opts);
    return 0;
}
if (opts.Relays.Contains("auto"))
    opts = opts with { Relays = RtpEngine.Installed ? ["direct", "socket", "akka-io", "c-epoll", "rtpengine"] : ["direct", "socket", "akka-io", "c-epoll"] };
if (opts.Relays.Contains("rtpengine") && !RtpEngine.Installed)
    throw new InvalidOperationException($"rtpengine is not installed ({RtpEngine.Binary}); apt-get install rtpengine-daemon");
if ((opts.Rounds > 0 || opts.Overload || opts.Ramp.Length > 0) && !opts.Restart && opts.Soak == 0 && !opts.NgSetup &&
    opts.ClientPortBase + 2 * Math.Max(opts.Channels, opts.Ramp.DefaultIfEmpty(0).Max()) > 32767)
    throw new ArgumentException($"--port-offset {opts.PortOffset} puts the stream's clients at {opts.ClientPortBase} and above 32767: use --rounds 0 (setup only) or a lower offset");
if (opts.InProcess && opts.RelayCpuQuota is not null) throw new ArgumentException("--relay-cpu-quota limits a relay process: not with --in-process");
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
    "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }\nakka.loglevel = WARNING\nakka.log-dead-letters = off\n" +
    "akka.remote.log-remote-lifecycle-events = off") // each relay node is stopped at the end of its round: not an error
    .WithFallback(RelayProtocolSerializer.Config));

RelayUnderTest Make(string name, int k) => name switch
{
    "socket" or "akka-io" when opts.InProcess => new InProcessActorRelay(name, 10000 + opts.PortOffset),
    "socket" or "socket-dotnet" or "socket-bare" or "akka-io" => new ActorRelayNode(name, 10000 + opts.PortOffset, 4600 + opts.PortOffset / 10 + k, system, null, opts.NodeEnvironment, opts.LoopLag ? 9400 + opts.PortOffset / 10 + k : null),
    // quality on and the metrics endpoint scraped every second, as a Prometheus with a 1 s interval would (issue 12)
    "socket-metrics" => new ActorRelayNode(name, 10000 + opts.PortOffset, 4600 + opts.PortOffset / 10 + k, system, null, opts.NodeEnvironment, 9400 + opts.PortOffset / 10 + k),
    // the default node with its relay loops at the node's own priority: what relay.relay-loop-nice adds (issue 13)
    "socket-nice0" => new ActorRelayNode("socket", 10000 + opts.PortOffset, 4600 + opts.PortOffset / 10 + k, system, null,
        new Dictionary<string, string>(opts.NodeEnvironment) { ["ACTORRELAY__RELAY_LOOP_NICE"] = "0" }, opts.LoopLag ? 9400 + opts.PortOffset / 10 + k : null),
    "baseline" => new ActorRelayNode("socket", 10000 + opts.PortOffset, 4600 + opts.PortOffset / 10 + k, system, opts.BaselineNode
        ?? throw new ArgumentException("relay baseline needs --baseline-node PATH (an ActorRelay.Node.dll built from another commit)"),
        opts.NodeEnvironment, opts.LoopLag ? 9400 + opts.PortOffset / 10 + k : null),
    // the node process without its channel journal (relay.persistence off): what persistence costs
    "socket-no-journal" => new ActorRelayNode("socket", 10000 + opts.PortOffset, 4600 + opts.PortOffset / 10 + k, system, null,
        new Dictionary<string, string>(opts.NodeEnvironment) { ["ACTORRELAY__PERSISTENCE__ENABLED"] = "off" }, opts.LoopLag ? 9400 + opts.PortOffset / 10 + k : null),
    // the node taking NG calls at --ng-rate (at most --ng-live up, 1,000 at most here) while it streams: what call setup
    // does to the media of the channels already up (the collector's pauses stop the relay loops too)
    "socket-ng" => new ActorRelayNode("socket", 10000 + opts.PortOffset, 4600 + opts.PortOffset / 10 + k, system, null, opts.NodeEnvironment,
        opts.LoopLag ? 9400 + opts.PortOffset / 10 + k : null, ngPort: NgBesidePort(k), ngPorts: 4 * NgBesideLive() + 8),
    "c-epoll" => new CRelay(cRelay, 20000 + opts.PortOffset),
    "rtpengine" => new RtpEngine(24000 + opts.PortOffset, 2223 + opts.PortOffset / 10 + k),
    "direct" => new DirectLoopback(24000 + opts.PortOffset),
    _ => throw new ArgumentException($"unknown relay {name}"),
};

int NgBesidePort(int k) => 2300 + opts.PortOffset / 10 + k;
int NgBesideLive() => Math.Min(opts.NgLive, 1000);
if (opts.Relays.Contains("socket-ng") &&
    10000 + opts.PortOffset + 2 * Math.Max(opts.Channels, opts.IdleChannels) + 99 + 4 * NgBesideLive() + 8 >= opts.ClientPortBase)
    throw new ArgumentException($"relay socket-ng: the node's pool for {opts.Channels} channels and {NgBesideLive()} NG calls reaches the stream's clients at {opts.ClientPortBase}: fewer --channels, --idle-channels or --ng-live");

if (opts.Restart)
{
    var survived = await RestartSurvival.RunAsync(opts, system);
    await system.Terminate();
    return survived;
}

if (opts.Soak > 0)
{
    var soaked = await Soak.RunAsync(opts, system);
    await system.Terminate();
    return soaked;
}

var report = new Dictionary<string, object>
{
    ["machine"] = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString() },
    ["options"] = opts,
    ["started"] = DateTimeOffset.UtcNow,
};
var k = 0;
// Contention: CPU-bound competitors beside the relays for the whole stream part (--competitor N).
using var competitor = opts.Competitors > 0 && opts.Rounds > 0 ? new Competitor(opts.Competitors, opts.RelayCpu) : null;

// One measured window: the relay's CPU is read by the generator itself when its measured window starts and after
// the last packets had time to arrive, so warm-up traffic is not counted against the packets delivered.
// Under a quota the group's cpu.stat is read at the same two moments: the window's throttled periods and time.
async Task<Measured> Measure(RelayUnderTest relay, LoadGenerator gen, int pps, double seconds, double warmup, CpuQuota? quota = null)
{
    var lag0 = await relay.LoopLagAsync();
    var delay0 = await relay.QueueDelayAsync();
    // The runtime counters are asked for again when the window starts: asked once now, the node has compiled that
    // request's path before the window (a node held below one core runs with tiered compilation off, and a first use
    // compiled fully optimised inside the window cost it a burst of CPU in the measured periods).
    await relay.RuntimeAsync();
    var competitor0 = competitor?.CpuMilliseconds() ?? 0;
    allocations?.Start();
    var throttling = new List<Throttling>(2);
    // The runtime's counters (allocation, collections) are asked for when the window starts, without blocking the
    // generator: what the start-up costs (the latching packets' one-time drop summaries, first-use compiling) is not
    // counted per streamed packet.
    Task<RuntimeStats?>? runtimeAtWindow = null;
    // The generator runs on a thread of its own, for every relay alike. After an await (a node opened over Akka.Remote)
    // this method continues on a thread-pool worker, while a relay started without one (the C reference) kept the main
    // thread: the generator then streamed on a pool worker for one relay and not for the other, and a pool worker shares
    // its cores with the pool's spinning idle workers (measured 2026-11-30: 13,240 preemptions and 1.0 s run-queue wait
    // in 8 s on a worker, against 2,671 and 0.48 s on the main thread; its schedule lag p99 11-92 ms against 0.5-12 ms).
    var r = await Task.Factory.StartNew(() => gen.Stream(pps, seconds, warmup, () =>
    {
        if (quota is not null) throttling.Add(quota.Stat());
        runtimeAtWindow ??= relay.RuntimeAsync();
        return relay.CpuMilliseconds();
    }), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    var rt0 = runtimeAtWindow is null ? null : await runtimeAtWindow;
    // sampled over the warm-up and the window: packets counted in the window, scaled to both at the same rate
    allocations?.StopAndPrint((long)(r.Received * (seconds + warmup) / seconds), "packet");
    var competitorPct = competitor is null ? (double?)null : (competitor.CpuMilliseconds() - competitor0) / (seconds + warmup + 0.2) / 10;
    var rt1 = await relay.RuntimeAsync();
    var lag1 = await relay.LoopLagAsync();
    var delay1 = await relay.QueueDelayAsync();
    var relayCpu = r.RelayCpuMs - (relay.InProcess ? r.GeneratorCpuMs : 0);
    // the lag window includes the warm-up (the node's histogram is read before and after the whole stream)
    return new Measured(r, relayCpu, rt0, rt1, lag1?.Since(lag0), competitorPct, throttling.Count == 2 ? throttling[1].Since(throttling[0]) : null,
        delay1?.Since(delay0));
}

// A relay started inside its group (--quota-at-start) or not; the group is only for the launch, the relay stays in it.
async Task<IReadOnlyList<(int Left, int Right)>> StartHeld(RelayUnderTest relay, CpuQuota? group)
{
    RelayUnderTest.LaunchGroup = group?.Directory;
    try { return await relay.StartAsync(opts.Channels); }
    finally { RelayUnderTest.LaunchGroup = null; }
}

var stream = new List<StreamRow>();
// Interleaved: round 1 of every relay, then round 2, ... so drift in the machine's load hits all alike.
for (var round = 1; round <= opts.Rounds; round++)
{
    foreach (var name in opts.Relays)
    {
        using var quota = new QuotaHolder();
        var held = opts.RelayCpuQuota is not null && !opts.Overload && !opts.InProcess && name != "direct";
        if (held && opts.QuotaAtStart) quota.Set(CpuQuota.Create($"actorrelay-bench-{Environment.ProcessId}-{k}", opts.RelayCpuQuota!.Value, opts.RelayCpuPeriod));
        await using var relay = Make(name, k++);
        var ports = await StartHeld(relay, quota.Quota);
        if (held && !opts.QuotaAtStart)
            quota.Set(CpuQuota.Apply(relay.Pid, opts.RelayCpuQuota!.Value, opts.RelayCpuPeriod)); // the stream rounds are held too, unless the quota is for the overload run
        using var gen = new LoadGenerator(ports, 24000 + opts.PortOffset, opts.Size);
        // socket-ng: NG calls set up and deleted through the warm-up and the window, on a thread of their own, after
        // --ng-warmup calls set up and deleted before the stream (unmeasured: a fresh node's first calls are compiled code)
        using var ngClient = name == "socket-ng" ? new NgLoadClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, NgBesidePort(k - 1))) : null;
        for (var warmed = 0; ngClient is not null && warmed < opts.NgWarmup; warmed += 1000)
        {
            ngClient.Setup(Math.Min(1000, opts.NgWarmup - warmed), 32, () => 0);
            ngClient.DeleteAll(32);
        }
        gen.Latch();
        var ngLoad = ngClient is null ? null
            : Task.Factory.StartNew(() => ngClient.Steady(opts.NgRate, opts.Warmup + opts.Seconds, NgBesideLive(), spin: false),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var m = await Measure(relay, gen, opts.Pps, opts.Seconds, opts.Warmup, quota.Quota);
        var row = StreamRow.Of(name + (relay.InProcess ? " (in-process)" : ""), round, m, opts.RelayCpuQuota is { } pct && !opts.Overload ? pct : null);
        if (ngLoad is not null)
        {
            var ng = await ngLoad;
            row = row with { ng_rate = opts.NgRate, ng_calls_per_s = Math.Round(ng.CallsPerSecond), ng_offer_p50_ms = ng.OfferP50Ms,
                ng_offer_p99_ms = ng.OfferP99Ms, ng_errors = ng.Errors };
            Console.WriteLine($"  {name}: NG calls at {opts.NgRate}/s beside the stream: {ng.CallsPerSecond:F0}/s set up, offer p50 {ng.OfferP50Ms:F2} ms, " +
                              $"p99 {ng.OfferP99Ms:F2} ms, {ng.Errors} errors, {ng.Retransmissions} retransmissions");
        }
        stream.Add(row);
        if (await relay.DropsAsync() is { Count: > 0 } drops)
            Console.WriteLine($"  {name} dropped: {string.Join(", ", drops.Select(d => $"{d.Key} {d.Value}"))}");
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
        using var quota = new QuotaHolder();
        var held = opts.RelayCpuQuota is not null && !opts.InProcess && name != "direct";
        if (held && opts.QuotaAtStart) quota.Set(CpuQuota.Create($"actorrelay-bench-{Environment.ProcessId}-{k}", opts.RelayCpuQuota!.Value, opts.RelayCpuPeriod));
        await using var relay = Make(name, k++);
        var ports = await StartHeld(relay, quota.Quota);
        if (held && !opts.QuotaAtStart) // after start-up: only the steady state is held back (unless --quota-at-start)
            quota.Set(CpuQuota.Apply(relay.Pid, opts.RelayCpuQuota!.Value, opts.RelayCpuPeriod));
        using var gen = new LoadGenerator(ports, 24000 + opts.PortOffset, opts.Size);
        gen.Latch();
        foreach (var (phase, pps) in new[] { ("nominal", opts.Pps), ("double", opts.Pps * 2), ("recovered", opts.Pps) })
        {
            var m = await Measure(relay, gen, pps, opts.Seconds, phase == "nominal" ? opts.Warmup : 0.5, quota.Quota);
            var r = m.Stream;
            var row = new
            {
                relay = name, phase, channels = opts.Channels, relay_cpu_quota_pct = opts.RelayCpuQuota, offered_pps = Math.Round(r.OfferedPps), delivered_pps = Math.Round(r.DeliveredPps),
                loss_pct = Math.Round(r.LossPercent, 3), p50_ms = Math.Round(r.P50Ms, 3), p99_ms = Math.Round(r.P99Ms, 3), max_ms = Math.Round(r.MaxMs, 3),
                relay_cpu_pct = Math.Round(m.RelayCpuMs / (r.MeasuredSeconds * 10), 1),
                generator_cpu_pct = Math.Round(r.GeneratorCpuMs / (r.MeasuredSeconds * 10), 1), generator_limited = r.GeneratorLimited,
                throttled_periods_pct = m.Throttling?.ThrottledPercent, throttled_ms = m.Throttling?.ThrottledMilliseconds,
                gc_collections = m.Before is { } a && m.After is { } b ? b.Gen0Collections + b.Gen1Collections + b.Gen2Collections - a.Gen0Collections - a.Gen1Collections - a.Gen2Collections : (int?)null,
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
            using var gen = new LoadGenerator(ports, 24000 + opts.PortOffset, opts.Size);
            gen.Latch();
            var m = await Measure(relay, gen, opts.Pps, opts.Seconds, 3);
            var r = m.Stream;
            var ok = r.LossPercent < 0.1 && r.P99Ms < 5;
            var row = new
            {
                relay = name, channels, delivered_pps = Math.Round(r.DeliveredPps), loss_pct = Math.Round(r.LossPercent, 4),
                p99_ms = Math.Round(r.P99Ms, 3), cpu_us_per_packet = Math.Round(m.RelayCpuMs * 1000.0 / Math.Max(1, r.Received), 2),
                holds = ok, generator_cpu_pct = Math.Round(r.GeneratorCpuMs / (r.MeasuredSeconds * 10), 1), generator_limited = r.GeneratorLimited,
            };
            ramp.Add(row);
            Console.WriteLine(JsonSerializer.Serialize(row));
            if (!ok) break;
            held = channels;
        }
        var summary = new { relay = name, max_channels_held = held, max_pps_held = held * 2 * opts.Pps };
        ramp.Add(summary);
        Console.WriteLine(JsonSerializer.Serialize(summary));
    }
    report["ramp"] = ramp;
}

var idle = new List<IdleRow>();
if (opts.IdleChannels > 0)
{
    foreach (var name in opts.Relays.Where(r => r is "socket" or "socket-dotnet" or "socket-metrics" or "socket-bare" or "socket-no-journal" or "baseline" or "akka-io"))
    {
        await using var relay = Make(name, k++);
        await relay.StartAsync(0);
        var node = relay switch { ActorRelayNode n => n.Node, InProcessActorRelay p => p.Node, _ => throw new InvalidOperationException() };
        async Task<RuntimeStats> Collected() => await node.Ask<RuntimeStats>(new GetRuntimeStats(CollectGarbage: true), TimeSpan.FromSeconds(30));
        await Task.Delay(1000);
        var empty = await Collected();
        var rss0 = relay.RssBytes();
        var benchCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var nodeBefore = await node.Ask<RuntimeStats>(GetRuntimeStats.Instance, TimeSpan.FromSeconds(30));
        var sw = Stopwatch.StartNew();
        var opened = await Task.WhenAll(Enumerable.Range(0, opts.IdleChannels).Select(i =>
            node.Ask<object>(new OpenChannel($"idle-{i}", SubscribeOpener: false), TimeSpan.FromSeconds(60))));
        var openSeconds = sw.Elapsed.TotalSeconds;
        var benchCpuOpen = (Process.GetCurrentProcess().TotalProcessorTime - benchCpu0).TotalMilliseconds;
        var nodeAfter = await node.Ask<RuntimeStats>(GetRuntimeStats.Instance, TimeSpan.FromSeconds(30));
        await Task.Delay(1000);
        var rss1 = relay.RssBytes();
        var loaded = await Collected();
        var rss2 = relay.RssBytes();
        sw.Restart();
        await Task.WhenAll(Enumerable.Range(0, opts.IdleChannels).Select(i =>
            node.Ask<object>(new CloseChannel($"idle-{i}"), TimeSpan.FromSeconds(60))));
        var closeSeconds = sw.Elapsed.TotalSeconds;
        // The same burst again on the now warm node (the open path compiled, the pools grown): what a node that has
        // been running a while does, next to the cold figure above. Tiered compilation takes several bursts to reach
        // its optimized code (each burst compiles more at tier 0 and tier 1, with PGO through an instrumented tier
        // first), so the burst is repeated --warm-bursts times and the last one is reported; every burst is printed.
        object[] openedWarm = [];
        double warmSeconds = 0, benchCpuWarm = 0;
        RuntimeStats warmBefore = nodeAfter, warmAfter = nodeAfter;
        for (var burst = 1; burst <= opts.WarmBursts; burst++)
        {
            await Task.Delay(500);
            if (burst == opts.WarmBursts) allocations?.Start();
            warmBefore = await node.Ask<RuntimeStats>(GetRuntimeStats.Instance, TimeSpan.FromSeconds(30));
            var benchCpu1 = Process.GetCurrentProcess().TotalProcessorTime;
            sw.Restart();
            var b = burst;
            openedWarm = await Task.WhenAll(Enumerable.Range(0, opts.IdleChannels).Select(i =>
                node.Ask<object>(new OpenChannel($"idle-warm-{b}-{i}", SubscribeOpener: false), TimeSpan.FromSeconds(60))));
            warmSeconds = sw.Elapsed.TotalSeconds;
            benchCpuWarm = (Process.GetCurrentProcess().TotalProcessorTime - benchCpu1).TotalMilliseconds;
            if (burst == opts.WarmBursts) allocations?.StopAndPrint(opts.IdleChannels, "warm open");
            warmAfter = await node.Ask<RuntimeStats>(GetRuntimeStats.Instance, TimeSpan.FromSeconds(30));
            Console.Error.WriteLine($"{name}: warm burst {burst}: {opts.IdleChannels / warmSeconds:F0} opens/s, node " +
                                    $"{(warmAfter.CpuMilliseconds - warmBefore.CpuMilliseconds) * 1000 / opts.IdleChannels:F0} µs CPU/open, " +
                                    $"bench {benchCpuWarm * 1000 / opts.IdleChannels:F0} µs CPU/open");
            await Task.WhenAll(Enumerable.Range(0, opts.IdleChannels).Select(i =>
                node.Ask<object>(new CloseChannel($"idle-warm-{b}-{i}"), TimeSpan.FromSeconds(60))));
        }
        var status = await node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(10));
        double PerChannelKb(long bytes) => Math.Round(bytes / 1024.0 / opts.IdleChannels, 2);
        double PerOpenUs(double ms) => Math.Round(ms * 1000 / opts.IdleChannels, 1);
        // In process the node's CPU is the bench's own: only the node's figure is given.
        var row = new IdleRow(
            name + (relay.InProcess ? " (in-process)" : ""), opts.IdleChannels, opened.Count(o => o is ChannelOpened),
            Math.Round(rss0 / 1048576.0, 1), Math.Round(rss1 / 1048576.0, 1), Math.Round(rss2 / 1048576.0, 1),
            PerChannelKb(rss1 - rss0), PerChannelKb(rss2 - rss0), PerChannelKb(loaded.ManagedHeapBytes - empty.ManagedHeapBytes),
            Math.Round(opts.IdleChannels / openSeconds), Math.Round(opts.IdleChannels / closeSeconds),
            status.PortsTotal - status.PortsFree, relay.InProcess ? "local messages" : "Akka.Remote",
            node_cpu_us_per_open: PerOpenUs(nodeAfter.CpuMilliseconds - nodeBefore.CpuMilliseconds),
            node_kb_allocated_per_open: PerChannelKb(nodeAfter.AllocatedBytes - nodeBefore.AllocatedBytes),
            bench_cpu_us_per_open: relay.InProcess ? null : PerOpenUs(benchCpuOpen),
            opens_per_second_warm: Math.Round(opts.IdleChannels / warmSeconds),
            opened_ok_warm: openedWarm.Count(o => o is ChannelOpened),
            node_cpu_us_per_open_warm: PerOpenUs(warmAfter.CpuMilliseconds - warmBefore.CpuMilliseconds),
            node_kb_allocated_per_open_warm: PerChannelKb(warmAfter.AllocatedBytes - warmBefore.AllocatedBytes),
            bench_cpu_us_per_open_warm: relay.InProcess ? null : PerOpenUs(benchCpuWarm));
        idle.Add(row);
        Console.WriteLine(JsonSerializer.Serialize(row));
    }
    report["idle"] = idle;
}

var dir = Path.Combine(root, "bench", "results");
Directory.CreateDirectory(dir);
var file = Path.Combine(dir, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
File.WriteAllText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
Summary.Print(stream, idle);
Console.WriteLine($"results: {file}");
await system.Terminate();
return 0;

/// <summary>Disposes the quota after the relay (declared first, so disposed last): the group is empty by then.</summary>
internal sealed class QuotaHolder : IDisposable
{
    private CpuQuota? _quota;
    public CpuQuota? Quota => _quota;
    public void Set(CpuQuota quota) => _quota = quota;
    public void Dispose() => _quota?.Dispose();
}

internal sealed record Measured(StreamResult Stream, double RelayCpuMs, RuntimeStats? Before, RuntimeStats? After, LoopLag? Lag = null,
    double? CompetitorCpuPct = null, Throttling? Throttling = null, LoopLag? QueueDelay = null);

internal sealed record StreamRow(
    string relay, int round, int channels, double offered_pps, double delivered_pps, double loss_pct, long reordered,
    double p50_ms, double p99_ms, double p999_ms, double max_ms, double cpu_us_per_packet, double relay_cpu_pct,
    int? gc_collections, double? gc_pause_ms, double? alloc_bytes_per_packet,
    double generator_cpu_pct, double generator_send_lag_p99_ms, bool generator_limited, long generator_send_errors,
    int? relay_cpu_quota_pct = null, double? competitor_cpu_pct = null,
    long? loop_wakeups = null, double? loop_lag_p99_ms = null, double? loop_lag_p999_ms = null, long? loop_wakeups_over_5ms = null,
    int? gc_gen2_collections = null, double? throttled_periods_pct = null, double? throttled_ms = null,
    double? arrival_p50_ms = null, double? arrival_p99_ms = null, double? arrival_p999_ms = null, double? arrival_max_ms = null,
    double? queue_delay_p99_ms = null, double? queue_delay_p999_ms = null,
    int? ng_rate = null, double? ng_calls_per_s = null, double? ng_offer_p50_ms = null, double? ng_offer_p99_ms = null, long? ng_errors = null)
{
    public static StreamRow Of(string relay, int round, Measured m, int? quota = null)
    {
        var lag = m.Lag;
        var r = m.Stream;
        var (a, b) = (m.Before, m.After);
        return new StreamRow(relay, round, r.Channels, Math.Round(r.OfferedPps), Math.Round(r.DeliveredPps), Math.Round(r.LossPercent, 4), r.Reordered,
            Math.Round(r.P50Ms, 3), Math.Round(r.P99Ms, 3), Math.Round(r.P999Ms, 3), Math.Round(r.MaxMs, 3),
            r.Received == 0 ? double.NaN : Math.Round(m.RelayCpuMs * 1000.0 / r.Received, 2),
            Math.Round(m.RelayCpuMs / (r.MeasuredSeconds * 10), 1),
            a is null ? null : b!.Gen0Collections + b.Gen1Collections + b.Gen2Collections - a.Gen0Collections - a.Gen1Collections - a.Gen2Collections,
            a is null ? null : Math.Round(b!.GcPauseMilliseconds - a.GcPauseMilliseconds, 2),
            a is null || r.Received == 0 ? null : Math.Round((b!.AllocatedBytes - a.AllocatedBytes) / (double)r.Received, 1),
            Math.Round(r.GeneratorCpuMs / (r.MeasuredSeconds * 10), 1), Math.Round(r.SendLagP99Ms, 3), r.GeneratorLimited, r.SendErrors,
            quota, m.CompetitorCpuPct is { } c ? Math.Round(c, 1) : null,
            lag?.Count, lag is null ? null : Math.Round(lag.QuantileMs(0.99), 3), lag is null ? null : Math.Round(lag.QuantileMs(0.999), 3), lag?.Above(5),
            a is null ? null : b!.Gen2Collections - a.Gen2Collections,
            m.Throttling?.ThrottledPercent, m.Throttling?.ThrottledMilliseconds,
            Math.Round(r.ArrivalP50Ms, 3), Math.Round(r.ArrivalP99Ms, 3), Math.Round(r.ArrivalP999Ms, 3), Math.Round(r.ArrivalMaxMs, 3),
            m.QueueDelay is { Count: > 0 } q ? Math.Round(q.QuantileMs(0.99), 3) : null,
            m.QueueDelay is { Count: > 0 } q2 ? Math.Round(q2.QuantileMs(0.999), 3) : null);
    }
}

internal sealed record IdleRow(
    string relay, int channels, int opened_ok, double rss_empty_mb, double rss_loaded_mb, double rss_loaded_after_gc_mb,
    double kb_per_idle_channel_rss, double kb_per_idle_channel_rss_after_gc, double kb_per_idle_channel_managed_live,
    double opens_per_second, double closes_per_second, int ports_leaked, string protocol_path,
    double node_cpu_us_per_open, double node_kb_allocated_per_open, double? bench_cpu_us_per_open,
    double opens_per_second_warm, int opened_ok_warm, double node_cpu_us_per_open_warm, double node_kb_allocated_per_open_warm,
    double? bench_cpu_us_per_open_warm);

/// <summary>The run at a glance: medians over rounds per relay, ratios to the C reference and to rtpengine.</summary>
internal static class Summary
{
    public static void Print(IReadOnlyList<StreamRow> stream, IReadOnlyList<IdleRow> idle)
    {
        if (stream.Count > 0)
        {
            var byRelay = stream.GroupBy(r => r.relay).ToList();
            var c = byRelay.FirstOrDefault(g => g.Key == "c-epoll");
            var cCpu = c is null ? double.NaN : Median(c.Select(r => r.cpu_us_per_packet));
            Console.WriteLine();
            var cP99 = c is null ? double.NaN : Median(c.Select(r => r.p99_ms));
            var cP999 = c is null ? double.NaN : Median(c.Select(r => r.p999_ms));
            var cArrivalP99 = c is null ? double.NaN : Median(c.Select(r => r.arrival_p99_ms ?? double.NaN));
            var cArrivalP999 = c is null ? double.NaN : Median(c.Select(r => r.arrival_p999_ms ?? double.NaN));
            // p50/p99/p99.9: until the generator read each packet; "arrived": until it was in the client's socket (the relay's path alone)
            Console.WriteLine($"| relay ({byRelay[0].First().channels} channels, medians of {byRelay[0].Count()}) | CPU µs/packet | × C | p50 ms | p99 ms | p99 × C | p99.9 ms | p99.9 × C | arrived p99 ms | × C | arrived p99.9 ms | × C | loss % | GC | alloc B/packet | generator CPU % | loop lag p99 / p99.9 ms | wake-ups > 5 ms | queue delay p99 / p99.9 ms | throttled periods % / ms |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var g in byRelay)
            {
                var cpu = Median(g.Select(r => r.cpu_us_per_packet));
                var p99 = Median(g.Select(r => r.p99_ms));
                var p999 = Median(g.Select(r => r.p999_ms));
                Console.WriteLine($"| {g.Key} | {cpu:F2} | {cpu / cCpu:F2} | {Median(g.Select(r => r.p50_ms)):F2} | {p99:F2} | {p99 / cP99:F2} | " +
                                  $"{p999:F2} | {p999 / cP999:F2} | " +
                                  $"{Median(g.Select(r => r.arrival_p99_ms ?? double.NaN)):F2} | {Median(g.Select(r => r.arrival_p99_ms ?? double.NaN)) / cArrivalP99:F2} | " +
                                  $"{Median(g.Select(r => r.arrival_p999_ms ?? double.NaN)):F2} | {Median(g.Select(r => r.arrival_p999_ms ?? double.NaN)) / cArrivalP999:F2} | " +
                                  $"{Median(g.Select(r => r.loss_pct)):F3} | " +
                                  $"{(g.First().gc_collections is null ? "—" : Median(g.Select(r => (double)r.gc_collections!.Value)).ToString("F0"))} | " +
                                  $"{(g.First().alloc_bytes_per_packet is null ? "—" : Median(g.Select(r => r.alloc_bytes_per_packet!.Value)).ToString("F1"))} | " +
                                  $"{Median(g.Select(r => r.generator_cpu_pct)):F0} | " +
                                  (g.First().loop_lag_p99_ms is null ? "— | — |"
                                      : $"{Median(g.Select(r => r.loop_lag_p99_ms!.Value)):F2} / {Median(g.Select(r => r.loop_lag_p999_ms!.Value)):F2} | " +
                                        $"{Median(g.Select(r => (double)r.loop_wakeups_over_5ms!.Value)):F0} |") +
                                  (g.First().queue_delay_p99_ms is null ? " — |"
                                      : $" {Median(g.Select(r => r.queue_delay_p99_ms ?? double.NaN)):F2} / {Median(g.Select(r => r.queue_delay_p999_ms ?? double.NaN)):F2} |") +
                                  (g.First().throttled_periods_pct is null ? " — |"
                                      : $" {Median(g.Select(r => r.throttled_periods_pct!.Value)):F1} / {Median(g.Select(r => r.throttled_ms!.Value)):F0} |"));
            }
        }
        if (idle.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("| relay | channels | KB/idle channel: RSS as opened | RSS after GC | managed live | opened/s | closed/s | ports leaked | node µs CPU/open | node KB alloc/open | bench µs CPU/open | warm: opened/s | node µs/open | node KB/open | bench µs/open |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var r in idle)
                Console.WriteLine($"| {r.relay} | {r.channels} | {r.kb_per_idle_channel_rss:F1} | {r.kb_per_idle_channel_rss_after_gc:F1} | " +
                                  $"{r.kb_per_idle_channel_managed_live:F1} | {r.opens_per_second:F0} | {r.closes_per_second:F0} | {r.ports_leaked} | " +
                                  $"{r.node_cpu_us_per_open:F0} | {r.node_kb_allocated_per_open:F1} | {(r.bench_cpu_us_per_open is { } b ? b.ToString("F0") : "—")} | " +
                                  $"{r.opens_per_second_warm:F0} | {r.node_cpu_us_per_open_warm:F0} | {r.node_kb_allocated_per_open_warm:F1} | " +
                                  $"{(r.bench_cpu_us_per_open_warm is { } w ? w.ToString("F0") : "—")} |");
        }
    }
}

internal sealed record BenchOptions(string[] Relays, int Channels, int Pps, int Size, double Seconds, int Rounds, int IdleChannels, int[] Ramp,
    bool Overload = false, int? RelayCpu = null, bool InProcess = false, int? RelayCpuQuota = null, string? BaselineNode = null,
    bool NgSetup = false, int NgCalls = 4000, int NgWindow = 32, int NgRate = 1000, double NgSeconds = 5, int NgWarmup = 3000, int NgLive = 2000, int WarmBursts = 3,
    double Soak = 0, double SoakInterval = 60, double SoakWarmupMinutes = 5, bool MallocInfo = false, int SoakPortBase = 10000,
    IReadOnlyDictionary<string, string>? NodeEnv = null, bool RelaysGiven = false, bool ChannelsGiven = false,
    int Competitors = 0, bool LoopLag = false, int PortOffset = 0, double Warmup = 3,
    bool Restart = false, int RestartPortBase = 6000, int RelayCpuPeriod = CpuQuota.DefaultPeriodMicroseconds,
    bool QuotaAtStart = false, bool AllocTypes = false, bool GcShape = false, int GcLive = 2000)
{
    /// <summary>Node control planes from here (4600 for the default --port-base 10000; 4560 for 6000).</summary>
    public int ControlPortBase => 4600 + PortOffset / 10;

    /// <summary>Stream clients (and rtpengine, direct) from here: 24000 for the default --port-base 10000.</summary>
    public int ClientPortBase => 24000 + PortOffset;

    /// <summary>Extra environment of the node process (--node-env K=V), e.g. MALLOC_ARENA_MAX=2.</summary>
    public IReadOnlyDictionary<string, string> NodeEnvironment => NodeEnv ?? new Dictionary<string, string>();

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions(["auto"], 500, 50, 172, 10, 3, 4000, []);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--relays" => o with { Relays = Next().Split(','), RelaysGiven = true },
                "--channels" => o with { Channels = int.Parse(Next()), ChannelsGiven = true },
                "--pps" => o with { Pps = int.Parse(Next()) },
                "--size" => o with { Size = int.Parse(Next()) },
                "--seconds" => o with { Seconds = double.Parse(Next()) },
                "--rounds" => o with { Rounds = int.Parse(Next()) },
                "--idle-channels" => o with { IdleChannels = int.Parse(Next()) },
                "--ramp" => o with { Ramp = Next().Split(',').Select(int.Parse).ToArray() },
                "--overload" => o with { Overload = true },
                "--relay-cpu" => o with { RelayCpu = int.Parse(Next()) },
                "--in-process" => o with { InProcess = true },
                "--relay-cpu-quota" => o with { RelayCpuQuota = int.Parse(Next()) },
                "--quota-at-start" => o with { QuotaAtStart = true },
                "--relay-cpu-period" => o with { RelayCpuPeriod = int.Parse(Next()) * 1000 }, // ms
                "--baseline-node" => o with { BaselineNode = Path.GetFullPath(Next()) },
                "--ng-setup" => o with { NgSetup = true },
                "--gc-shape" => o with { GcShape = true },
                "--gc-live" => o with { GcLive = int.Parse(Next()) },
                "--ng-calls" => o with { NgCalls = int.Parse(Next()) },
                "--ng-warmup" => o with { NgWarmup = int.Parse(Next()) },
                "--ng-window" => o with { NgWindow = int.Parse(Next()) },
                "--ng-rate" => o with { NgRate = int.Parse(Next()) },
                "--ng-live" => o with { NgLive = int.Parse(Next()) },
                "--warm-bursts" => o with { WarmBursts = Math.Max(1, int.Parse(Next())) },
                "--ng-seconds" => o with { NgSeconds = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--soak" => o with { Soak = double.Parse(Next()) },
                "--soak-interval" => o with { SoakInterval = double.Parse(Next()) },
                "--soak-warmup" => o with { SoakWarmupMinutes = double.Parse(Next()) / 60 },
                "--malloc-info" => o with { MallocInfo = true },
                "--soak-ports" => o with { SoakPortBase = int.Parse(Next()) },
                "--competitor" => o with { Competitors = int.Parse(Next()) },
                "--loop-lag" => o with { LoopLag = true },
                "--port-offset" => o with { PortOffset = int.Parse(Next()) },
                "--warmup" => o with { Warmup = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                "--restart" => o with { Restart = true },
                "--restart-ports" => o with { RestartPortBase = int.Parse(Next()) },
                "--port-base" => o with { PortOffset = int.Parse(Next()) - 10000 }, // the relays' pool from BASE: --port-offset BASE-10000
                "--alloc-types" => o with { AllocTypes = true },
                "--node-env" => o with { NodeEnv = WithEnv(o.NodeEnv, Next()) },
                _ => throw new ArgumentException($"unknown option {args[i]}; see docs/benchmarks.md"),
            };
        }
        return o;
    }

    private static Dictionary<string, string> WithEnv(IReadOnlyDictionary<string, string>? env, string kv)
    {
        var eq = kv.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"--node-env needs NAME=VALUE, got {kv}");
        return new Dictionary<string, string>(env ?? new Dictionary<string, string>()) { [kv[..eq]] = kv[(eq + 1)..] };
    }
}
