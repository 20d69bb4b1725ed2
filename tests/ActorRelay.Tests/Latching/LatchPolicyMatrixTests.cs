using System.Buffers.Binary;
using System.Net;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.Tests.Latching;

/// <summary>
/// The latch policy packet by packet, with a manual clock (times in ms since the channel opened). The matrix
/// follows rtpengine's learning tests: the client, the client's IP on another port, another IP on the client's
/// port, and a stranger; before the client latched, inside the learning window and after it; with and without
/// an expected source; in every mode.
/// </summary>
public sealed class LatchPolicyMatrixTests
{
    private const uint ClientSsrc = 0x11111111;
    private static readonly PacketSource Client = Src("198.51.100.10", 4000);

    public enum Who { Client, SameIpOtherPort, OtherIpSamePort, Stranger }
    public enum When { BeforeClient, InsideWindow, AfterWindow }

    private static PacketSource Src(string ip, int port) => PacketSource.From(new IPEndPoint(IPAddress.Parse(ip), port));

    private static PacketSource Of(Who who) => who switch
    {
        Who.Client => Client,
        Who.SameIpOtherPort => Src("198.51.100.10", 4002),
        Who.OtherIpSamePort => Src("198.51.100.99", 4000),
        _ => Src("203.0.113.66", 31337),
    };

    public static byte[] Rtp(ushort seq, uint ssrc = ClientSsrc, byte first = 0x80, byte pt = 0)
    {
        var p = new byte[172];
        p[0] = first;
        p[1] = pt;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), seq * 160u);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        return p;
    }

    private static SourceFilter Filter(string text) =>
        SourceFilter.TryParse(text, out var f, out var e) ? f! : throw new ArgumentException(e);

    private static SideLatch New(LatchMode mode, string? expected = null, int probation = 4) =>
        new(new LatchPolicy(mode, TimeSpan.FromSeconds(3), probation, 536, expected is null ? null : Filter(expected)), 0);

    /// <summary>The genuine client latches: one packet (first/follow) or a probation of four (rtp), seq 100..103 at t=20..80.</summary>
    private static void ClientLatches(SideLatch latch)
    {
        LatchVerdict last = default;
        for (ushort i = 0; i < 4; i++) last = latch.Offer(Client, Rtp((ushort)(100 + i)), 20 + 20 * i);
        Assert.True(latch.IsLatched);
        Assert.Equal(Client, latch.Current);
        Assert.True(last is LatchVerdict.Latched or LatchVerdict.Accept);
    }

    // An intruder's packet is an RTP packet of its own SSRC (a spray); rebinds are tested separately.
    public static TheoryData<LatchMode, string?, When, Who, LatchVerdict> Matrix()
    {
        var d = new TheoryData<LatchMode, string?, When, Who, LatchVerdict>();
        foreach (var who in Enum.GetValues<Who>())
        {
            var isClient = who == Who.Client;
            // first, no expected source: the first source wins, then only it
            d.Add(LatchMode.First, null, When.BeforeClient, who, LatchVerdict.Latched);
            d.Add(LatchMode.First, null, When.InsideWindow, who, isClient ? LatchVerdict.Accept : LatchVerdict.DropForeignSource);
            d.Add(LatchMode.First, null, When.AfterWindow, who, isClient ? LatchVerdict.Accept : LatchVerdict.DropForeignSource);
            // first, expected = the client's IP (any port): others cannot even take a fresh side
            var ipMatches = who is Who.Client or Who.SameIpOtherPort;
            d.Add(LatchMode.First, "198.51.100.10", When.BeforeClient, who, ipMatches ? LatchVerdict.Latched : LatchVerdict.DropUnexpectedSource);
            d.Add(LatchMode.First, "198.51.100.10", When.AfterWindow, who,
                isClient ? LatchVerdict.Accept : ipMatches ? LatchVerdict.DropForeignSource : LatchVerdict.DropUnexpectedSource);
            // first, expected = exact address and port
            d.Add(LatchMode.First, "198.51.100.10:4000", When.BeforeClient, who, isClient ? LatchVerdict.Latched : LatchVerdict.DropUnexpectedSource);
            // rtp: a single packet never latches; after the client latched, a foreign SSRC never moves it
            d.Add(LatchMode.Rtp, null, When.BeforeClient, who, LatchVerdict.DropProbation);
            d.Add(LatchMode.Rtp, null, When.InsideWindow, who, isClient ? LatchVerdict.Accept : LatchVerdict.DropForeignSource);
            d.Add(LatchMode.Rtp, null, When.AfterWindow, who, isClient ? LatchVerdict.Accept : LatchVerdict.DropForeignSource);
            d.Add(LatchMode.Rtp, "198.51.100.0/24", When.BeforeClient, who,
                who == Who.Stranger ? LatchVerdict.DropUnexpectedSource : LatchVerdict.DropProbation);
            d.Add(LatchMode.Rtp, "198.51.100.0/24", When.AfterWindow, who,
                isClient ? LatchVerdict.Accept : who == Who.Stranger ? LatchVerdict.DropUnexpectedSource : LatchVerdict.DropForeignSource);
            // follow: anyone takes it, at any time (the seed's hole)
            d.Add(LatchMode.Follow, null, When.BeforeClient, who, LatchVerdict.Latched);
            d.Add(LatchMode.Follow, null, When.AfterWindow, who, isClient ? LatchVerdict.Accept : LatchVerdict.Moved);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Packet_from_each_source_in_each_phase(LatchMode mode, string? expected, When when, Who who, LatchVerdict verdict)
    {
        var latch = New(mode, expected);
        long t = when switch { When.BeforeClient => 10, When.InsideWindow => 1_000, _ => 5_000 };
        if (when != When.BeforeClient) ClientLatches(latch);
        var ssrc = who == Who.Client ? ClientSsrc : 0xBADBAD00u;
        var seq = who == Who.Client ? (ushort)104 : (ushort)7;
        Assert.Equal(verdict, latch.Offer(Of(who), Rtp(seq, ssrc), t));
        if (!verdict.ChangesLatch() && when != When.BeforeClient) Assert.Equal(Client, latch.Current);
    }

    [Fact]
    public void Rtp_probation_needs_four_consecutive_packets_of_one_ssrc()
    {
        var latch = New(LatchMode.Rtp);
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(10), 0));
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(11), 20));
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(13), 40));   // a gap restarts it
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(14), 60));
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(Client, Rtp(15), 80));
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Client, Rtp(16), 100));
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Rtp(17), 120));
    }

    [Fact]
    public void A_spray_interleaved_with_the_client_neither_wins_nor_delays_it()
    {
        var latch = New(LatchMode.Rtp);
        var rng = new Random(7);
        var verdicts = new List<LatchVerdict>();
        for (ushort i = 0; i < 4; i++)
        {
            for (var k = 0; k < 10; k++) // ten random packets from random strangers between two of the client's
            {
                var stranger = Src($"203.0.113.{rng.Next(1, 250)}", rng.Next(1024, 65535));
                var junk = new byte[172];
                rng.NextBytes(junk);
                var v = latch.Offer(stranger, junk, 20 * i + k);
                Assert.False(v.Relays(), $"a sprayed packet was relayed: {v}");
            }
            verdicts.Add(latch.Offer(Client, Rtp((ushort)(500 + i)), 20 * i + 15));
        }
        Assert.Equal(LatchVerdict.Latched, verdicts[^1]);
        Assert.Equal(Client, latch.Current);
    }

    [Fact]
    public void Rtp_follows_a_nat_rebind_with_the_same_ssrc_and_ignores_stale_packets_from_the_old_port()
    {
        var latch = New(LatchMode.Rtp);
        ClientLatches(latch); // highest seq 103
        var rebound = Src("198.51.100.10", 61000);
        Assert.Equal(LatchVerdict.Moved, latch.Offer(rebound, Rtp(105), 10_000)); // one packet lost in the move
        Assert.Equal(rebound, latch.Current);
        // the old mapping still delivers a late packet (seq 104): behind the highest, it does not swing back (rtpproxy #63)
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Client, Rtp(104), 10_005));
        Assert.Equal(LatchVerdict.Accept, latch.Offer(rebound, Rtp(106), 10_020));
        Assert.Equal(rebound, latch.Current);
    }

    [Theory]
    [InlineData(0x22222222u, 104, "another SSRC")]
    [InlineData(ClientSsrc, 103, "the same sequence number")]
    [InlineData(ClientSsrc, 99, "an old sequence number")]
    [InlineData(ClientSsrc, 103 + 537, "a jump beyond 536")]
    public void Rtp_refuses_a_rebind_that_is_not_a_plausible_continuation(uint ssrc, int seq, string why)
    {
        var latch = New(LatchMode.Rtp);
        ClientLatches(latch);
        Assert.True(LatchVerdict.DropForeignSource == latch.Offer(Src("203.0.113.66", 4000), Rtp((ushort)seq, ssrc), 10_000), why);
        Assert.Equal(Client, latch.Current);
    }

    [Fact]
    public void Sequence_numbers_wrap_around()
    {
        var latch = New(LatchMode.Rtp);
        for (ushort i = 0; i < 4; i++) latch.Offer(Client, Rtp((ushort)(65533 + i)), i * 20); // 65533..65535, 0
        Assert.True(latch.IsLatched);
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Rtp(1), 100));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(Src("198.51.100.10", 5000), Rtp(3), 200));
    }

    [Fact]
    public void Rtp_drops_what_does_not_look_like_rtp_unless_it_comes_from_the_latched_source()
    {
        var latch = New(LatchMode.Rtp);
        var stranger = Src("203.0.113.66", 4000);
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(stranger, "hello"u8, 0));
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(stranger, Rtp(1, first: 0x40), 0));     // version 1
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(stranger, Rtp(1, ssrc: 0), 0));         // SSRC 0
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(stranger, Rtp(1)[..10], 0));            // too short
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(stranger, Rtp(1, pt: 200), 0));      // RTCP cannot latch
        ClientLatches(latch);
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, new byte[] { 0, 1, 0, 0 }, 200));   // STUN-like from the client
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Rtp(1, pt: 201), 220));              // its RTCP
        Assert.Equal(LatchVerdict.DropNotRtp, latch.Offer(stranger, new byte[] { 0, 1, 0, 0 }, 240));
    }

    [Fact]
    public void Probation_of_one_latches_at_once()
    {
        var latch = New(LatchMode.Rtp, probation: 1);
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Client, Rtp(5), 0));
    }

    [Fact]
    public void A_resignal_reopens_learning_once_and_can_change_the_expected_source()
    {
        var latch = New(LatchMode.First, "198.51.100.10");
        ClientLatches(latch);
        var moved = Src("192.0.2.50", 7000);
        Assert.Equal(LatchVerdict.DropUnexpectedSource, latch.Offer(moved, Rtp(1), 10_000));
        latch.Resignal(20_000, Filter("192.0.2.0/24"));   // re-INVITE: the client moved networks
        Assert.Equal(LatchVerdict.DropUnexpectedSource, latch.Offer(Src("203.0.113.66", 1), Rtp(1), 20_001));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(moved, Rtp(1), 20_100));
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Src("192.0.2.51", 7000), Rtp(1), 20_200)); // once
        latch.Resignal(30_000, null);
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Src("192.0.2.52", 7000), Rtp(1), 34_000)); // window over
    }

    [Fact]
    public void Rtp_relearns_after_a_resignal_only_through_probation()
    {
        var latch = New(LatchMode.Rtp);
        ClientLatches(latch);
        latch.Resignal(10_000, null);
        var newAddress = Src("192.0.2.50", 7000);
        const uint newSsrc = 0x33333333;
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(newAddress, Rtp(1, newSsrc), 10_010));
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(newAddress, Rtp(2, newSsrc), 10_030));
        Assert.Equal(LatchVerdict.DropProbation, latch.Offer(newAddress, Rtp(3, newSsrc), 10_050));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(newAddress, Rtp(4, newSsrc), 10_070));
    }

    [Theory]
    [InlineData(LatchMode.First)]
    [InlineData(LatchMode.Rtp)]
    [InlineData(LatchMode.Follow)]
    public void Invalid_sources_never_latch_in_any_mode(LatchMode mode)
    {
        var latch = New(mode, probation: 1);
        foreach (var bad in new[] { Src("0.0.0.0", 4000), Src("224.0.0.5", 4000), Src("255.255.255.255", 4000), Src("::", 4000), Src("ff02::1", 4000), Src("198.51.100.10", 0) })
            Assert.Equal(LatchVerdict.DropInvalidSource, latch.Offer(bad, Rtp(1), 0));
        Assert.False(latch.IsLatched);
    }

    [Theory]
    [InlineData("198.51.100.7", "198.51.100.7:1", true)]
    [InlineData("198.51.100.7", "198.51.100.8:1", false)]
    [InlineData("198.51.100.0/24", "198.51.100.200:9", true)]
    [InlineData("198.51.100.0/24", "198.51.101.1:9", false)]
    [InlineData("198.51.100.7:4000", "198.51.100.7:4000", true)]
    [InlineData("198.51.100.7:4000", "198.51.100.7:4001", false)]
    [InlineData("2001:db8::/32", "[2001:db8:1::5]:9", true)]
    [InlineData("[2001:db8::1]:4000", "[2001:db8::1]:4000", true)]
    [InlineData("[2001:db8::1]:4000", "[2001:db8::2]:4000", false)]
    [InlineData("0.0.0.0/0", "203.0.113.1:5", true)]
    public void Expected_sources_match_by_prefix_and_optional_port(string filter, string source, bool matches) =>
        Assert.Equal(matches, Filter(filter).Matches(PacketSource.From(IPEndPoint.Parse(source))));

    [Theory]
    [InlineData("")]
    [InlineData("example.org")]
    [InlineData("198.51.100.7/33")]
    [InlineData("198.51.100.7:0")]
    [InlineData("[2001:db8::1")]
    public void Malformed_expected_sources_are_refused(string text) =>
        Assert.False(SourceFilter.TryParse(text, out _, out _));
}
