using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ActorRelay.Ng;
using HdrHistogram;
using static ActorRelay.Bench.BenchMath;

namespace ActorRelay.Bench;

/// <summary>
/// Call setup over the NG protocol (<c>./bench.sh --ng-setup</c>): how many calls per second a relay sets up when a SIP
/// proxy drives it as Kamailio's rtpengine module does (an offer, then the answer once the offer's reply is in; one
/// audio stream per call; the keys Kamailio sends), and how long its replies take at a steady call rate. Per relay
/// process, started fresh for each round (ActorRelay's node with --ng, Debian's rtpengine in userspace), rounds
/// interleaved, each after a warm-up of <c>--ng-warmup</c> calls set up and deleted (not measured):
/// <list type="bullet">
/// <item>setup: <c>--ng-calls</c> calls with <c>--ng-window</c> requests outstanding at most (many proxy workers): calls
/// per second from the first offer to the last answer's reply, and the relay's CPU per call; then every call is
/// deleted (deletes per second);</item>
/// <item>steady: offers paced at <c>--ng-rate</c> calls per second for <c>--ng-seconds</c>, each answered as soon as its
/// offer's reply is in: reply times of offers and answers (p50/p99/max) and the rate achieved. Calls end too: once
/// <c>--ng-live</c> calls (2,000) are up, each answered call deletes the oldest (calls of a few seconds, so the relays
/// hold a bounded number of calls as a proxy's would, not 5,000 that never end: four sockets per call would pass the
/// machine's 20,000 open files); the rest are deleted at the end.</item>
/// </list>
/// The client is one socket and one receiving thread; a request without a reply within 1 s is sent again with its
/// cookie, as Kamailio does (counted: a retransmission is a reply time over 1 s).
/// </summary>
internal static class NgSetupBench
{
    /// <summary>Calls set up (then deleted) per warm-up burst: 2 channels each, well within a node's capacity.</summary>
    private const int WarmupBurst = 3000;

    public static async Task Run(BenchOptions o)
    {
        var relays = o.Relays.Contains("auto")
            ? RtpEngine.Installed ? ["actorrelay", "rtpengine"] : new[] { "actorrelay" }
            : o.Relays;
        var rows = new List<NgSetupRow>();
        var port = 22300;
        for (var round = 1; round <= Math.Max(1, o.Rounds); round++)
        {
            foreach (var name in relays)
            {
                using var relay = NgRelayProcess.Start(name, port++, o.NodeEnvironment, o.BaselineNode);
                using var client = new NgLoadClient(relay.NgAddress);
                // Not measured: a runtime's JIT warms up here. In bursts of at most WarmupBurst calls set up, then deleted,
                // so a long warm-up never holds more calls than a node has ports for; each burst's rate is printed (a
                // node's tiered compilation takes tens of thousands of calls to settle).
                for (var left = o.NgWarmup; left > 0; left -= WarmupBurst)
                {
                    var calls = Math.Min(left, WarmupBurst);
                    var warm = client.Setup(calls, o.NgWindow, relay.CpuMilliseconds);
                    var cleared = client.DeleteAll(o.NgWindow);
                    Console.Error.WriteLine($"  {name} warm-up: {calls} calls at {warm.CallsPerSecond:F0}/s");
                    if (warm.Errors + cleared.Errors > 0)
                        Console.WriteLine($"  {name} warm-up: {warm.Errors} setup errors, {cleared.Errors} delete errors; first: {warm.FirstError ?? cleared.FirstError}");
                }
                var setup = client.Setup(o.NgCalls, o.NgWindow, relay.CpuMilliseconds);
                var deletes = client.DeleteAll(o.NgWindow);
                var steady = client.Steady(o.NgRate, o.NgSeconds, o.NgLive);
                client.DeleteAll(o.NgWindow);
                var row = new NgSetupRow(name, round, o.NgCalls, o.NgWindow,
                    Math.Round(setup.CallsPerSecond), Math.Round(setup.CpuMsPerCall * 1000, 1), setup.Errors, setup.Retransmissions,
                    Math.Round(deletes.CallsPerSecond),
                    o.NgRate, Math.Round(steady.CallsPerSecond), steady.Calls,
                    Math.Round(steady.OfferP50Ms, 3), Math.Round(steady.OfferP99Ms, 3), Math.Round(steady.OfferMaxMs, 3),
                    Math.Round(steady.AnswerP50Ms, 3), Math.Round(steady.AnswerP99Ms, 3), Math.Round(steady.AnswerMaxMs, 3),
                    steady.Errors, steady.Retransmissions, steady.FirstError ?? setup.FirstError);
                rows.Add(row);
                Console.WriteLine(JsonSerializer.Serialize(row));
            }
        }

        var dir = Path.Combine(Paths.Root, "bench", "results");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-ng-setup.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["machine"] = new { Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString() },
            ["options"] = o,
            ["ng_setup"] = rows,
        }, new JsonSerializerOptions { WriteIndented = true }));

        Console.WriteLine();
        Console.WriteLine($"| relay (medians of {rows.Count / relays.Length}) | calls/s set up ({o.NgCalls} calls, window {o.NgWindow}) | relay CPU µs/call | deletes/s | " +
                          $"at {o.NgRate} calls/s: offer p50 / p99 / max ms | answer p50 / p99 / max ms | errors | retransmissions |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var g in rows.GroupBy(r => r.relay))
            Console.WriteLine($"| {g.Key} | {Median(g.Select(r => r.setup_calls_per_s)):F0} | {Median(g.Select(r => r.setup_relay_cpu_us_per_call)):F0} | " +
                              $"{Median(g.Select(r => r.deletes_per_s)):F0} | {Median(g.Select(r => r.offer_p50_ms)):F2} / {Median(g.Select(r => r.offer_p99_ms)):F2} / " +
                              $"{Median(g.Select(r => r.offer_max_ms)):F2} | {Median(g.Select(r => r.answer_p50_ms)):F2} / {Median(g.Select(r => r.answer_p99_ms)):F2} / " +
                              $"{Median(g.Select(r => r.answer_max_ms)):F2} | {g.Sum(r => r.setup_errors + r.steady_errors)} | " +
                              $"{g.Sum(r => r.setup_retransmissions + r.steady_retransmissions)} |");
        Console.WriteLine($"results: {file}");
    }
}

internal sealed record NgSetupRow(
    string relay, int round, int setup_calls, int window, double setup_calls_per_s, double setup_relay_cpu_us_per_call,
    long setup_errors, long setup_retransmissions, double deletes_per_s,
    int steady_rate, double steady_calls_per_s, int steady_calls,
    double offer_p50_ms, double offer_p99_ms, double offer_max_ms, double answer_p50_ms, double answer_p99_ms, double answer_max_ms,
    long steady_errors, long steady_retransmissions, string? first_error);

/// <summary>A relay process with an NG endpoint on loopback, media on 127.0.0.2 (apart from whatever else binds 127.0.0.1 ports here), ports 10000-31999.</summary>
internal sealed class NgRelayProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly DirectoryInfo? _data;

    private NgRelayProcess(Process process, IPEndPoint ng, DirectoryInfo? data)
    {
        _process = process;
        _data = data;
        NgAddress = ng;
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) Keep(l); };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l) Keep(l); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    public IPEndPoint NgAddress { get; }

    private void Keep(string line)
    {
        _log.Enqueue(line);
        while (_log.Count > 200) _log.TryDequeue(out _);
    }

    /// <param name="baselineNode">The node build relay "baseline" runs (--baseline-node): another build of the node, measured in the same run.</param>
    public static NgRelayProcess Start(string name, int ngPort, IReadOnlyDictionary<string, string>? nodeEnvironment = null, string? baselineNode = null)
    {
        var ng = new IPEndPoint(IPAddress.Loopback, ngPort);
        string[] nodeArgs = ["--ng", ng.ToString(), "--bind", "127.0.0.2", "--remote-port", "0", "--log-level", "warning"];
        var psi = name switch
        {
            "actorrelay" => Psi("dotnet", [Paths.NodeDll, .. nodeArgs]),
            "baseline" => Psi("dotnet", [baselineNode ?? throw new ArgumentException("relay baseline needs --baseline-node DLL"), .. nodeArgs]),
            "rtpengine" => Psi(RtpEngine.Binary, ["--foreground", "--config-file=none", "--table=-1", "--interface=127.0.0.2",
                $"--listen-ng={ng}", "--port-min=10000", "--port-max=31999", "--log-stderr", "--log-level=3", "--delete-delay=0",
                "--timeout=600", "--silent-timeout=600"]),
            _ => throw new ArgumentException($"--ng-setup measures relays actorrelay, baseline and rtpengine, not {name}"),
        };
        // A node journals its channels (the default): each round's node gets a data directory of its own, deleted after
        // it. In the node's default directory, every round restored the channels a killed node of an earlier run left
        // there: thousands of channels restored at start, holding ports and the node's channel limit.
        var node = name is "actorrelay" or "baseline";
        var data = node ? Directory.CreateTempSubdirectory("actorrelay-ng-bench-data") : null;
        if (node)
        {
            psi.Environment["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = data!.FullName;
            psi.Environment["ACTORRELAY__PORTS__MIN"] = "10000";
            psi.Environment["ACTORRELAY__PORTS__MAX"] = "31999";
            psi.Environment["ACTORRELAY__NG__IDLE_TIMEOUT"] = "10m";
            psi.Environment["ACTORRELAY__NG__SETUP_TIMEOUT"] = "10m";
            foreach (var (k, v) in nodeEnvironment ?? new Dictionary<string, string>()) psi.Environment[k] = v; // --node-env
        }
        var relay = new NgRelayProcess(Process.Start(psi)!, ng, data);
        using var probe = new NgLoadClient(ng);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!probe.Ping())
        {
            if (relay._process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"{name} did not answer an NG ping:\n{string.Join('\n', relay._log)}");
        }
        return relay;

        static ProcessStartInfo Psi(string file, string[] args)
        {
            var p = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) p.ArgumentList.Add(a);
            return p;
        }
    }

    /// <summary>CPU time of the relay process (user + system), from /proc.</summary>
    public double CpuMilliseconds()
    {
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) * 1000.0 / 100;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { _data?.Delete(recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// The SIP proxy's side: one socket, requests as Kamailio's rtpengine module builds them, a receiving thread that
/// matches replies by cookie, sends each call's answer when its offer's reply is in, and records reply times.
/// </summary>
internal sealed class NgLoadClient : IDisposable
{
    private static readonly TimeSpan Retransmit = TimeSpan.FromSeconds(1);
    private readonly Socket _socket;
    private readonly IPEndPoint _relay;
    private readonly ConcurrentDictionary<string, Outstanding> _outstanding = new();
    private readonly List<string> _calls = [];
    private int _run;
    private long _cookie;

    private sealed class Outstanding(int call, Kind kind, byte[] datagram, long sentAt)
    {
        public int Call { get; } = call;
        public Kind Kind { get; } = kind;
        public byte[] Datagram { get; } = datagram;
        public long SentAt { get; } = sentAt;
        public long LastSentAt { get; set; } = sentAt;
    }

    private enum Kind { Offer, Answer, Delete, Ping }

    public NgLoadClient(IPEndPoint relay)
    {
        _relay = relay;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20, SendBufferSize = 8 << 20 };
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public bool Ping()
    {
        _socket.SendTo(NgFraming.Frame("ping", BDictionary.Of(("command", "ping"))), _relay);
        if (!_socket.Poll(200_000, SelectMode.SelectRead)) return false;
        var buffer = new byte[1024];
        try { return _socket.Receive(buffer) > 0; }
        catch (SocketException) { return false; }
    }

    public sealed record Result(int Calls, double CallsPerSecond, double CpuMsPerCall, long Errors, long Retransmissions, string? FirstError,
        double OfferP50Ms = 0, double OfferP99Ms = 0, double OfferMaxMs = 0, double AnswerP50Ms = 0, double AnswerP99Ms = 0, double AnswerMaxMs = 0);

    private static string Sdp(int port) =>
        "v=0\r\no=- 1545997027 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
        $"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n";

    private byte[] Request(int call, Kind kind, out string cookie)
    {
        cookie = $"{Environment.ProcessId}_{Interlocked.Increment(ref _cookie)}";
        var id = _calls[call];
        var port = 40000 + call % 10000 * 2;
        var body = kind switch
        {
            Kind.Offer => BDictionary.Of(("supports", new BList("load limit")), ("sdp", Sdp(port)),
                ("flags", new BList("SIP-source-address")), ("replace", new BList("origin", "session-connection")),
                ("call-id", id), ("received-from", new BList("IP4", "127.0.0.1")), ("from-tag", "caller-" + call), ("command", "offer")),
            Kind.Answer => BDictionary.Of(("supports", new BList("load limit")), ("sdp", Sdp(port + 1)),
                ("flags", new BList("SIP-source-address")), ("replace", new BList("origin", "session-connection")),
                ("call-id", id), ("received-from", new BList("IP4", "127.0.0.1")), ("from-tag", "caller-" + call), ("to-tag", "callee-" + call),
                ("command", "answer")),
            Kind.Delete => BDictionary.Of(("supports", new BList("load limit")), ("call-id", id), ("received-from", new BList("IP4", "127.0.0.1")),
                ("from-tag", "caller-" + call), ("command", "delete")),
            _ => BDictionary.Of(("command", "ping")),
        };
        return NgFraming.Frame(cookie, body);
    }

    private void Send(int call, Kind kind)
    {
        var datagram = Request(call, kind, out var cookie);
        _outstanding[cookie] = new Outstanding(call, kind, datagram, Stopwatch.GetTimestamp());
        _socket.SendTo(datagram, _relay);
    }

    /// <summary>Runs until <paramref name="done"/>: reads replies, calls <paramref name="onReply"/> per reply, retransmits what waited 1 s.</summary>
    private (long Errors, long Retransmissions, string? FirstError) Receive(Func<bool> done, Action<Outstanding, long> onReply)
    {
        var buffer = new byte[65_536];
        long errors = 0, retransmissions = 0;
        string? firstError = null;
        var lastSweep = Stopwatch.GetTimestamp();
        var retransmitTicks = (long)(Retransmit.TotalSeconds * Stopwatch.Frequency);
        while (!done())
        {
            if (_socket.Poll(1000, SelectMode.SelectRead))
            {
                var n = _socket.Receive(buffer);
                var now = Stopwatch.GetTimestamp();
                if (NgFraming.Read(buffer.AsSpan(0, n)) is not NgRequestFrame reply || !_outstanding.TryRemove(reply.Cookie, out var o)) continue;
                if (reply.Body["result"] is not BString { Text: "ok" })
                {
                    errors++;
                    firstError ??= reply.Body.ToString();
                }
                onReply(o, now - o.SentAt);
            }
            var t = Stopwatch.GetTimestamp();
            if (t - lastSweep < Stopwatch.Frequency / 10) continue;
            lastSweep = t;
            foreach (var o in _outstanding.Values)
                if (t - o.LastSentAt > retransmitTicks)
                {
                    o.LastSentAt = t;
                    retransmissions++;
                    _socket.SendTo(o.Datagram, _relay);
                }
        }
        return (errors, retransmissions, firstError);
    }

    private void NewCalls(int count)
    {
        var run = ++_run;
        _calls.Clear();
        for (var i = 0; i < count; i++) _calls.Add($"bench-{Environment.ProcessId}-{run}-{i}@127.0.0.1");
    }

    /// <summary>Offer then answer for <paramref name="calls"/> calls, at most <paramref name="window"/> requests outstanding.</summary>
    public Result Setup(int calls, int window, Func<double> relayCpu)
    {
        NewCalls(calls);
        var started = 0;
        var completed = 0;
        var cpu0 = relayCpu();
        var sw = Stopwatch.StartNew();
        for (; started < Math.Min(window, calls); started++) Send(started, Kind.Offer);
        var (errors, retransmissions, firstError) = Receive(() => completed == calls, (o, _) =>
        {
            if (o.Kind == Kind.Offer)
            {
                Send(o.Call, Kind.Answer);
                return;
            }
            completed++;
            if (started < calls) Send(started++, Kind.Offer);
        });
        var seconds = sw.Elapsed.TotalSeconds;
        var cpu = relayCpu() - cpu0;
        return new Result(calls, calls / seconds, cpu / calls, errors, retransmissions, firstError);
    }

    /// <summary>Deletes every call of the last run, at most <paramref name="window"/> outstanding.</summary>
    public Result DeleteAll(int window)
    {
        var calls = _calls.Count;
        var started = 0;
        var completed = 0;
        var sw = Stopwatch.StartNew();
        for (; started < Math.Min(window, calls); started++) Send(started, Kind.Delete);
        var (errors, retransmissions, firstError) = Receive(() => completed == calls, (_, _) =>
        {
            completed++;
            if (started < calls) Send(started++, Kind.Delete);
        });
        return new Result(calls, calls / sw.Elapsed.TotalSeconds, 0, errors, retransmissions, firstError);
    }

    /// <summary>Offers paced at <paramref name="rate"/> calls/s for <paramref name="seconds"/>, each answered when its offer's
    /// reply is in; with <paramref name="live"/> calls up, each answered call deletes the oldest. The pacer spins through
    /// the last millisecond before each offer unless <paramref name="spin"/> is false (beside a stream, where a spinning
    /// thread would take the load generator's CPU).</summary>
    public Result Steady(int rate, double seconds, int live, bool spin = true)
    {
        var calls = (int)(rate * seconds);
        NewCalls(calls);
        var offers = new LongHistogram(TimeSpan.TicksPerSecond * 10, 3);
        var answers = new LongHistogram(TimeSpan.TicksPerSecond * 10, 3);
        var completed = 0;
        var deletesSent = 0;
        var deleted = 0;
        var sent = 0;
        var sw = Stopwatch.StartNew();
        var pacer = new Thread(() =>
        {
            var interval = Stopwatch.Frequency / (double)rate;
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < calls; i++)
            {
                var due = start + (long)(i * interval);
                while (Stopwatch.GetTimestamp() < due)
                {
                    var wait = (due - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                    if (wait > 1 || !spin) Thread.Sleep(1); // without spin (beside a stream), offers go out up to ~1 ms late
                    else Thread.SpinWait(50);
                }
                Send(i, Kind.Offer);
                Volatile.Write(ref sent, i + 1);
            }
        }) { IsBackground = true, Name = "ng offers" };
        pacer.Start();
        var (errors, retransmissions, firstError) = Receive(() => completed == calls && deleted == deletesSent, (o, ticks) =>
        {
            var micros = ticks * 1_000_000 / Stopwatch.Frequency;
            switch (o.Kind)
            {
                case Kind.Offer:
                    offers.RecordValue(micros);
                    Send(o.Call, Kind.Answer);
                    return;
                case Kind.Delete:
                    deleted++;
                    return;
            }
            answers.RecordValue(micros);
            completed++;
            if (live > 0 && completed > live)
            {
                Send(deletesSent, Kind.Delete); // the oldest call still up (calls complete roughly in order)
                deletesSent++;
            }
        });
        _calls.RemoveRange(0, deletesSent); // what is left for DeleteAll
        pacer.Join();
        var elapsed = sw.Elapsed.TotalSeconds;
        double Ms(LongHistogram h, double p) => h.GetValueAtPercentile(p) / 1000.0;
        return new Result(calls, calls / elapsed, 0, errors, retransmissions, firstError,
            Ms(offers, 50), Ms(offers, 99), offers.GetMaxValue() / 1000.0, Ms(answers, 50), Ms(answers, 99), answers.GetMaxValue() / 1000.0);
    }

    public void Dispose() => _socket.Dispose();
}
