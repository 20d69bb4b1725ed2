using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Nat.Tests;

/// <summary>
/// Hijack-safe latching proven through real NAT (network namespaces, iptables MASQUERADE) with a real
/// attacker beside the relay. The relay runs in this process, in the root namespace, on the public segment.
/// Each test builds its own lab and removes it. One test at a time (one class: xunit runs it sequentially).
/// </summary>
public sealed class RealNatSpecs : IDisposable
{
    private const int PortMin = 14000, PortMax = 14039;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly ITestOutputHelper _out;
    private NatLab? _lab;
    private ActorSystem? _system;

    public RealNatSpecs(ITestOutputHelper output)
    {
        _out = output;
    }

    private (NatLab Lab, IActorRef Node) Start(string transport = "socket")
    {
        NatLab.RequireOrSkip();
        NatLab.SweepStale();
        _lab = new NatLab();
        var config = ConfigurationFactory.ParseString($"relay.transport = {transport}")
            .WithFallback(RelaySettings.From(RelaySettings.DefaultConfig()).AkkaIoConfig())
            .WithFallback(RelaySettings.DefaultConfig());
        _system = ActorSystem.Create("nat-relay", config);
        var settings = RelaySettings.From(config) with { BindAddress = NatLab.RelayAddress, PortMin = PortMin, PortMax = PortMax };
        return (_lab, _system.ActorOf(RelayNodeActor.Props(settings), "relay"));
    }

    public void Dispose()
    {
        _system?.Terminate().Wait(Wait);
        _lab?.Dispose();
    }

    // ---- media -------------------------------------------------------------------------------

    private const byte FromA = (byte)'A', FromB = (byte)'B', FromAttacker = (byte)'X';

    private static byte[] Rtp(ushort seq, uint ssrc, byte marker)
    {
        var p = new byte[172];
        p[0] = 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), seq * 160u);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        Array.Fill(p, marker, 12, 160);
        return p;
    }

    /// <summary>A client behind its NAT: one socket, sends and receives on one port, RTP with its own SSRC.</summary>
    private sealed class Client(Socket socket, uint ssrc, byte marker, IPEndPoint relay)
    {
        public Socket Socket { get; set; } = socket;
        public ushort Seq { get; set; } = 1000;
        public int Injected { get; private set; }
        public void Send() => Socket.SendTo(Rtp(Seq++, ssrc, marker), relay);

        /// <summary>Receives until a packet from <paramref name="peer"/> with sequence number at least <paramref name="minSeq"/>
        /// arrives (older ones were queued before); counts attacker packets seen meanwhile.</summary>
        public bool Hear(byte peer, ushort minSeq, TimeSpan within)
        {
            var buffer = new byte[2048];
            var deadline = DateTime.UtcNow + within;
            while (DateTime.UtcNow < deadline)
            {
                Socket.ReceiveTimeout = Math.Max(1, (int)(deadline - DateTime.UtcNow).TotalMilliseconds);
                int n;
                try { n = Socket.Receive(buffer); }
                catch (SocketException) { return false; }
                if (n > 12 && buffer[12] == FromAttacker) Injected++;
                else if (n > 12 && buffer[12] == peer &&
                         (ushort)(BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)) - minSeq) < 32768) return true;
            }
            return false;
        }
    }

    /// <summary>Sends from <paramref name="from"/> until <paramref name="to"/> hears it (at most <paramref name="tries"/> packets); returns packets lost.</summary>
    private static int Exchange(Client from, byte fromMarker, Client to, int tries = 20)
    {
        for (var i = 0; i < tries; i++)
        {
            var seq = from.Seq;
            from.Send();
            if (to.Hear(fromMarker, seq, TimeSpan.FromMilliseconds(250))) return i;
        }
        throw new Xunit.Sdk.XunitException($"no media from {(char)fromMarker} after {tries} packets");
    }

    /// <summary>The attacker beside the relay: sprays every port of the relay's range and counts what comes back.</summary>
    private sealed class Attacker : IDisposable
    {
        private readonly Socket _socket;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _spray, _listen;
        private int _bled, _sent;

        /// <param name="junk">Instead of RTP: zero-length datagrams, STUN binding requests, DTLS records and random bytes.</param>
        public Attacker(NatLab lab, bool smart, bool junk = false)
        {
            _socket = NatLab.SocketIn(lab.Attacker, new IPEndPoint(NatLab.AttackerAddress, 0));
            _socket.ReceiveTimeout = 50;
            // Blocking loops get threads of their own: on the thread pool they would starve the relay's socket
            // completions on a 2-core machine and delay media by the pool's thread injection (~0.5-1 s).
            _spray = Task.Factory.StartNew(() => Spray(smart, junk), TaskCreationOptions.LongRunning);
            _listen = Task.Factory.StartNew(Listen, TaskCreationOptions.LongRunning);
        }

        public int Bled => Volatile.Read(ref _bled);
        public int Sent => Volatile.Read(ref _sent);

        /// <summary>random: random bytes and one-off SSRCs. smart: a well-formed RTP stream (one SSRC, consecutive
        /// sequence numbers) to every port, as a deliberate attacker would (ES2025-01's spray.py).</summary>
        private void Spray(bool smart, bool junk)
        {
            var rng = new Random(42);
            ushort seq = 1;
            var deadline = DateTime.UtcNow.AddSeconds(30); // bounded, whatever happens
            while (!_stop.IsCancellationRequested && DateTime.UtcNow < deadline)
            {
                for (var port = PortMin; port <= PortMax; port++)
                {
                    var packet = junk ? Junk(rng) : smart ? Rtp(seq, 0xBAD0BAD0, FromAttacker) : Rtp((ushort)rng.Next(), (uint)rng.Next(1, int.MaxValue), FromAttacker);
                    if (!smart && !junk && rng.Next(4) == 0) rng.NextBytes(packet.AsSpan(0, 12));
                    try { _socket.SendTo(packet, new IPEndPoint(NatLab.RelayAddress, port)); Interlocked.Increment(ref _sent); }
                    catch (SocketException) { }
                }
                seq++;
                Thread.Sleep(2); // about 20,000 packets/s over the range: a flood, but the 2 cores stay usable
            }
        }

        /// <summary>What arrives on RTP ports that is not RTP: empty datagrams, STUN, DTLS, garbage (each marked as the attacker's).</summary>
        private static byte[] Junk(Random rng)
        {
            switch (rng.Next(4))
            {
                case 0: return [];
                case 1:
                    var stun = new byte[20 + 12]; // binding request: type 1, length 0 + 12-byte transaction id ... marker at 12
                    stun[1] = 1;
                    BinaryPrimitives.WriteUInt32BigEndian(stun.AsSpan(4), 0x2112A442);
                    rng.NextBytes(stun.AsSpan(8, 12));
                    stun[12] = FromAttacker;
                    return stun[..20];
                case 2:
                    var dtls = new byte[60];            // a DTLS handshake record (content type 22)
                    rng.NextBytes(dtls);
                    dtls[0] = 22;
                    dtls[12] = FromAttacker;
                    return dtls;
                default:
                    var garbage = new byte[rng.Next(1, 200)];
                    rng.NextBytes(garbage);
                    if (garbage.Length > 12) garbage[12] = FromAttacker;
                    garbage[0] = (byte)rng.Next(0, 128);  // never RTP
                    return garbage;
            }
        }

        private void Listen()
        {
            var buffer = new byte[2048];
            while (!_stop.IsCancellationRequested)
            {
                try { if (_socket.Receive(buffer) > 0) Interlocked.Increment(ref _bled); }
                catch (SocketException) { }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            Task.WaitAll([_spray, _listen], TimeSpan.FromSeconds(5));
            _socket.Dispose();
        }
    }

    /// <summary>Opens a channel; no <paramref name="mode"/>: the node's defaults, as users run it.</summary>
    private static async Task<ChannelOpened> Open(IActorRef node, string id, LatchMode? mode = null, string? expectA = null, string? expectB = null)
    {
        var reply = await node.Ask<object>(new OpenChannel(id, new SideRequest(ExpectedSource: expectA), new SideRequest(ExpectedSource: expectB),
            mode is null ? null : new ChannelOptions(LatchMode: mode)), Wait);
        return Assert.IsType<ChannelOpened>(reply);
    }

    private (Client A, Client B) Clients(NatLab lab, ChannelOpened ch) => (
        new Client(NatLab.SocketIn(lab.ClientA, new IPEndPoint(NatLab.ClientAAddress, 5004)), 0xAAAA0001, FromA,
            new IPEndPoint(NatLab.RelayAddress, ch.Left.Port)),
        new Client(NatLab.SocketIn(lab.ClientB, new IPEndPoint(NatLab.ClientBAddress, 6004)), 0xBBBB0001, FromB,
            new IPEndPoint(NatLab.RelayAddress, ch.Right.Port)));

    /// <summary>
    /// Both clients start (four packets each, enough for probation), then media goes both ways, paced like
    /// 20 ms audio so a concurrent spray really overlaps the call (pacing only: each step waits for delivery).
    /// </summary>
    private static void Call(Client a, Client b, int exchanges = 10)
    {
        for (var i = 0; i < 4; i++) { a.Send(); b.Send(); }
        for (var i = 0; i < exchanges; i++)
        {
            Exchange(a, FromA, b);
            Exchange(b, FromB, a);
            Thread.Sleep(20);
        }
    }

    // ---- 1. media through both NATs ----------------------------------------------------------

    [SkippableTheory]
    [InlineData("socket")]
    [InlineData("akka-io")]
    public async Task Media_flows_both_ways_through_both_nats_and_the_relay_sees_only_public_addresses(string transport)
    {
        var (lab, node) = Start(transport);
        var ch = await Open(node, "call"); // the node's defaults
        var (a, b) = Clients(lab, ch);
        Call(a, b);
        var snap = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
        Assert.Equal(NatLab.NatAPublic.ToString(), snap.Left.Latched!.Address);
        Assert.Equal(NatLab.NatBPublic.ToString(), snap.Right.Latched!.Address);
        Assert.Equal(5004, snap.Left.Latched.Port);          // NAT A keeps ports
        _out.WriteLine($"NAT B mapped 6004 to {snap.Right.Latched.Port} (random-fully)");
    }

    // ---- 2. an attacker spraying the relay's range ---------------------------------------------

    [SkippableFact]
    public async Task Defaults_a_random_spray_running_before_open_and_through_the_call_bleeds_nothing()
    {
        var (lab, node) = Start();
        using var attacker = new Attacker(lab, smart: false);
        SpinUntil(() => attacker.Sent > 2_000);                // the spray is already running
        var ch = await Open(node, "call");                     // the node's defaults (latch mode auto)
        var (a, b) = Clients(lab, ch);
        Call(a, b, exchanges: 20);
        attacker.Dispose();
        Assert.Equal(0, attacker.Bled);
        Assert.Equal(0, a.Injected + b.Injected);
        var snap = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
        Assert.Equal(NatLab.NatAPublic.ToString(), snap.Left.Latched!.Address);
        Assert.True(snap.Left.PacketsDropped >= 20 && snap.Right.PacketsDropped >= 20, "the spray must have hit both sides");
        _out.WriteLine($"attacker sent {attacker.Sent}, bled 0; dropped L {snap.Left.PacketsDropped} R {snap.Right.PacketsDropped}");
    }

    [SkippableFact]
    public async Task Expected_source_a_deliberate_rtp_spray_before_during_and_after_learning_bleeds_nothing()
    {
        var (lab, node) = Start();
        using var attacker = new Attacker(lab, smart: true);
        SpinUntil(() => attacker.Sent > 2_000);
        // the SIP server knows each leg's public address from its signalling
        var ch = await Open(node, "call", LatchMode.First, NatLab.NatAPublic.ToString(), NatLab.NatBPublic.ToString());
        var (a, b) = Clients(lab, ch);
        Call(a, b, exchanges: 20);
        attacker.Dispose();
        Assert.Equal(0, attacker.Bled);
        Assert.Equal(0, a.Injected + b.Injected);
        var snap = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
        Assert.True(snap.Left.Dropped.GetValueOrDefault(DropReason.UnexpectedSource) >= 20, "the spray must have hit the left side");
        Assert.True(snap.Right.Dropped.GetValueOrDefault(DropReason.UnexpectedSource) >= 20, "the spray must have hit the right side");
    }

    [SkippableFact]
    public async Task First_mode_once_latched_a_spray_bleeds_nothing_but_without_an_expected_source_it_can_win_a_fresh_side()
    {
        var (lab, node) = Start();
        // after latching: zero
        var ch = await Open(node, "call", LatchMode.First);
        var (a, b) = Clients(lab, ch);
        Call(a, b, exchanges: 2);
        using (var attacker = new Attacker(lab, smart: true))
        {
            SpinUntil(() => attacker.Sent > 2_000);
            Call(a, b, exchanges: 10);
            attacker.Dispose();
            Assert.Equal(0, attacker.Bled);
            Assert.Equal(0, a.Injected + b.Injected);
            var latched = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
            Assert.True(latched.Left.Dropped.GetValueOrDefault(DropReason.ForeignSource) >= 20, "the spray must have hit the channel");
        }
        // the bound this mode cannot beat: a spray that reaches a fresh side before the client latches it
        using var early = new Attacker(lab, smart: true);
        SpinUntil(() => early.Sent > 2_000);
        var exposed = await Open(node, "exposed", LatchMode.First);
        await AwaitLatched(node, "exposed");
        var snap = await node.Ask<ChannelSnapshot>(new GetChannel("exposed"), Wait);
        Assert.Equal(NatLab.AttackerAddress.ToString(), snap.Left.Latched!.Address);
        _out.WriteLine("first mode without expected source: a spray running before the client's first packet latches the side (use rtp or an expected source)");
    }

    [SkippableFact]
    public async Task Defaults_empty_stun_and_dtls_datagrams_sprayed_before_the_clients_start_take_nothing_and_hear_nothing()
    {
        var (lab, node) = Start();
        using var attacker = new Attacker(lab, smart: false, junk: true);
        SpinUntil(() => attacker.Sent > 2_000);                // the junk is already arriving when the channel opens
        var ch = await Open(node, "call");
        await AwaitAssertAsync(async () =>                     // and has latched both fresh sides provisionally
        {
            var s = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
            Assert.Equal(NatLab.AttackerAddress.ToString(), s.Left.Latched?.Address);
            Assert.Equal(NatLab.AttackerAddress.ToString(), s.Right.Latched?.Address);
        });
        var (a, b) = Clients(lab, ch);
        Call(a, b, exchanges: 20);                             // RTP passing probation takes each side over
        attacker.Dispose();
        Assert.Equal(0, attacker.Bled);
        Assert.Equal(0, a.Injected + b.Injected);
        var snap = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
        Assert.Equal(NatLab.NatAPublic.ToString(), snap.Left.Latched!.Address);
        Assert.Equal(NatLab.NatBPublic.ToString(), snap.Right.Latched!.Address);
        _out.WriteLine($"junk sent {attacker.Sent}, bled 0; dropped L {string.Join(",", snap.Left.Dropped)} R {string.Join(",", snap.Right.Dropped)}");
    }

    private static async Task AwaitAssertAsync(Func<Task> assertion)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try { await assertion(); return; }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline) { await Task.Delay(20); }
        }
    }

    // ---- 3. NAT rebinding mid-call -----------------------------------------------------------

    [SkippableFact]
    public async Task Defaults_a_call_survives_both_clients_nat_mappings_changing()
    {
        var (lab, node) = Start();
        using var attacker = new Attacker(lab, smart: false);
        var ch = await Open(node, "call");                     // the node's defaults (latch mode auto)
        var (a, b) = Clients(lab, ch);
        Call(a, b);
        var before = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);

        // A's phone moves to another local port (its NAT keeps ports: a new public port too)
        var old = a.Socket;
        a.Socket = NatLab.SocketIn(lab.ClientA, new IPEndPoint(NatLab.ClientAAddress, 5008));
        old.Dispose();
        var lostA = Exchange(a, FromA, b);
        var lostToA = Exchange(b, FromB, a);

        // B's NAT forgets its mapping (--random-fully: the next packet leaves from a new random port)
        lab.FlushConntrack(lab.NatB);
        var lostB = Exchange(b, FromB, a);
        var lostToB = Exchange(a, FromA, b);
        Call(a, b, exchanges: 5);

        var after = await node.Ask<ChannelSnapshot>(new GetChannel("call"), Wait);
        Assert.Equal(5008, after.Left.Latched!.Port);
        Assert.NotEqual(before.Right.Latched!.Port, after.Right.Latched!.Port);
        Assert.Equal(NatLab.NatBPublic.ToString(), after.Right.Latched.Address);
        // the gap: packets sent after the move that did not arrive
        Assert.True(lostA + lostToA + lostB + lostToB == 0, $"gaps A {lostA}/{lostToA}, B {lostB}/{lostToB}");
        attacker.Dispose();
        Assert.Equal(0, attacker.Bled);
        _out.WriteLine($"rebind gaps (packets): A→B {lostA}, B→A {lostToA}, B→A after flush {lostB}, A→B {lostToB}");
    }

    // ---- 4. the seed's follow mode fails the spray test ----------------------------------------

    [SkippableFact]
    public async Task Follow_mode_the_seeds_behaviour_bleeds_media_to_the_attacker()
    {
        var (lab, node) = Start();
        var ch = await Open(node, "call", LatchMode.Follow);
        var (a, b) = Clients(lab, ch);
        Call(a, b, exchanges: 2);
        using var attacker = new Attacker(lab, smart: false);
        SpinUntil(() => attacker.Sent > 2_000);
        for (var i = 0; i < 50; i++) { a.Send(); b.Send(); }
        SpinUntil(() => attacker.Bled > 0);
        attacker.Dispose();
        Assert.True(attacker.Bled > 0, "follow mode should have bled media to the attacker");
        _out.WriteLine($"follow mode: the attacker received {attacker.Bled} media packets");
    }

    private static async Task AwaitLatched(IActorRef node, string id)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            var s = await node.Ask<ChannelSnapshot>(new GetChannel(id), Wait);
            if (s.Left.Latched is not null) return;
            await Task.Delay(20);
        }
        throw new Xunit.Sdk.XunitException($"{id} never latched");
    }

    private static void SpinUntil(Func<bool> condition)
    {
        if (!SpinWait.SpinUntil(condition, Wait)) throw new Xunit.Sdk.XunitException("condition not reached in time");
    }
}
