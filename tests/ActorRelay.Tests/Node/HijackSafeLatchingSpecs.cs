using System.Net;
using Akka.Actor;
using ActorRelay.Protocol;
using ActorRelay.Tests.Latching;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Node;

/// <summary>Hijack-safe latching through the real node over loopback UDP, on every data path.</summary>
public abstract class HijackSafeLatchingSpecs(string dataPath, ITestOutputHelper output) : RelayNodeSpecsBase(dataPath, output)
{
    private static byte[] Rtp(ushort seq, uint ssrc) => LatchPolicyMatrixTests.Rtp(seq, ssrc);

    /// <summary>Reads until the packet with this RTP sequence number arrives (earlier ones may still be queued).</summary>
    private async Task ExpectSeqAsync(UdpPeer peer, ushort seq)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            var data = await peer.ExpectAsync(Wait);
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(2)) == seq) return;
        }
        throw new Xunit.Sdk.XunitException($"sequence {seq} never arrived at {peer.Local}");
    }

    private async Task<ChannelSnapshot> Snapshot(string id) => await Node.Ask<ChannelSnapshot>(new GetChannel(id), Wait);

    [Fact]
    public async Task With_an_expected_source_a_stranger_that_sends_first_cannot_latch()
    {
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var stranger = new UdpPeer();
        var ch = await OpenAsync("expected",
            new SideRequest(ExpectedSource: $"127.0.0.1:{a.Local.Port}"), new SideRequest(ExpectedSource: $"127.0.0.1:{b.Local.Port}"));
        for (var i = 0; i < 20; i++) { stranger.SendTo(ch.Left, Payload("spray")); stranger.SendTo(ch.Right, Payload("spray")); }
        await LatchBothAsync(ch, a, b);
        a.SendTo(ch.Left, Payload("genuine"));
        Assert.Equal("genuine", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        b.SendTo(ch.Right, Payload("genuine back"));
        Assert.Equal("genuine back", System.Text.Encoding.ASCII.GetString(await a.ExpectAsync(Wait)));
        stranger.AssertNothingQueued(); // both sides served the spray before these: nothing went to the stranger
        await AwaitAssertAsync(async () =>
        {
            var s = await Snapshot("expected");
            Assert.Equal(a.Local.Port, s.Left.Latched!.Port);
            Assert.Equal(20, s.Left.Dropped.GetValueOrDefault(DropReason.UnexpectedSource));
            Assert.Equal(20, s.Right.Dropped.GetValueOrDefault(DropReason.UnexpectedSource));
        }, Wait);
    }

    [Fact]
    public async Task Rtp_mode_a_spray_during_learning_cannot_win_and_a_rebind_with_the_same_ssrc_is_followed()
    {
        var ch = await OpenAsync("rtp", options: new ChannelOptions(LatchMode: LatchMode.Rtp));
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var stranger = new UdpPeer();
        var rng = new Random(3);
        ushort seqA = 1000, seqB = 2000;
        // spray junk and single RTP packets with fresh SSRCs at both sides while the clients start
        for (var i = 0; i < 4; i++)
        {
            for (var k = 0; k < 5; k++)
            {
                stranger.SendTo(ch.Left, Rtp((ushort)rng.Next(), (uint)rng.Next(1, int.MaxValue)));
                stranger.SendTo(ch.Right, Rtp((ushort)rng.Next(), (uint)rng.Next(1, int.MaxValue)));
            }
            a.SendTo(ch.Left, Rtp(seqA++, 0xAAAA));
            b.SendTo(ch.Right, Rtp(seqB++, 0xBBBB));
        }
        await AwaitAssertAsync(async () =>
        {
            var s = await Snapshot("rtp");
            Assert.Equal(a.Local.Port, s.Left.Latched?.Port);
            Assert.Equal(b.Local.Port, s.Right.Latched?.Port);
        }, Wait);
        a.SendTo(ch.Left, Rtp(seqA, 0xAAAA));
        await ExpectSeqAsync(b, seqA++);
        b.SendTo(ch.Right, Rtp(seqB, 0xBBBB));
        await ExpectSeqAsync(a, seqB++);
        stranger.AssertNothingQueued(); // both sides served the spray before these: nothing went to the stranger

        // a's NAT gives it a new port mid-call: same SSRC, next sequence numbers → followed
        using var a2 = new UdpPeer();
        a2.SendTo(ch.Left, Rtp(seqA, 0xAAAA));
        await ExpectSeqAsync(b, seqA++);
        b.SendTo(ch.Right, Rtp(seqB, 0xBBBB));
        await ExpectSeqAsync(a2, seqB++);
        var snap = await Snapshot("rtp");
        Assert.Equal(a2.Local.Port, snap.Left.Latched!.Port);
        Assert.True(snap.Left.Dropped.GetValueOrDefault(DropReason.Probation) >= 20);
        stranger.AssertNothingQueued();
    }

    [Fact]
    public async Task Resignal_through_the_protocol_lets_a_side_move_once()
    {
        var ch = await OpenAsync("resignal");
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        using var a2 = new UdpPeer();
        await LatchBothAsync(ch, a, b);
        a2.SendTo(ch.Left, Payload("too early"));
        await AwaitAssertAsync(async () =>
            Assert.Equal(1, (await Snapshot("resignal")).Left.Dropped.GetValueOrDefault(DropReason.ForeignSource)), Wait);
        Assert.Equal(new SideResignalled("resignal", Side.Left),
            await Node.Ask<SideResignalled>(new ResignalSide("resignal", Side.Left, $"127.0.0.1:{a2.Local.Port}"), Wait));
        a2.SendTo(ch.Left, Payload("after re-INVITE"));
        Assert.Equal("after re-INVITE", System.Text.Encoding.ASCII.GetString(await b.ExpectAsync(Wait)));
        var snap = await Snapshot("resignal");
        Assert.Equal(a2.Local.Port, snap.Left.Latched!.Port);
        Assert.Equal(1, snap.Left.Dropped.GetValueOrDefault(DropReason.ForeignSource));
        Assert.IsType<ChannelNotFound>(await Node.Ask<object>(new ResignalSide("nope", Side.Left), Wait));
        Assert.IsType<CommandRejected>(await Node.Ask<object>(new ResignalSide("resignal", Side.Left, "not-an-address"), Wait));
    }
}

public sealed class SocketHijackSafeLatchingSpecs(ITestOutputHelper output) : HijackSafeLatchingSpecs("socket", output);

public sealed class SocketDotnetEngineHijackSafeLatchingSpecs(ITestOutputHelper output) : HijackSafeLatchingSpecs("socket-dotnet", output);

public sealed class AkkaIoHijackSafeLatchingSpecs(ITestOutputHelper output) : HijackSafeLatchingSpecs("akka-io", output);
