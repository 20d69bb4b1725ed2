using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using ActorRelay.Protocol;

namespace ActorRelay.Bench;

/// <summary>One sample of a soak: the node's memory by kind, before and after a forced collection, and the stream's health.</summary>
internal sealed record SoakSample(
    double minute, double rss_mb, double rss_after_gc_mb, double managed_heap_mb, double managed_live_mb,
    double gc_heap_mb, double malloc_main_mb, double malloc_arenas_mb, int malloc_arena_count,
    double thread_stacks_mb, int threads, double jit_code_mb, double files_mb, double other_anon_mb, int descriptors,
    double? malloc_in_use_mb, double? malloc_system_mb, double? malloc_free_mb, double? malloc_mmap_mb, int? malloc_arenas,
    double delivered_pps, double loss_pct, double p99_ms, double relay_cpu_pct, int gc_collections, long generator_foreign_events, long generator_off_scale);

/// <summary>
/// Soak: one ActorRelay node process with N channels streaming at a fixed rate for a long time, sampled every interval:
/// RSS, RSS after a forced full collection (<see cref="GetRuntimeStats"/> with CollectGarbage, an administrator's
/// command), the managed heap before and after it, resident memory by kind of mapping (<see cref="ProcessMemory"/>),
/// threads and descriptors, and, with --malloc-info, glibc malloc's own accounting (<see cref="MallocInfo"/>, through
/// gdb). The summary fits a line to each figure (MB per minute) over the first and the second half of the run after a
/// warm-up, so growth that levels off shows as a second half near zero.
/// </summary>
internal static class Soak
{
    public static async Task<int> RunAsync(BenchOptions opts, ActorSystem system)
    {
        var relayName = opts.RelaysGiven ? opts.Relays[0] : "socket";
        var channels = opts.ChannelsGiven ? opts.Channels : 100;
        var interval = opts.SoakInterval;
        var env = new Dictionary<string, string> { ["ACTORRELAY__MAX_LIFETIME"] = "0" }; // a soak may outlive 4 h; --node-env wins
        foreach (var (k, v) in opts.NodeEnvironment) env[k] = v;
        // ports: the node's pool from the base, its control plane at 4600 + base/1000 - 10, clients from base + 14000, so
        // soaks with bases 1000 apart (--soak-ports) run side by side
        var portBase = opts.SoakPortBase;
        ActorRelayNode.MaxIdleChannels = 0; // the pool holds the soak's channels only
        await using var relay = new ActorRelayNode(relayName == "baseline" ? "socket" : relayName, portBase, 4590 + portBase / 1000, system,
            opts.BaselineNode, env);
        var ports = await relay.StartAsync(channels);
        using var gen = new LoadGenerator(ports, portBase + 14000, opts.Size);
        gen.Latch();
        var started = DateTimeOffset.UtcNow;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            soak = relayName, channels, pps_per_direction = opts.Pps, seconds = opts.Soak, interval_seconds = interval,
            node_pid = relay.Pid, node_environment = env, malloc_info = opts.MallocInfo && MallocInfo.Available,
        }));

        var samples = new List<SoakSample>();
        var clock = Stopwatch.StartNew();
        var cpuBefore = relay.CpuMilliseconds();
        while (clock.Elapsed.TotalSeconds < opts.Soak)
        {
            var window = Math.Min(interval, opts.Soak - clock.Elapsed.TotalSeconds);
            var r = gen.Stream(opts.Pps, Math.Max(1, window), 0, relay.CpuMilliseconds);
            var before = await relay.RuntimeAsync();
            var rss = ProcessMemory.Read(relay.Pid);
            var collected = await relay.Node.Ask<RuntimeStats>(new GetRuntimeStats(CollectGarbage: true), TimeSpan.FromSeconds(60));
            var after = ProcessMemory.Read(relay.Pid);
            var malloc = opts.MallocInfo ? MallocInfo.Read(relay.Pid) : null;
            static double Mb(long kb) => Math.Round(kb / 1024.0, 2);
            static double? MbOf(long? bytes) => bytes is { } b ? Math.Round(b / 1048576.0, 2) : null;
            var sample = new SoakSample(
                Math.Round(clock.Elapsed.TotalMinutes, 2), Mb(rss.RssKb), Mb(after.RssKb),
                Math.Round(before!.ManagedHeapBytes / 1048576.0, 2), Math.Round(collected.ManagedHeapBytes / 1048576.0, 2),
                Mb(after.GcHeapKb), Mb(after.MallocMainKb), Mb(after.MallocArenasKb), after.MallocArenaCount,
                Mb(after.ThreadStacksKb), after.Threads, Mb(after.JitCodeKb), Mb(after.FilesKb), Mb(after.OtherAnonKb), after.Descriptors,
                MbOf(malloc?.InUseBytes), MbOf(malloc?.SystemBytes), MbOf(malloc?.FreeBytes), MbOf(malloc?.MmapBytes), malloc?.Arenas,
                Math.Round(r.DeliveredPps), Math.Round(r.LossPercent, 4), Math.Round(r.P99Ms, 3),
                Math.Round(r.RelayCpuMs / (r.MeasuredSeconds * 10), 1),
                collected.Gen0Collections + collected.Gen1Collections + collected.Gen2Collections, gen.ForeignEvents, gen.OffScale);
            samples.Add(sample);
            Console.WriteLine(JsonSerializer.Serialize(sample));
        }
        var cpuSeconds = (relay.CpuMilliseconds() - cpuBefore) / 1000;

        var fits = Fit(samples, opts.SoakWarmupMinutes);
        var report = new Dictionary<string, object>
        {
            ["machine"] = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString() },
            ["options"] = opts, ["relay"] = relayName, ["channels"] = channels, ["node_environment"] = env,
            ["started"] = started, ["node_cpu_seconds"] = Math.Round(cpuSeconds, 1), ["samples"] = samples, ["growth_mb_per_minute"] = fits,
        };
        var dir = Path.Combine(Paths.Root, "bench", "results");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, $"soak-{started:yyyyMMdd-HHmmss}.json");
        File.WriteAllText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));

        Console.WriteLine();
        Console.WriteLine($"soak: {relayName}, {channels} channels x {opts.Pps} packets/s each way, {samples.Count} samples over " +
                          $"{clock.Elapsed.TotalMinutes:F0} min; growth in MB/min (least squares) after a {opts.SoakWarmupMinutes} min warm-up");
        Console.WriteLine("| figure | first | last | whole run | first half | second half |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var f in fits)
            Console.WriteLine($"| {f.figure} | {f.first:F1} | {f.last:F1} | {f.whole:F3} | {f.first_half:F3} | {f.second_half:F3} |");
        Console.WriteLine($"results: {file}");
        return 0;
    }

    internal sealed record Growth(string figure, double first, double last, double whole, double first_half, double second_half);

    /// <summary>Least-squares slope (MB per minute) of each figure after the warm-up, over the whole rest and each half of it.</summary>
    private static List<Growth> Fit(List<SoakSample> samples, double warmupMinutes)
    {
        var figures = new (string Name, Func<SoakSample, double?> Of)[]
        {
            ("rss_mb", s => s.rss_mb), ("rss_after_gc_mb", s => s.rss_after_gc_mb), ("managed_heap_mb", s => s.managed_heap_mb),
            ("managed_live_mb", s => s.managed_live_mb), ("gc_heap_mb", s => s.gc_heap_mb), ("malloc_main_mb", s => s.malloc_main_mb),
            ("malloc_arenas_mb", s => s.malloc_arenas_mb), ("thread_stacks_mb", s => s.thread_stacks_mb), ("jit_code_mb", s => s.jit_code_mb),
            ("files_mb", s => s.files_mb), ("other_anon_mb", s => s.other_anon_mb), ("malloc_in_use_mb", s => s.malloc_in_use_mb),
            ("malloc_system_mb", s => s.malloc_system_mb), ("threads", s => s.threads),
        };
        var steady = samples.Where(s => s.minute >= warmupMinutes).ToList();
        if (steady.Count < 4) steady = samples;
        var half = steady.Count / 2;
        var result = new List<Growth>();
        foreach (var (name, of) in figures)
        {
            if (samples.Count == 0 || of(samples[0]) is null) continue;
            result.Add(new Growth(name, of(samples[0])!.Value, of(samples[^1])!.Value,
                Slope(steady, of), Slope(steady.Take(half).ToList(), of), Slope(steady.Skip(half).ToList(), of)));
        }
        return result;
    }

    private static double Slope(List<SoakSample> xs, Func<SoakSample, double?> of)
    {
        var points = xs.Where(s => of(s) is not null).Select(s => (X: s.minute, Y: of(s)!.Value)).ToList();
        if (points.Count < 2) return double.NaN;
        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        var sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxx == 0 ? double.NaN : Math.Round(points.Sum(p => (p.X - mx) * (p.Y - my)) / sxx, 4);
    }
}
