using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Node;

/// <summary>
/// Thousands of open/close cycles through the protocol leave the pool full and no socket behind:
/// counted by the node, by this process's file descriptors and by the kernel's UDP table.
/// </summary>
[Collection(SocketCounting.Name)]
public abstract class PortLeakSpecs : TestKit
{
    private readonly (int Min, int Max) _ports = TestPorts.Block(100);
    private readonly IActorRef _node;
    private readonly int _cycles;

    protected PortLeakSpecs(string dataPath, int cycles, ITestOutputHelper output)
        : base(DataPaths.Config(dataPath), output: output)
    {
        _cycles = cycles;
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = _ports.Min, PortMax = _ports.Max, BindAddress = IPAddress.Loopback };
        _node = Sys.ActorOf(RelayNodeActor.Props(settings), "relay");
    }

    /// <summary>
    /// This process's UDP sockets (descriptors whose socket inode the kernel's UDP tables list): the relay's sockets,
    /// and not the TCP connections of other specs' ActorSystems, which may still be closing when this one starts.
    /// </summary>
    private static int OpenSocketDescriptors()
    {
        var udp = new[] { "/proc/net/udp", "/proc/net/udp6" }.Where(File.Exists).SelectMany(File.ReadLines)
            .Select(l => l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && f[0] != "sl").Select(f => f[9]).ToHashSet();
        return Directory.GetFiles("/proc/self/fd").Count(fd =>
        {
            try { return new FileInfo(fd).LinkTarget is { } t && t.StartsWith("socket:[") && udp.Contains(t[8..^1]); }
            catch (IOException) { return false; } // closed while we looked
        });
    }

    /// <summary>Local UDP ports in [min,max] the kernel has bound (IPv4 and IPv6 tables).</summary>
    private int BoundPortsInRange() =>
        new[] { "/proc/net/udp", "/proc/net/udp6" }.Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Select(l => l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 1 && f[1].Contains(':') && f[0] != "sl")
            .Select(f => Convert.ToInt32(f[1][(f[1].LastIndexOf(':') + 1)..], 16))
            .Count(p => p >= _ports.Min && p <= _ports.Max);

    [Fact]
    public async Task Open_close_cycles_leak_no_port_and_no_socket()
    {
        var wait = TimeSpan.FromSeconds(30); // a deadline, not a delay: generous for a loaded 2-core CI box
        var fdsBefore = OpenSocketDescriptors();
        Assert.Equal(0, BoundPortsInRange());
        const int batch = 25; // channels open at once
        for (var done = 0; done < _cycles; done += batch)
        {
            var opens = Enumerable.Range(done, batch).Select(i => _node.Ask<object>(new OpenChannel($"c{i}", SubscribeOpener: false), wait));
            foreach (var r in await Task.WhenAll(opens)) Assert.IsType<ChannelOpened>(r);
            var closes = Enumerable.Range(done, batch).Select(i => _node.Ask<object>(new CloseChannel($"c{i}"), wait));
            foreach (var r in await Task.WhenAll(closes)) Assert.IsType<ChannelClosed>(r);
        }
        var status = await _node.Ask<NodeStatus>(GetNodeStatus.Instance, wait);
        Assert.Equal(status.PortsTotal, status.PortsFree);
        Assert.Equal(0, status.ChannelsOpen);
        Assert.Equal(_cycles, status.ChannelsOpened);
        Assert.Equal(_cycles, status.ClosedByReason[CloseReason.Requested]);
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(0, BoundPortsInRange());
            Assert.True(OpenSocketDescriptors() <= fdsBefore, $"sockets: {OpenSocketDescriptors()} now, {fdsBefore} before");
        }, wait);
    }

    [Fact]
    public async Task Terminating_the_actor_system_frees_every_port()
    {
        var wait = TimeSpan.FromSeconds(30); // a deadline, not a delay: generous for a loaded 2-core CI box
        for (var i = 0; i < 10; i++) Assert.IsType<ChannelOpened>(await _node.Ask<object>(new OpenChannel($"t{i}", SubscribeOpener: false), wait));
        Assert.Equal(20, BoundPortsInRange());
        await Sys.Terminate();
        await AwaitAssertAsync(() => Assert.Equal(0, BoundPortsInRange()), wait);
    }
}

public sealed class SocketPortLeakSpecs(ITestOutputHelper output) : PortLeakSpecs("socket", 10_000, output);

public sealed class SocketDotnetEnginePortLeakSpecs(ITestOutputHelper output) : PortLeakSpecs("socket-dotnet", 2_000, output);

public sealed class AkkaIoPortLeakSpecs(ITestOutputHelper output) : PortLeakSpecs("akka-io", 10_000, output);

/// <summary>Specs that count this process's sockets run alone: other specs' sockets would blur the count.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SocketCounting
{
    public const string Name = "socket-counting";
}
