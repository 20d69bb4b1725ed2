using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using ActorRelay.Hosting;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// The product variant: Kamailio drives ActorRelay's NG endpoint. Every test of <see cref="KamailioCallSpecs"/>, plus
/// an attacker who sprays the relay's whole port range from before the calls start, which the rtpengine reference is
/// not asked to survive (it learns from the first packet). After every test, the node holds no channel and no port.
/// </summary>
public sealed class ActorRelayKamailioCallSpecs(ITestOutputHelper output) : KamailioCallSpecs(output)
{
    protected override IMediaRelayUnderTest CreateRelay() => new ActorRelayNgRelay();
    protected override string? Reference => null;
    protected override bool RelayInstalled => true;

    protected override async Task AssertRelayHoldsNothing(SipRig rig)
    {
        var relay = (ActorRelayNgRelay)rig.Relay;
        NodeStatus status = null!;
        await Until(() =>
        {
            status = relay.Status();
            return status.ChannelsOpen == 0 && status.PortsFree == status.PortsTotal;
        }, "the node to close every channel and free every port");
        Out.WriteLine($"node after the test: {status.ChannelsOpen} channels open, {status.PortsFree} of {status.PortsTotal} ports free, " +
                      $"{status.ChannelsOpened} opened in all, closed {string.Join(", ", status.ClosedByReason.Select(c => $"{c.Key} {c.Value}"))}");
    }

    /// <summary>
    /// The attacker sprays a well-formed RTP stream (one SSRC, consecutive sequence numbers, 50 packets/s per port) at
    /// every port of the relay's range from before the first INVITE until after the last BYE, so every channel meets
    /// the attacker before it meets its client. Nothing may latch a side before the call's answer, and the answer
    /// gives each side its party's expected source: the attacker receives nothing and injects nothing.
    /// </summary>
    [SkippableFact]
    public Task An_attacker_spraying_the_relays_whole_port_range_from_before_the_calls_start_receives_nothing() => WithRig(async rig =>
    {
        using var attacker = new RelaySprayer(rig.Lab, rig.Relay.PortMin, rig.Relay.PortMax);
        await Until(() => attacker.Rounds >= 5, "the spray to run");
        var calls = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Establish(rig, i)));
        var phases = await Task.WhenAll(calls.Select(c => Measure(rig, c, from: null)));
        await Task.WhenAll(calls.Select(c => HangUp(rig, c, byCaller: true)));
        attacker.Dispose();
        Out.WriteLine($"attacker: {attacker.Sent} packets over ports {rig.Relay.PortMin}-{rig.Relay.PortMax} in {attacker.Rounds} rounds; received {attacker.Bled}");
        foreach (var (source, count) in attacker.BledFrom) Out.WriteLine($"  attacker received {count} from {source}");
        Assert.Equal(0, attacker.Bled);
        for (var i = 0; i < calls.Length; i++) AssertDelivered(calls[i], phases[i]);      // and it injected nothing
    });
}

/// <summary>
/// An ActorRelay node in this test's process, in the root namespace on the lab's public address, with its NG endpoint
/// on a free loopback port, hosted as an application hosts it (<see cref="RelayHostingExtensions.StartRelayNode"/>
/// starts the NG endpoint that relay.ng.listen asks for). Its log is kept in memory for the test output.
/// </summary>
public sealed class ActorRelayNgRelay(int portMin = 30000, int portMax = 30199) : IMediaRelayUnderTest
{
    private static int _instances;
    private ActorSystem? _system;
    private IActorRef? _node;
    private string _name = "";

    public string Name => "ActorRelay";
    public IPEndPoint NgAddress { get; private set; } = new(IPAddress.Loopback, 0);
    public int PortMin => portMin;
    public int PortMax => portMax;
    public string Log => MemoryLogger.Lines(_name);

    public void Start(NatLab lab)
    {
        NgAddress = new IPEndPoint(IPAddress.Loopback, RtpengineRelay.FreeUdpPort());
        _name = $"actor-relay-sip-{Interlocked.Increment(ref _instances)}";
        var config = ConfigurationFactory.ParseString($$"""
            relay {
              bind-address = "{{NatLab.RelayAddress}}"
              ports { min = {{PortMin}}, max = {{PortMax}} }
              ng { listen = ["{{NgAddress}}"] }
            }
            akka {
              loglevel = INFO
              loggers = ["{{typeof(MemoryLogger).AssemblyQualifiedName}}"]
              log-dead-letters = off
            }
            """).WithFallback(RelaySettings.DefaultConfig());
        _system = ActorSystem.Create(_name, config);
        _node = RelayHostingExtensions.StartRelayNode(_system);
        using var ng = new NgClient(NgAddress);
        if (!ng.Ping(TimeSpan.FromSeconds(10))) throw new InvalidOperationException($"ActorRelay's NG endpoint did not answer a ping:\n{Log}");
    }

    public NodeStatus Status() => _node!.Ask<NodeStatus>(GetNodeStatus.Instance, TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();

    public void Dispose()
    {
        _system?.Terminate().Wait(TimeSpan.FromSeconds(15));
        MemoryLogger.Forget(_name);
    }
}

/// <summary>An Akka logger that keeps each system's last lines in memory (the test output shows them after a failure).</summary>
public sealed class MemoryLogger : ReceiveActor
{
    private const int MaxLines = 4000;
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<string>> Logs = new();

    public MemoryLogger()
    {
        var lines = Logs.GetOrAdd(Context.System.Name, _ => new ConcurrentQueue<string>());
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            lines.Enqueue(e.ToString());
            while (lines.Count > MaxLines) lines.TryDequeue(out _);
        });
    }

    public static string Lines(string system) => Logs.TryGetValue(system, out var lines) ? string.Join('\n', lines) : "";

    public static void Forget(string system) => Logs.TryRemove(system, out _);
}
