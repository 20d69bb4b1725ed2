using System.Buffers.Binary;
using System.Net;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;

namespace ActorRelay.Tests.Latching;

/// <summary>Mode auto, the default: RTP rules for RTP, first's rules for anything else, RTP winning.</summary>
public sealed class AutoLatchTests
{
    private static readonly PacketSource Client = Src("198.51.100.10", 4000);
    private static readonly PacketSource ClientRebound = Src("198.51.100.10", 4100);
    private static readonly PacketSource Sprayer = Src("203.0.113.66", 31337);
    private const uint ClientSsrc = 0xAAAA0001;

    private static PacketSource Src(string ip, int port) => PacketSource.From(new IPEndPoint(IPAddress.Parse(ip), port));

    private static SideLatch Latch() => new(RelaySettings.Default.Latch with { Mode = LatchMode.Auto }, 0);

    private static byte[] Rtp(ushort seq, uint ssrc = ClientSsrc) => LatchPolicyMatrixTests.Rtp(seq, ssrc);

    /// <summary>A STUN binding request (RFC 5389: type 0x0001, length 0, magic cookie, transaction id).</summary>
    private static byte[] Stun()
    {
        var p = new byte[20];
        p[1] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), PacketDemux.StunMagicCookie);
        return p;
    }

    private static readonly byte[] DtlsHello = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 1, 2, 3];

    [Fact]
    public void Another_protocol_latches_a_fresh_side_provisionally_and_an_rtp_source_that_passes_probation_takes_it_over()
    {
        var latch = Latch();
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Sprayer, DtlsHello, 0));
        Assert.False(latch.CarriesRtp);
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Client, Stun(), 1)); // another protocol: first's rules
        for (ushort s = 1; s < 4; s++) Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(s), s));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(Client, Rtp(4), 4));             // RTP wins
        Assert.True(latch.CarriesRtp);
        Assert.Equal(Client, latch.Current);
        // an RTP side: no other protocol moves it, and no other SSRC
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(Sprayer, DtlsHello, 5));
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(Sprayer, Stun(), 6));
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Sprayer, Rtp(5, 0xBAD0BAD0), 7));
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Stun(), 8));             // the client's own keepalives pass
    }

    [Fact]
    public void A_spray_of_single_rtp_packets_with_fresh_ssrcs_never_passes_probation()
    {
        var latch = Latch();
        var rng = new Random(7);
        for (var i = 0; i < 1000; i++)
            Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Src("203.0.113.66", 1000 + i % 50), Rtp((ushort)rng.Next(), (uint)rng.Next(1, int.MaxValue)), i));
        Assert.False(latch.IsLatched);
    }

    [Fact]
    public void The_provisional_source_itself_sending_rtp_passes_probation_like_any_other_and_then_carries_rtp()
    {
        var latch = Latch();
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Client, DtlsHello, 0)); // a DTLS-SRTP client: handshake first
        for (ushort s = 100; s < 103; s++) Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(s), s));
        Assert.False(latch.CarriesRtp);
        Assert.Equal(LatchVerdict.Confirmed, latch.Offer(Client, Rtp(103), 103)); // then SRTP from the same address
        Assert.True(latch.CarriesRtp);
        Assert.Equal(Client, latch.Current);
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Rtp(104), 104));
    }

    [Fact]
    public void A_stranger_whose_junk_latched_a_fresh_side_cannot_confirm_it_with_rtp_of_random_ssrcs()
    {
        var latch = Latch();
        var rng = new Random(11);
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Sprayer, Stun(), 0));
        for (var i = 1; i < 200; i++)
            Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Sprayer, Rtp((ushort)rng.Next(), (uint)rng.Next(1, int.MaxValue)), i));
        Assert.False(latch.CarriesRtp);
        for (ushort s = 1; s <= 4; s++) latch.Offer(Client, Rtp(s), 200 + s); // the genuine client takes it over
        Assert.Equal(Client, latch.Current);
        Assert.True(latch.CarriesRtp);
    }

    [Fact]
    public void A_nat_rebind_with_the_same_ssrc_is_followed_and_stale_packets_never_swing_it_back()
    {
        var latch = Latch();
        for (ushort s = 1; s <= 4; s++) latch.Offer(Client, Rtp(s), s);
        Assert.Equal(Client, latch.Current);
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Rtp(5), 5));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(ClientRebound, Rtp(6), 6));
        Assert.Equal(ClientRebound, latch.Current);
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Client, Rtp(5), 7)); // behind: a stale packet of the old port
        Assert.Equal(ClientRebound, latch.Current);
    }

    [Fact]
    public void Empty_datagrams_never_latch_nor_move_a_latch_but_pass_from_the_latched_source()
    {
        var latch = Latch();
        Assert.Equal(LatchVerdict.DropEmpty, latch.Offer(Sprayer, [], 0));
        Assert.False(latch.IsLatched);
        for (ushort s = 1; s <= 4; s++) latch.Offer(Client, Rtp(s), s);
        Assert.Equal(LatchVerdict.DropEmpty, latch.Offer(Sprayer, [], 5));
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, [], 6));
        Assert.Equal(DropReason.Empty, LatchVerdict.DropEmpty.ToDropReason());
    }

    [Fact]
    public void A_non_rtp_protocol_is_relayed_with_firsts_rules()
    {
        var latch = Latch();
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Client, [0x42, 1, 2], 0));
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, [0x42, 3], 1));
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Sprayer, [0x42, 4], 2));
        latch.Resignal(10, null);
        Assert.Equal(LatchVerdict.Moved, latch.Offer(ClientRebound, [0x42, 5], 11)); // a re-signal moves it once, in the window
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Client, [0x42, 6], 12));
    }
}
