using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using ActorRelay.Protocol;
using ActorRelay.Client;
using static ActorRelay.Bench.BenchMath;

namespace ActorRelay.Bench;

/// <summary>One restart of a node holding channels: how long media was down, what came back, what leaked.</summary>
internal sealed record RestartRow(
    string stop, int round, int channels, int streaming, int pps,
    double stop_to_exit_ms, double exit_to_all_set_ms,
    double? media_back_median_ms, double? media_back_p95_ms, double? media_back_last_ms, int streaming_not_back, double? pool_bound_ms,
    int channels_before, int channels_after, int channels_lost,
    int pool_sockets_before, int pool_sockets_left_by_old_process, int ports_in_use_before, int ports_in_use_after, int pool_sockets_after,
    int ports_in_use_after_closing_all, int pool_sockets_after_closing_all, int ports_leaked,
    int journal_backlog_before_stop, double node_exit_code, int? list_channels_before, int? list_channels_after);

/// <summary>
/// Restart survival at scale (issue 9): one node process (persistence on, SQLite in a fresh data directory), N channels
/// opened over Akka.Remote, half of them streaming RTP both ways; the node is stopped (kill -9, or SIGTERM with
/// --keep-channels) while the media flows and started again with the same data directory and ports. Measured: the time
/// from the new node's <c>All set.</c> until every client of every streaming channel hears its peer again (each
/// client's first packet sent after the old process was gone), the channels the node lists after the restart against
/// those before it, and the ports: the old process's sockets gone, the new node's pool holding exactly its channels'
/// ports, and nothing held once every channel is closed. Its own ports (pool from --restart-ports, default 6000;
/// control plane 6470; clients above the pool), so it runs beside a default ./bench.sh.
/// </summary>
internal static class RestartSurvival
{
    private const int ControlPort = 6470;

    public static async Task<int> RunAsync(BenchOptions opts, ActorSystem system)
    {
        var channels = opts.ChannelsGiven ? opts.Channels : 1000;
        var streaming = channels / 2;
        var portMin = opts.RestartPortBase;
        var portMax = portMin + 2 * channels + 99;
        var clientMin = (portMax / 100 + 1) * 100;
        if (clientMin + 2 * streaming > 32767)
            throw new ArgumentException($"{channels} channels from port {portMin} need clients up to {clientMin + 2 * streaming}: above 32767");
        var started = DateTimeOffset.UtcNow;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            restart = "survival", channels, streaming, pps_per_direction = opts.Pps, rounds = opts.Rounds,
            pool = $"{portMin}-{portMax}", control_port = ControlPort, clients = $"{clientMin}-{clientMin + 2 * streaming - 1}",
            load_average = File.ReadAllText("/proc/loadavg").Trim(),
        }));
        var rows = new List<RestartRow>();
        for (var round = 1; round <= opts.Rounds; round++)
            foreach (var stop in new[] { "kill -9", "sigterm --keep-channels" })
            {
                var row = await TrialAsync(system, stop, round, channels, streaming, opts.Pps, opts.Size, portMin, portMax, clientMin);
                rows.Add(row);
                Console.WriteLine(JsonSerializer.Serialize(row));
            }
        var loadAfter = File.ReadAllText("/proc/loadavg").Trim();

        var dir = Path.Combine(Paths.Root, "bench", "results");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, $"restart-{started:yyyyMMdd-HHmmss}.json");
        File.WriteAllText(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["machine"] = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString() },
            ["options"] = opts, ["started"] = started, ["load_average_after"] = loadAfter, ["rows"] = rows,
        }, new JsonSerializerOptions { WriteIndented = true }));

        Console.WriteLine();
        Console.WriteLine($"| stop ({channels} channels, {streaming} streaming at {opts.Pps} packets/s each way; medians of {opts.Rounds}) | exit → All set. ms | " +
                          "media back after All set., median channel ms | last channel ms | streaming not back | channels lost | ports leaked |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var g in rows.GroupBy(r => r.stop))
            Console.WriteLine($"| {g.Key} | {Median(g.Select(r => r.exit_to_all_set_ms)):F0} | {Median(g.Select(r => r.media_back_median_ms ?? double.PositiveInfinity)):F0} | " +
                              $"{Median(g.Select(r => r.media_back_last_ms ?? double.PositiveInfinity)):F0} (max {g.Max(r => r.media_back_last_ms ?? double.PositiveInfinity):F0}) | {g.Max(r => r.streaming_not_back)} | " +
                              $"{g.Max(r => r.channels_lost)} | {g.Max(r => r.ports_leaked)} |");
        Console.WriteLine($"load average after: {loadAfter}");
        Console.WriteLine($"results: {file}");
        return rows.All(r => r.streaming_not_back == 0 && r.channels_lost == 0 && r.ports_leaked == 0) ? 0 : 1;
    }


    private static double Ms(long stopwatchTicks) => Math.Round(stopwatchTicks * 1000.0 / Stopwatch.Frequency, 1);

    private static async Task<RestartRow> TrialAsync(ActorSystem system, string stop, int round, int channels, int streaming, int pps, int size,
        int portMin, int portMax, int clientMin)
    {
        var kill = stop.StartsWith("kill", StringComparison.Ordinal);
        var data = Directory.CreateTempSubdirectory("actorrelay-restart");
        var env = new Dictionary<string, string>
        {
            ["ACTORRELAY__PORTS__MIN"] = portMin.ToString(CultureInfo.InvariantCulture), ["ACTORRELAY__PORTS__MAX"] = portMax.ToString(CultureInfo.InvariantCulture),
            ["ACTORRELAY__IDLE_TIMEOUT"] = "10m", ["ACTORRELAY__SETUP_TIMEOUT"] = "10m",
            ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = data.FullName,
        };
        string[] args = [Paths.NodeDll, "--transport", "socket", "--bind", "127.0.0.1", "--remote-port", ControlPort.ToString(CultureInfo.InvariantCulture),
            "--log-level", Environment.GetEnvironmentVariable("BENCH_NODE_LOG_LEVEL") ?? "warning", .. kill ? Array.Empty<string>() : ["--keep-channels"]];
        NodeRun? first = null, second = null;
        try
        {
            first = NodeRun.Start(args, env);
            var node = await ResolveAsync(system);
            var opened = await Task.WhenAll(Enumerable.Range(0, channels).Select(i =>
                node.Ask<ChannelOpened>(new OpenChannel($"restart-{i}", SubscribeOpener: false), TimeSpan.FromSeconds(60))));
            using var gen = new LoadGenerator(opened.Take(streaming).Select(o => (o.Left.Port, o.Right.Port)).ToList(), clientMin, size);
            gen.Latch();
            // every latch written (a crash loses at most relay.persistence.flush-after of records): the backlog is 0 twice,
            // 200 ms apart, so a latch event still on its way to the node is counted
            var statusBefore = await JournalWrittenAsync(node);
            var ids = opened.Select(o => o.ChannelId).ToList();
            var before = await FoundAsync(node, ids);
            var listedBefore = await ListedAsync(node);
            if (listedBefore is null)
                foreach (var line in first.Log.Split('\n').Where(l => l.Contains("frame", StringComparison.OrdinalIgnoreCase) || l.Contains("size", StringComparison.OrdinalIgnoreCase)).Take(3))
                    Console.Error.WriteLine($"node (ListChannels unanswered): {line}");
            var socketsBefore = PoolSockets(portMin, portMax);

            var probeBefore = await node.Ask<ChannelSnapshot>(new GetChannel(ids[0]), TimeSpan.FromSeconds(30));
            Console.Error.WriteLine($"{stop} {round}: {ids[0]} before the stop: " + Describe(probeBefore));
            var streamingTask = Task.Factory.StartNew(() => gen.Stream(pps, 3600, 0, () => 0), TaskCreationOptions.LongRunning);
            await Task.Delay(2000);
            var stopAt = Stopwatch.GetTimestamp();
            first.Signal(kill ? 9 : 15);
            var exitCode = first.WaitForExit(TimeSpan.FromSeconds(30));
            var exitedAt = Stopwatch.GetTimestamp();
            // packets sent from now on can only be relayed by the next node
            var resumed = gen.WatchResumption(exitedAt);
            var leftBehind = PoolSockets(portMin, portMax);

            second = NodeRun.Start(args, env);
            var allSet = second.ReadyAt;
            var deadline = allSet + 30 * Stopwatch.Frequency;
            long boundAt = 0; // when the pool holds every channel's two sockets again
            while (Stopwatch.GetTimestamp() < deadline && Enumerable.Range(0, resumed.Length).Any(i => Volatile.Read(ref resumed[i]) == 0))
            {
                if (boundAt == 0 && PoolSockets(portMin, portMax) >= 2 * channels) boundAt = Stopwatch.GetTimestamp();
                await Task.Delay(10);
            }
            if (boundAt == 0 && PoolSockets(portMin, portMax) >= 2 * channels) boundAt = Stopwatch.GetTimestamp();
            gen.Stop();
            await streamingTask;
            var back = Enumerable.Range(0, streaming).Select(c => (A: Volatile.Read(ref resumed[2 * c]), B: Volatile.Read(ref resumed[2 * c + 1])))
                .Where(r => r.A != 0 && r.B != 0).Select(r => Ms(Math.Max(r.A, r.B) - allSet)).Order().ToArray();

            node = await ResolveAsync(system);
            var after = await FoundAsync(node, ids);
            var probe = await node.Ask<ChannelSnapshot>(new GetChannel(ids[0]), TimeSpan.FromSeconds(30));
            Console.Error.WriteLine($"{stop} {round}: {ids[0]} after the restart: " + Describe(probe));
            var listedAfter = await ListedAsync(node);
            var statusAfter = await node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(30));
            var socketsAfter = PoolSockets(portMin, portMax);
            await Task.WhenAll(after.Select(id => node.Ask<object>(new CloseChannel(id), TimeSpan.FromSeconds(60))));
            var statusEnd = await node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(30));
            var socketsEnd = PoolSockets(portMin, portMax);
            for (var wait = Stopwatch.StartNew(); socketsEnd > 0 && wait.Elapsed < TimeSpan.FromSeconds(5); socketsEnd = PoolSockets(portMin, portMax))
                await Task.Delay(50); // a side's socket closes on its relay loop just after the channel reports closed

            int InUse(NodeStatus s) => s.PortsTotal - s.PortsFree;
            var leaked = leftBehind + Math.Abs(InUse(statusAfter) - 2 * statusAfter.ChannelsOpen) + Math.Abs(socketsAfter - InUse(statusAfter))
                         + InUse(statusEnd) + socketsEnd;
            return new RestartRow(stop, round, channels, streaming, pps,
                Ms(exitedAt - stopAt), Ms(allSet - exitedAt),
                back.Length == 0 ? null : back[back.Length / 2], back.Length == 0 ? null : back[(int)(back.Length * 0.95)],
                back.Length == 0 ? null : back[^1], streaming - back.Length, boundAt == 0 ? null : Ms(boundAt - allSet),
                before.Count, after.Count, before.Count(id => !after.Contains(id)),
                socketsBefore, leftBehind, InUse(statusBefore), InUse(statusAfter), socketsAfter, InUse(statusEnd), socketsEnd, leaked,
                statusBefore.JournalBacklog, exitCode, listedBefore, listedAfter);
        }
        finally
        {
            var logs = Path.Combine(Paths.Root, "bench", "results", "restart-logs");
            Directory.CreateDirectory(logs);
            if (first is not null) File.WriteAllText(Path.Combine(logs, $"{stop.Split(' ')[0]}-{round}-first.log"), first.Log);
            if (second is not null) File.WriteAllText(Path.Combine(logs, $"{stop.Split(' ')[0]}-{round}-second.log"), second.Log);
            first?.Dispose();
            second?.Dispose();
            try { data.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The node at the control port; retried while Akka.Remote still gates the address of the process that died.</summary>
    private static async Task<IActorRef> ResolveAsync(ActorSystem system)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                return await system.ActorSelection($"akka.tcp://actor-relay@127.0.0.1:{ControlPort}/user/relay").ResolveOne(TimeSpan.FromSeconds(3));
            }
            catch (ActorNotFoundException) when (DateTime.UtcNow < deadline) { await Task.Delay(250); }
            catch (TimeoutException) when (DateTime.UtcNow < deadline) { await Task.Delay(250); }
        }
    }

    private static string Describe(ChannelSnapshot c) => string.Join("; ", new[] { c.Left, c.Right }.Select(sd =>
        $"{sd.Side} latched {sd.Latched} in {sd.PacketsReceived} forwarded {sd.PacketsForwarded} dropped " +
        string.Join(",", sd.Dropped.Select(d => $"{d.Key}={d.Value}"))));

    /// <summary>The channels of <paramref name="ids"/> the node knows (GetChannel answers a snapshot, not ChannelNotFound).</summary>
    private static async Task<HashSet<string>> FoundAsync(IActorRef node, IReadOnlyList<string> ids)
    {
        var answers = await Task.WhenAll(ids.Select(id => node.Ask<object>(new GetChannel(id), TimeSpan.FromSeconds(60))));
        return answers.OfType<ChannelSnapshot>().Select(s => s.ChannelId).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>How many channels ListChannels lists, every page read, or null when a page gets no answer within 10 s.</summary>
    private static async Task<int?> ListedAsync(IActorRef node)
    {
        try
        {
            var count = 0;
            await foreach (var _ in node.ListAllAsync(TimeSpan.FromSeconds(10))) count++;
            return count;
        }
        catch (AskTimeoutException) { return null; }
    }

    private static async Task<NodeStatus> JournalWrittenAsync(IActorRef node)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var zeros = 0;
        while (true)
        {
            var s = await node.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(30));
            zeros = s.JournalBacklog == 0 ? zeros + 1 : 0;
            if (zeros >= 2) return s;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the journal still has {s.JournalBacklog} records to write");
            await Task.Delay(200);
        }
    }

    /// <summary>UDP sockets bound (by anyone) to a port in [min, max] on this host, IPv4 and IPv6, from /proc/net.</summary>
    internal static int PoolSockets(int min, int max)
    {
        var n = 0;
        foreach (var table in new[] { "/proc/net/udp", "/proc/net/udp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var local = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
                var port = int.Parse(local[(local.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (port >= min && port <= max) n++;
            }
        }
        return n;
    }

    /// <summary>A node process: started, its <c>All set.</c> line timed (Stopwatch timestamp), signalled, awaited.</summary>
    private sealed class NodeRun : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _log = new();

        public long ReadyAt { get; private set; }

        public string Log { get { lock (_log) return _log.ToString(); } }

        private NodeRun(Process process) => _process = process;

        public static NodeRun Start(IEnumerable<string> args, IDictionary<string, string> env)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            foreach (var (k, v) in env) psi.Environment[k] = v;
            var run = new NodeRun(Process.Start(psi)!);
            var ready = new TaskCompletionSource();
            void Line(string? line)
            {
                if (line is null) return;
                var at = Stopwatch.GetTimestamp();
                lock (run._log) run._log.AppendLine(line);
                if (line == "All set." && run.ReadyAt == 0) { run.ReadyAt = at; ready.TrySetResult(); }
            }
            run._process.ErrorDataReceived += (_, e) => Line(e.Data);
            run._process.OutputDataReceived += (_, e) => Line(e.Data);
            run._process.BeginErrorReadLine();
            run._process.BeginOutputReadLine();
            if (!ready.Task.Wait(TimeSpan.FromSeconds(120)))
            {
                run.Dispose();
                lock (run._log) throw new InvalidOperationException($"the node did not start:\n{run._log}");
            }
            return run;
        }

        public void Signal(int signal) => kill(_process.Id, signal);

        public int WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout)) throw new TimeoutException($"node {_process.Id} did not exit within {timeout}");
            _process.WaitForExit(); // the output is read to its end
            return _process.ExitCode;
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    kill(_process.Id, 15);
                    if (!_process.WaitForExit(TimeSpan.FromSeconds(20))) _process.Kill(true);
                }
            }
            catch (InvalidOperationException) { }
            _process.Dispose();
        }

        [System.Runtime.InteropServices.DllImport("libc")]
        private static extern int kill(int pid, int sig);
    }
}
