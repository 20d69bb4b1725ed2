using System.Diagnostics;
using System.Net;
using Akka.Actor;
using ActorRelay.Protocol;

namespace ActorRelay.Bench;

/// <summary>A relay process the generator measures: started, given N channels, read for CPU/RSS, stopped.</summary>
internal abstract class RelayUnderTest : IAsyncDisposable
{
    protected Process? Process;

    public abstract string Name { get; }
    public virtual int Pid => Process!.Id;

    /// <summary>True when the relay runs inside the benchmark's own process (its CPU then includes the generator's thread).</summary>
    public virtual bool InProcess => false;

    /// <summary>Starts the relay and opens <paramref name="channels"/> channels; returns each channel's (left, right) ports.</summary>
    public abstract Task<IReadOnlyList<(int Left, int Right)>> StartAsync(int channels);

    /// <summary>Runtime stats where the relay reports them (ActorRelay), else null.</summary>
    public virtual Task<RuntimeStats?> RuntimeAsync() => Task.FromResult<RuntimeStats?>(null);

    /// <summary>The relay loops' lag histogram (cumulative buckets) where the relay exports it (ActorRelay with --loop-lag), else null.</summary>
    public virtual Task<LoopLag?> LoopLagAsync() => Task.FromResult<LoopLag?>(null);

    /// <summary>The node's queue delay histogram (how long datagrams waited in their socket's queue), or null.</summary>
    public virtual Task<LoopLag?> QueueDelayAsync() => Task.FromResult<LoopLag?>(null);

    /// <summary>Packets the relay dropped so far, by reason, over every channel; null when the relay cannot tell.</summary>
    public virtual Task<IReadOnlyDictionary<DropReason, long>?> DropsAsync() => Task.FromResult<IReadOnlyDictionary<DropReason, long>?>(null);

    /// <summary>The drops of the channels bench-0 .. bench-(n-1) on an ActorRelay node, summed by reason.</summary>
    protected static async Task<IReadOnlyDictionary<DropReason, long>?> SumDrops(IActorRef node, int channels)
    {
        var drops = new Dictionary<DropReason, long>();
        for (var i = 0; i < channels; i++)
            if (await node.Ask<object>(new GetChannel($"bench-{i}"), TimeSpan.FromSeconds(10)) is ChannelSnapshot c)
                foreach (var (reason, n) in c.Left.Dropped.Concat(c.Right.Dropped))
                    drops[reason] = drops.GetValueOrDefault(reason) + n;
        return drops;
    }

    /// <summary>CPU time of the relay process (user + system), from /proc.</summary>
    public virtual double CpuMilliseconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime
        return ticks * 1000.0 / 100; // USER_HZ = 100 on Linux
    }

    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            if (line.StartsWith("VmRSS:")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    /// <summary>Set to a CPU number to pin every relay under test to that core (taskset), e.g. for overload runs.</summary>
    public static int? PinnedCpu { get; set; }

    /// <summary>
    /// Set to a control group's directory to start the next relays inside it (--quota-at-start): the shell that starts
    /// the relay joins the group and then becomes the relay, so the relay runs held from its first instruction and can
    /// read its own limit, as in a container.
    /// </summary>
    public static string? LaunchGroup { get; set; }

    private static ProcessStartInfo StartInfo(string file, IEnumerable<string> args)
    {
        var command = new List<string>();
        if (LaunchGroup is { } group) command.AddRange(["/bin/sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", group]);
        if (PinnedCpu is { } cpu) command.AddRange(["taskset", "-c", cpu.ToString()]);
        command.Add(file);
        command.AddRange(args);
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        return psi;
    }

    protected static Process Launch(string file, IEnumerable<string> args, IDictionary<string, string>? env, string readyLine)
    {
        var psi = StartInfo(file, args);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var p = System.Diagnostics.Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        var log = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) => { if (e.Data is null) return; lock (log) log.AppendLine(e.Data); if (e.Data == readyLine) ready.TrySetResult(); };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            try { p.Kill(true); } catch { }
            throw new InvalidOperationException($"{file} did not start:\n{log}");
        }
        return p;
    }

    /// <summary>Starts a process that announces nothing; the caller polls it until it answers.</summary>
    protected static Process LaunchUnready(string file, IEnumerable<string> args)
    {
        var psi = StartInfo(file, args);
        var p = System.Diagnostics.Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        return p;
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (Process is null) return;
        try { Process.Kill(true); await Process.WaitForExitAsync(); } catch { }
        Process.Dispose();
    }
}

/// <summary>
/// ActorRelay's node process, channels opened through the relay's own protocol over Akka.Remote. The transport is
/// <c>socket</c> (relay loops), <c>socket-dotnet</c> (the socket transport on the runtime's socket engine) or <c>akka-io</c>.
/// </summary>
internal sealed class ActorRelayNode(string relay, int portMin, int remotePort, ActorSystem generator, string? nodeDll = null,
    IReadOnlyDictionary<string, string>? extraEnvironment = null, int? metricsPort = null, int? ngPort = null, int ngPorts = 0) : RelayUnderTest
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Reads actorrelay_relay_loop_lag_seconds from the node's /metrics (loopback), when it exports them.</summary>
    public override async Task<LoopLag?> LoopLagAsync() =>
        metricsPort is { } port ? LoopLag.Parse(await Http.GetStringAsync($"http://127.0.0.1:{port}/metrics")) : null;

    public override async Task<LoopLag?> QueueDelayAsync() =>
        metricsPort is { } port ? LoopLag.Parse(await Http.GetStringAsync($"http://127.0.0.1:{port}/metrics"), LoopLag.QueueDelayName) : null;

    private readonly string _transport = relay is "socket-dotnet" or "socket-metrics" or "socket-bare" ? "socket" : relay;
    private readonly CancellationTokenSource _scraping = new();

    /// <summary>The pool is sized for the idle-memory measurement too (channels are opened later, through the protocol).</summary>
    public static int MaxIdleChannels { get; set; }

    private IActorRef? _node;
    private int _channels;

    /// <summary>Each node records its channels (relay.persistence, on in the node process) in a data directory of its own, deleted after.</summary>
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("actorrelay-bench-data");

    public override string Name => nodeDll is null ? $"actorrelay-{relay}" : "actorrelay-baseline";

    public override async Task<IReadOnlyList<(int Left, int Right)>> StartAsync(int channels)
    {
        var env = new Dictionary<string, string>
            {
                ["ACTORRELAY__PORTS__MIN"] = portMin.ToString(), ["ACTORRELAY__PORTS__MAX"] = (portMin + 2 * Math.Max(channels, MaxIdleChannels) + 99 + ngPorts).ToString(),
                ["ACTORRELAY__IDLE_TIMEOUT"] = "10m", ["ACTORRELAY__SETUP_TIMEOUT"] = "10m",
                ["ACTORRELAY__SOCKET_ENGINE"] = relay == "socket-dotnet" ? "dotnet" : "auto",
                ["ACTORRELAY__CONTROL__ADMINISTRATORS"] = "127.0.0.1", // the generator reads runtime stats after a forced collection
                ["ACTORRELAY__PERSISTENCE__DATA_DIRECTORY"] = _data.FullName,
            };
        // socket-bare: no per-call quality (the plain socket relay runs the defaults: quality on, no endpoint)
        if (relay == "socket-bare") env["ACTORRELAY__QUALITY__ENABLED"] = "off";
        if (metricsPort is { } mp) env["ACTORRELAY__METRICS__LISTEN"] = $"127.0.0.1:{mp}";
        foreach (var (k, v) in extraEnvironment ?? new Dictionary<string, string>()) env[k] = v;
        // relay socket-ng: the node also takes NG calls (its channels from the same pool, on the same relay loops)
        if (ngPort is not null)
        {
            env["ACTORRELAY__NG__IDLE_TIMEOUT"] = "10m";
            env["ACTORRELAY__NG__SETUP_TIMEOUT"] = "10m";
        }
        string[] ng = ngPort is { } np ? ["--ng", $"127.0.0.1:{np}"] : [];
        Process = Launch("dotnet", [nodeDll ?? Paths.NodeDll, "--transport", _transport, "--bind", "127.0.0.1", "--remote-port", remotePort.ToString(),
                "--log-level", "warning", ..ng], env, "All set.");
        if (relay == "socket-metrics" && metricsPort is { } scraped) _ = ScrapeAsync($"http://127.0.0.1:{scraped}/metrics", _scraping.Token);
        _channels = channels;
        _node = await generator.ActorSelection($"akka.tcp://actor-relay@127.0.0.1:{remotePort}/user/relay").ResolveOne(TimeSpan.FromSeconds(10));
        var answers = await Task.WhenAll(Enumerable.Range(0, channels).Select(i =>
            _node.Ask<object>(new OpenChannel($"bench-{i}", SubscribeOpener: false), TimeSpan.FromSeconds(30))));
        var opened = answers.Select(a => a as ChannelOpened ?? throw new InvalidOperationException($"the node did not open a channel: {a}")).ToList();
        return opened.Select(o => (o.Left.Port, o.Right.Port)).ToList();
    }

    public IActorRef Node => _node!;

    private static async Task ScrapeAsync(string url, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        while (!stop.IsCancellationRequested)
        {
            try { _ = await http.GetStringAsync(url, stop); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            try { await Task.Delay(1000, stop); } catch (TaskCanceledException) { return; }
        }
    }

    public override async Task<RuntimeStats?> RuntimeAsync() =>
        await _node!.Ask<RuntimeStats>(GetRuntimeStats.Instance, TimeSpan.FromSeconds(10));

    public override Task<IReadOnlyDictionary<DropReason, long>?> DropsAsync() => SumDrops(_node!, _channels);

    public override async ValueTask DisposeAsync()
    {
        await _scraping.CancelAsync();
        if (Process is { HasExited: false }) { kill(Process.Id, 15); await Process.WaitForExitAsync(new CancellationTokenSource(10_000).Token).ContinueWith(_ => { }); }
        await base.DisposeAsync();
        try { _data.Delete(recursive: true); } catch (IOException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int kill(int pid, int sig);
}

/// <summary>
/// ActorRelay hosted in the benchmark's own process: an ActorSystem with the relay node, channels opened with
/// local messages (the same protocol, no Akka.Remote). CPU is the process's minus the generator thread's.
/// </summary>
internal sealed class InProcessActorRelay(string transport, int portMin) : RelayUnderTest
{
    private ActorSystem? _system;
    private IActorRef? _node;
    private int _channels;

    public override string Name => $"actorrelay-{transport}-in-process";
    public override int Pid => Environment.ProcessId;
    public override bool InProcess => true;
    public IActorRef Node => _node!;

    public override async Task<IReadOnlyList<(int Left, int Right)>> StartAsync(int channels)
    {
        _channels = channels;
        var portMax = portMin + 2 * Math.Max(channels, ActorRelayNode.MaxIdleChannels) + 99;
        var config = Akka.Configuration.ConfigurationFactory.ParseString($$"""
            relay { transport = {{transport}}, bind-address = "127.0.0.1", ports { min = {{portMin}}, max = {{portMax}} }
                    idle-timeout = 10m, setup-timeout = 10m }
            akka { loglevel = WARNING, log-dead-letters = off }
            """).WithFallback(ActorRelay.Settings.RelaySettings.DefaultConfig());
        config = ActorRelay.Settings.RelaySettings.From(config).AkkaIoConfig().WithFallback(config);
        _system = ActorSystem.Create("relay-in-process", config);
        _node = ActorRelay.Hosting.RelayHostingExtensions.StartRelayNode(_system);
        var answers = await Task.WhenAll(Enumerable.Range(0, channels).Select(i =>
            _node.Ask<object>(new OpenChannel($"bench-{i}", SubscribeOpener: false), TimeSpan.FromSeconds(30))));
        var opened = answers.Select(a => a as ChannelOpened ?? throw new InvalidOperationException($"the node did not open a channel: {a}")).ToList();
        return opened.Select(o => (o.Left.Port, o.Right.Port)).ToList();
    }

    public override async Task<RuntimeStats?> RuntimeAsync() =>
        await _node!.Ask<RuntimeStats>(GetRuntimeStats.Instance, TimeSpan.FromSeconds(10));

    public override Task<IReadOnlyDictionary<DropReason, long>?> DropsAsync() => SumDrops(_node!, _channels);

    public override async ValueTask DisposeAsync()
    {
        if (_system is not null) await _system.Terminate();
    }
}

/// <summary>
/// No relay at all: each client sends straight to its peer client. What the generator and the kernel's loopback
/// path cost and add to latency by themselves: the floor under every relay's figures on this machine.
/// </summary>
internal sealed class DirectLoopback(int clientPortMin) : RelayUnderTest
{
    public override string Name => "direct";
    public override int Pid => Environment.ProcessId;
    public override double CpuMilliseconds() => 0;

    public override Task<IReadOnlyList<(int Left, int Right)>> StartAsync(int channels) =>
        Task.FromResult<IReadOnlyList<(int, int)>>(Enumerable.Range(0, channels)
            .Select(i => (clientPortMin + 2 * i + 1, clientPortMin + 2 * i)).ToList()); // left client sends to the right client's port
}

/// <summary>The minimal C epoll relay (bench/c-relay/relay.c): channel i on ports base+2i, base+2i+1.</summary>
internal sealed class CRelay(string binary, int portMin) : RelayUnderTest
{
    public override string Name => "c-epoll";

    public override Task<IReadOnlyList<(int Left, int Right)>> StartAsync(int channels)
    {
        Process = Launch(binary, [portMin.ToString(), channels.ToString(), "127.0.0.1"], null, "All set.");
        return Task.FromResult<IReadOnlyList<(int, int)>>(Enumerable.Range(0, channels).Select(i => (portMin + 2 * i, portMin + 2 * i + 1)).ToList());
    }
}

internal static class Paths
{
    public static string Root
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "ActorRelay.sln"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("run from inside the repository");
        }
    }

    public static string NodeDll
    {
        get
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory);
            var dll = Path.Combine(Root, "src", "ActorRelay.Node", "bin", here.Parent!.Name, here.Name, "ActorRelay.Node.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/ActorRelay.Node", dll);
        }
    }
}
