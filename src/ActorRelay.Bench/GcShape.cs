using System.Diagnostics;
using System.Runtime;
using System.Text.Json;
using static ActorRelay.Bench.BenchMath;

namespace ActorRelay.Bench;

/// <summary>
/// <c>--gc-shape</c>: what a youngest-generation collection costs per MB it promotes, on this machine, for two heap
/// shapes with the same bytes, run in child processes on server GC (the node's collector). A "call" is a graph of
/// <see cref="ObjectsPerCall"/> small objects (~24 KB, about what an NG call keeps) held in a ring of <c>--gc-live</c>
/// calls (2,000), replaced at <c>--ng-rate</c> calls/s (1,000) for <c>--seconds</c>, each call with as many short-lived
/// 480-byte arrays as it has objects (~120 KB of garbage). <b>contiguous</b>: the garbage after the call, so the call's
/// survivors lie together; <b>interleaved</b>: one garbage array after each of the call's objects, as when a call's
/// state is made bit by bit among the messages and buffers of its setup (the node's case). Rounds interleave the two.
/// The node's pauses (docs/benchmarks.md, "NG reply time") are set beside these to tell the machine's speed from the
/// shape of what survives.
/// </summary>
internal static class GcShape
{
    public const int ObjectsPerCall = 250;
    private const int GarbageBytes = 456; // + the array's header: 480 bytes

    public static async Task<int> Run(BenchOptions o)
    {
        var self = typeof(GcShape).Assembly.Location;
        var rows = new List<Row>();
        for (var round = 1; round <= Math.Max(1, o.Rounds); round++)
            foreach (var shape in new[] { "contiguous", "interleaved" })
            {
                var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true };
                foreach (var a in new[] { self, "--gc-shape-child", shape, o.NgRate.ToString(), o.GcLive.ToString(), o.Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
                    psi.ArgumentList.Add(a);
                psi.Environment["DOTNET_gcServer"] = "1";
                psi.Environment["DOTNET_gcConcurrent"] = "1";
                using var child = Process.Start(psi)!;
                var output = await child.StandardOutput.ReadToEndAsync();
                await child.WaitForExitAsync();
                if (child.ExitCode != 0) throw new InvalidOperationException($"the {shape} child failed ({child.ExitCode}): {output}");
                var row = JsonSerializer.Deserialize<Row>(output.Trim().Split('\n')[^1])! with { round = round };
                Console.WriteLine(JsonSerializer.Serialize(row));
                rows.Add(row);
            }
        Console.WriteLine();
        Console.WriteLine($"| shape (medians of {rows.Count / 2} rounds, server GC, {o.NgRate} calls/s, {o.GcLive} live) | youngest-generation collections | pause ms | promoted MB | pause ms per MB promoted |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var g in rows.GroupBy(r => r.shape))
            Console.WriteLine($"| {g.Key} | {Median(g.Select(r => (double)r.collections)):F0} | {Median(g.Select(r => r.pause_ms_median)):F1} | " +
                              $"{Median(g.Select(r => r.promoted_mb_median)):F1} | {Median(g.Select(r => r.ms_per_mb_median)):F2} |");
        var dir = Path.Combine(Paths.Root, "bench", "results");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-gc-shape.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new { started = DateTime.UtcNow, options = o, gc_shape = rows },
            new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"results: {file}");
        return 0;
    }

    /// <summary>The child: makes calls at the rate, then prints one JSON row of its youngest-generation collections.</summary>
    public static int Child(string shape, int rate, int live, double seconds)
    {
        var interleaved = shape switch
        {
            "interleaved" => true,
            "contiguous" => false,
            _ => throw new ArgumentException($"unknown shape {shape}"),
        };
        var ring = new Part?[live];
        var clock = Stopwatch.StartNew();
        long made = 0, seen = 0;
        var next = 0;
        var warm = seconds / 4;  // the first quarter fills the ring and is not counted
        var samples = new List<(double PauseMs, double PromotedMb)>();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var due = (long)(clock.Elapsed.TotalSeconds * rate);
            for (; made < due; made++)
            {
                ring[next] = Call(interleaved);
                next = (next + 1) % live;
            }
            var info = GC.GetGCMemoryInfo(GCKind.Ephemeral);
            if (info.Index != seen && info.Index != 0)
            {
                seen = info.Index;
                if (info.Generation == 0 && clock.Elapsed.TotalSeconds > warm)
                    samples.Add((info.PauseDurations[0].TotalMilliseconds, info.PromotedBytes / 1e6));
            }
            Thread.Sleep(1);
        }
        GC.KeepAlive(ring);
        double Med(Func<(double PauseMs, double PromotedMb), double> f) => Median(samples.Select(f));
        Console.WriteLine(JsonSerializer.Serialize(new Row(shape, 0, GCSettings.IsServerGC, made, samples.Count,
            Med(s => s.PauseMs), Med(s => s.PromotedMb), Med(s => s.PauseMs / Math.Max(0.01, s.PromotedMb)))));
        return 0;
    }

    private static object? _garbage;

    private static Part Call(bool interleaved)
    {
        var root = new Part();
        var current = root;
        for (var i = 0; i < ObjectsPerCall - 1; i++)
        {
            var part = new Part { Root = root, Data = new byte[16], A = i, B = -i };
            current.Next = part;
            current = part;
            if (interleaved) _garbage = new byte[GarbageBytes];
        }
        if (!interleaved)
            for (var i = 0; i < ObjectsPerCall; i++) _garbage = new byte[GarbageBytes];
        return root;
    }

    private sealed class Part
    {
        public Part? Next, Root;
        public byte[]? Data;
        public long A, B;
    }

    internal sealed record Row(string shape, int round, bool server_gc, long calls, int collections, double pause_ms_median,
        double promoted_mb_median, double ms_per_mb_median);
}
