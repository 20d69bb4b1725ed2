using System.Net;
using System.Text;
using ActorRelay.Ng;
using Xunit;
using static ActorRelay.Tests.Ng.SdpGoldens;

namespace ActorRelay.Tests.Ng;

public sealed class SdpRewriterTests
{
    private static readonly SdpRewriteOptions Default = SdpRewriteOptions.None;

    private static SdpMediaTarget Relay(int rtp, int? rtcp, string address = "203.0.113.1") => new(IPAddress.Parse(address), rtp, rtcp);

    private static string Rewrite(string sdp, SdpRewriteOptions options, params SdpMediaTarget?[] targets) =>
        Encoding.Latin1.GetString(SdpRewriter.Rewrite(SdpBodyTests.Parse(sdp), targets, options));

    [Fact]
    public void Plain_g711_offer()
    {
        var expected = Crlf(
            "v=0",
            "o=- 1712345678 1712345678 IN IP4 192.168.1.23",
            "s=Polycom IP Phone",
            "c=IN IP4 203.0.113.1",
            "t=0 0",
            "a=sendrecv",
            "m=audio 30000 RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20");
        Assert.Equal(expected, Rewrite(G711Offer, Default, Relay(30000, 30001)));
        Assert.Equal(expected.Replace("IN IP4 192.168.1.23", "IN IP4 203.0.113.1"),
            Rewrite(G711Offer, new SdpRewriteOptions { ReplaceOrigin = true }, Relay(30000, 30001)));
    }

    [Fact]
    public void Offer_with_a_short_rtcp_attribute()
    {
        var expected = Crlf(
            "v=0",
            "o=root 1829312 1829312 IN IP4 198.51.100.20",
            "s=Asterisk PBX 18.9.0",
            "c=IN IP4 203.0.113.1",
            "t=0 0",
            "m=audio 40000 RTP/AVP 9 0 8 101",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=maxptime:150",
            "a=rtcp:40011",
            "a=sendrecv");
        Assert.Equal(expected, Rewrite(AsteriskOffer, Default, Relay(40000, 40011)));
        Assert.Equal(expected.Replace("a=rtcp:40011", "a=rtcp:40001"), Rewrite(AsteriskOffer, Default, Relay(40000, 40001)));
        Assert.Equal(expected.Replace("a=rtcp:40011", "a=rtcp:40000"), Rewrite(AsteriskOffer, Default, Relay(40000, null)));
        Assert.Equal(expected.Replace("a=rtcp:40011", "a=rtcp:40011 IN IP4 203.0.113.1"),
            Rewrite(AsteriskOffer, new SdpRewriteOptions { FullRtcpAttribute = true }, Relay(40000, 40011)));
        Assert.Equal(expected.Replace("a=rtcp:40011\r\n", ""),
            Rewrite(AsteriskOffer, new SdpRewriteOptions { OmitRtcpAttribute = true }, Relay(40000, 40011)));
    }

    [Fact]
    public void Offer_with_a_full_rtcp_attribute_to_an_ipv6_relay()
    {
        var expected = Crlf(
            "v=0",
            "o=alice 3724 1129 IN IP4 10.0.0.5",
            "s=Talk",
            "c=IN IP4 10.0.0.5",
            "t=0 0",
            "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
            "m=audio 40000 RTP/AVP 96 97 98 0 8 101",
            "c=IN IP6 2001:db8:ffff::1",
            "a=rtpmap:96 opus/48000/2",
            "a=fmtp:96 useinbandfec=1",
            "a=rtpmap:97 speex/16000",
            "a=rtpmap:98 speex/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=rtcp:40001 IN IP6 2001:db8:ffff::1",
            "a=rtcp-fb:* trr-int 1000",
            "a=rtcp-fb:* ccm tmmbr");
        var relay = Relay(40000, 40001, "2001:db8:ffff::1");
        // every active section has its own c=: the session c= is left alone unless asked (as rtpengine did)
        Assert.Equal(expected, Rewrite(LinphoneOffer, Default, relay));
        Assert.Equal(expected.Replace("c=IN IP4 10.0.0.5", "c=IN IP6 2001:db8:ffff::1").Replace("o=alice 3724 1129 IN IP4 10.0.0.5", "o=alice 3724 1129 IN IP6 2001:db8:ffff::1"),
            Rewrite(LinphoneOffer, new SdpRewriteOptions { ReplaceSessionConnection = true, ReplaceOrigin = true }, relay));
    }

    [Fact]
    public void Audio_and_video_with_a_disabled_stream()
    {
        var expected = Crlf(
            "v=0",
            "o=- 13265289 3 IN IP4 192.168.0.105",
            "s=Bria 6 release 6.5.3 stamp 105963",
            "c=IN IP4 203.0.113.1",
            "b=AS:2064",
            "t=0 0",
            "m=audio 30000 RTP/AVP 9 8 0 101",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=sendrecv",
            "m=video 30002 RTP/AVP 97 123",
            "i=camera",
            "b=TIAS:2000000",
            "a=rtpmap:97 H264/90000",
            "a=fmtp:97 profile-level-id=42801f;packetization-mode=1",
            "a=rtpmap:123 H264/90000",
            "a=rtcp-fb:* nack pli",
            "a=sendrecv",
            "m=text 0 RTP/AVP 98",
            "a=rtpmap:98 t140/1000");
        Assert.Equal(expected, Rewrite(AudioVideoOffer, Default, Relay(30000, 30001), Relay(30002, 30003), null));
        // a disabled section ignores its target
        Assert.Equal(expected, Rewrite(AudioVideoOffer, Default, Relay(30000, 30001), Relay(30002, 30003), Relay(30004, 30005)));
    }

    [Fact]
    public void A_media_level_c_line_is_added_only_where_the_session_one_would_be_wrong()
    {
        var videoElsewhere = Rewrite(AudioVideoOffer, Default, Relay(30000, 30001), Relay(30002, 30003, "203.0.113.2"), null);
        Assert.Contains("c=IN IP4 203.0.113.1\r\nb=AS:2064", videoElsewhere);
        Assert.Contains("m=video 30002 RTP/AVP 97 123\r\ni=camera\r\nc=IN IP4 203.0.113.2\r\nb=TIAS:2000000\r\n", videoElsewhere);
        Assert.Equal(1, Count(videoElsewhere, "c=IN IP4 203.0.113.1"));

        // video not relayed: it keeps its address through a media-level c= once the session c= points at the relay
        var videoUntouched = Rewrite(AudioVideoOffer, Default, Relay(30000, 30001), null, null);
        Assert.Contains("m=video 57024 RTP/AVP 97 123\r\ni=camera\r\nc=IN IP4 192.168.0.105\r\nb=TIAS", videoUntouched);

        // audio not relayed, video relayed: the session c= keeps audio's address, video gets its own
        var audioUntouched = Rewrite(AudioVideoOffer, Default, null, Relay(30002, 30003), null);
        Assert.Contains("c=IN IP4 192.168.0.105\r\nb=AS:2064", audioUntouched);
        Assert.Contains("m=video 30002 RTP/AVP 97 123\r\ni=camera\r\nc=IN IP4 203.0.113.1\r\n", audioUntouched);
        Assert.Contains("m=audio 63018 ", audioUntouched);
    }

    [Fact]
    public void Ice_candidates_are_stripped_on_request_and_kept_otherwise()
    {
        var removed = Crlf(
            "v=0",
            "o=Z 1610702124811 1 IN IP4 10.0.0.7",
            "s=Z",
            "c=IN IP4 203.0.113.1",
            "t=0 0",
            "m=audio 30000 RTP/AVP 106 9 98 101 0 8 3",
            "a=rtpmap:106 opus/48000/2",
            "a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1",
            "a=rtpmap:98 telephone-event/48000",
            "a=fmtp:98 0-16",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=sendrecv",
            "a=rtcp:30001");
        Assert.Equal(removed, Rewrite(IceOffer, new SdpRewriteOptions { RemoveIce = true }, Relay(30000, 30001)));

        var kept = Rewrite(IceOffer, Default, Relay(30000, 30001));
        Assert.Equal(IceOffer.Replace("c=IN IP4 10.0.0.7", "c=IN IP4 203.0.113.1").Replace("m=audio 8000", "m=audio 30000").Replace("a=rtcp:8001", "a=rtcp:30001"), kept);
    }

    [Fact]
    public void Ice_removal_works_when_new_attributes_follow_a_removed_last_line()
    {
        var sdp = Crlf("v=0", "c=IN IP4 10.0.0.7", "m=audio 8000 RTP/AVP 0", "a=candidate:1 1 UDP 2130706431 10.0.0.7 8000 typ host");
        Assert.Equal(Crlf("v=0", "c=IN IP4 203.0.113.1", "m=audio 30000 RTP/AVP 0", "a=rtcp:30011"),
            Rewrite(sdp, new SdpRewriteOptions { RemoveIce = true }, Relay(30000, 30011)));
    }

    [Fact]
    public void Ipv6_offer_to_either_family()
    {
        var toIpv4 = Rewrite(Ipv6Offer, new SdpRewriteOptions { ReplaceOrigin = true }, Relay(30000, 30001));
        Assert.Equal(Ipv6Offer.Replace("IN IP6 2001:db8:85a3::8a2e:370:7334", "IN IP4 203.0.113.1").Replace("m=audio 11780", "m=audio 30000"), toIpv4);
        var toIpv6 = Rewrite(Ipv6Offer, Default, Relay(30000, 30001, "2001:db8::1"));
        Assert.Equal(Ipv6Offer.Replace("c=IN IP6 2001:db8:85a3::8a2e:370:7334", "c=IN IP6 2001:db8::1").Replace("m=audio 11780", "m=audio 30000"), toIpv6);
        var mapped = Rewrite(Ipv6Offer, Default, Relay(30000, 30001, "::ffff:203.0.113.1"));
        Assert.Contains("c=IN IP4 203.0.113.1\r\n", mapped);
    }

    [Fact]
    public void Hold_with_a_zero_address_and_sendonly_keeps_the_zero_address()
    {
        // rtpengine passes a zero address through (of the relay's family) unless replace-zero-address
        Assert.Equal(HoldReinvite.Replace("m=audio 16434", "m=audio 30000"), Rewrite(HoldReinvite, Default, Relay(30000, 30001)));
        Assert.Equal(HoldReinvite.Replace("m=audio 16434", "m=audio 30000").Replace("m=audio 30000 RTP/AVP 0 101\r\nc=IN IP4 0.0.0.0", "m=audio 30000 RTP/AVP 0 101\r\nc=IN IP6 ::"),
            Rewrite(HoldReinvite, Default, Relay(30000, 30001, "2001:db8::1")));
        Assert.Equal(HoldReinvite.Replace("m=audio 16434", "m=audio 30000").Replace("m=audio 30000 RTP/AVP 0 101\r\nc=IN IP4 0.0.0.0", "m=audio 30000 RTP/AVP 0 101\r\nc=IN IP4 203.0.113.1"),
            Rewrite(HoldReinvite, new SdpRewriteOptions { ReplaceZeroAddress = true }, Relay(30000, 30001)));
    }

    [Fact]
    public void Hold_with_only_a_zero_address_becomes_sendonly()
    {
        var expected = Crlf(
            "v=0",
            "o=- 8 9 IN IP4 192.0.2.33",
            "s=-",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "m=audio 30000 RTP/AVP 0",
            "a=rtpmap:0 PCMU/8000",
            "a=sendonly");
        Assert.Equal(expected, Rewrite(ZeroAddressHold, Default, Relay(30000, 30001)));
        Assert.Equal(expected.Replace("c=IN IP4 0.0.0.0", "c=IN IP4 203.0.113.1"), Rewrite(ZeroAddressHold, new SdpRewriteOptions { ReplaceZeroAddress = true }, Relay(30000, 30001)));
        Assert.Equal(expected.Replace("a=sendonly\r\n", ""), Rewrite(ZeroAddressHold, new SdpRewriteOptions { KeepDirection = true }, Relay(30000, 30001)));
    }

    [Theory]
    [InlineData("a=sendrecv", "a=sendonly")]
    [InlineData("a=recvonly", "a=inactive")]
    [InlineData("a=sendonly", "a=sendonly")]
    [InlineData("a=inactive", "a=inactive")]
    public void A_zero_address_takes_receiving_away_from_the_direction(string direction, string held)
    {
        var sdp = Crlf("v=0", "c=IN IP4 0.0.0.0", "m=audio 5004 RTP/AVP 0", direction, "a=ptime:20");
        Assert.Equal(Crlf("v=0", "c=IN IP4 0.0.0.0", "m=audio 30000 RTP/AVP 0", held, "a=ptime:20"), Rewrite(sdp, Default, Relay(30000, 30001)));
    }

    [Fact]
    public void A_zero_address_under_a_session_level_direction_gets_a_media_level_one()
    {
        var sdp = Crlf("v=0", "c=IN IP4 0.0.0.0", "a=recvonly", "m=audio 5004 RTP/AVP 0");
        Assert.Equal(Crlf("v=0", "c=IN IP4 0.0.0.0", "a=recvonly", "m=audio 30000 RTP/AVP 0", "a=inactive"), Rewrite(sdp, Default, Relay(30000, 30001)));
        var sendonly = Crlf("v=0", "c=IN IP4 0.0.0.0", "a=sendonly", "m=audio 5004 RTP/AVP 0");
        Assert.Equal(sendonly.Replace("5004", "30000"), Rewrite(sendonly, Default, Relay(30000, 30001)));
    }

    [Fact]
    public void Hold_with_sendonly_and_a_real_address_only_moves_the_address()
    {
        var sdp = G711Offer.Replace("a=ptime:20", "a=ptime:20\r\na=sendonly");
        var result = Rewrite(sdp, Default, Relay(30000, 30001));
        Assert.Equal(sdp.Replace("c=IN IP4 192.168.1.23", "c=IN IP4 203.0.113.1").Replace("m=audio 2222", "m=audio 30000"), result);
    }

    [Fact]
    public void Lf_bodies_stay_lf_and_added_lines_follow_their_neighbour()
    {
        var lf = Lf(G711OfferLines);
        var result = Rewrite(lf, Default, Relay(30000, 30011));
        Assert.Equal(Lf([.. G711OfferLines, "a=rtcp:30011"]).Replace("c=IN IP4 192.168.1.23", "c=IN IP4 203.0.113.1").Replace("m=audio 2222", "m=audio 30000"), result);
        Assert.DoesNotContain("\r", result);
    }

    [Fact]
    public void Mixed_line_endings_are_kept_as_they_are()
    {
        var sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\ns=-\r\nc=IN IP4 192.0.2.9\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:20\n";
        Assert.Equal("v=0\r\no=- 1 1 IN IP4 192.0.2.9\ns=-\r\nc=IN IP4 203.0.113.1\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=ptime:20\na=rtcp:30011\n",
            Rewrite(sdp, Default, Relay(30000, 30011)));
    }

    [Fact]
    public void An_unterminated_body_stays_unterminated()
    {
        var sdp = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:20";
        Assert.Equal("v=0\r\nc=IN IP4 203.0.113.1\r\nm=audio 30000 RTP/AVP 0\r\na=ptime:20", Rewrite(sdp, Default, Relay(30000, 30001)));
        Assert.Equal("v=0\r\nc=IN IP4 203.0.113.1\r\nm=audio 30000 RTP/AVP 0\r\na=ptime:20\r\na=rtcp:30011", Rewrite(sdp, Default, Relay(30000, 30011)));
    }

    [Fact]
    public void New_attributes_go_after_the_last_non_empty_line_of_the_section()
    {
        var sdp = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:20\r\n\r\n";
        Assert.Equal("v=0\r\nc=IN IP4 203.0.113.1\r\nm=audio 30000 RTP/AVP 0\r\na=ptime:20\r\na=rtcp:30011\r\n\r\n", Rewrite(sdp, Default, Relay(30000, 30011)));
    }

    [Fact]
    public void Rtcp_mux_keeps_rtcp_on_the_rtp_port()
    {
        var sdp = Crlf("v=0", "c=IN IP4 192.0.2.9", "m=audio 4000 RTP/AVPF 0", "a=rtcp-mux");
        Assert.Equal(Crlf("v=0", "c=IN IP4 203.0.113.1", "m=audio 30000 RTP/AVPF 0", "a=rtcp-mux"), Rewrite(sdp, Default, Relay(30000, null)));
        Assert.Equal(Crlf("v=0", "c=IN IP4 203.0.113.1", "m=audio 30000 RTP/AVPF 0", "a=rtcp-mux", "a=rtcp:30000 IN IP4 203.0.113.1"),
            Rewrite(sdp, new SdpRewriteOptions { FullRtcpAttribute = true }, Relay(30000, null)));
        Assert.Equal(Crlf("v=0", "c=IN IP4 203.0.113.1", "m=audio 30000 RTP/AVPF 0", "a=rtcp-mux", "a=rtcp:30007"), Rewrite(sdp, Default, Relay(30000, 30007)));
    }

    [Fact]
    public void Disabled_sections_are_left_alone()
    {
        var sdp = Crlf("v=0", "c=IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0", "m=video 0 RTP/AVP 31", "c=IN IP4 192.0.2.9", "a=candidate:1 1 UDP 1 192.0.2.9 9 typ host", "a=rtcp:9");
        Assert.Equal(sdp.Replace("c=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\n", "c=IN IP4 203.0.113.1\r\nm=audio 30000 RTP/AVP 0\r\na=rtcp:30001 IN IP4 203.0.113.1\r\n"),
            Rewrite(sdp, new SdpRewriteOptions { RemoveIce = true, FullRtcpAttribute = true }, Relay(30000, 30001), Relay(30002, 30003)));
    }

    [Fact]
    public void A_multicast_ttl_suffix_is_rewritten_away()
    {
        var sdp = Crlf("v=0", "m=audio 4000 RTP/AVP 0", "c=IN IP4 224.2.1.1/127");
        Assert.Equal(Crlf("v=0", "m=audio 30000 RTP/AVP 0", "c=IN IP4 203.0.113.1"), Rewrite(sdp, Default, Relay(30000, 30001)));
        Assert.Equal(Crlf("v=0", "m=audio 30000 RTP/AVP 0", "c=IN IP4 224.2.1.1"), Rewrite(sdp, Default, Relay(30000, 30001, "224.2.1.1")));
    }

    [Fact]
    public void A_section_without_any_connection_gets_one()
    {
        var sdp = Crlf("v=0", "o=- 1 1 IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0", "i=voice", "a=ptime:20");
        Assert.Equal(Crlf("v=0", "o=- 1 1 IN IP4 192.0.2.9", "m=audio 30000 RTP/AVP 0", "i=voice", "c=IN IP4 203.0.113.1", "a=ptime:20"),
            Rewrite(sdp, Default, Relay(30000, 30001)));
    }

    [Fact]
    public void Targets_must_match_the_sections()
    {
        var sdp = SdpBodyTests.Parse(AudioVideoOffer);
        Assert.Throws<ArgumentException>(() => SdpRewriter.Rewrite(sdp, [Relay(30000, 30001)]));
        Assert.Throws<ArgumentException>(() => SdpRewriter.Rewrite(sdp, [Relay(0, 30001), null, null]));
        Assert.Throws<ArgumentException>(() => SdpRewriter.Rewrite(sdp, [Relay(30000, 65536), null, null]));
        Assert.Throws<ArgumentException>(() => SdpRewriter.Rewrite(sdp, [Relay(30000, 30001, "0.0.0.0"), null, null]));
        Assert.Throws<ArgumentException>(() => SdpRewriter.Rewrite(sdp, [Relay(30000, 30001, "::"), null, null]));
    }

    [Fact]
    public void Options_follow_the_ng_request()
    {
        Assert.True(NgRequest.TryParse(BDictionary.Of(("command", "ping"), ("replace", new BList("origin", "session-connection", "zero-address")),
            ("ICE", "remove"), ("flags", new BList("original-sendrecv", "full-rtcp-attribute", "no-rtcp-attribute"))), out var all, out _));
        Assert.Equal(new SdpRewriteOptions
        {
            ReplaceOrigin = true, ReplaceSessionConnection = true, ReplaceZeroAddress = true, RemoveIce = true,
            KeepDirection = true, FullRtcpAttribute = true, OmitRtcpAttribute = true,
        }, SdpRewriteOptions.From(all));
        Assert.True(NgRequest.TryParse(BDictionary.Of(("command", "ping"), ("flags", new BList("reject-ICE"))), out var reject, out _));
        Assert.Equal(new SdpRewriteOptions { RemoveIce = true }, SdpRewriteOptions.From(reject));
        Assert.True(NgRequest.TryParse(BDictionary.Of(("command", "ping"), ("ICE", "force")), out var force, out _));
        Assert.Equal(SdpRewriteOptions.None, SdpRewriteOptions.From(force));
    }

    // ---- property: pointing every stream where it already points changes no byte ----

    public static TheoryData<string> Goldens() => new(All);

    [Theory]
    [MemberData(nameof(Goldens))]
    public void An_identity_rewrite_returns_the_input_byte_for_byte(string golden) => AssertIdentity(golden);

    [Fact]
    public void An_identity_rewrite_of_varied_bodies_returns_them_byte_for_byte()
    {
        var random = new Random(4242);
        string[] extras = ["", "x-vendor=1", "a=x-custom:foo bar", "b=AS:64", "i=info", "k=prompt", "a=label:1", "a=rtcp-fb:* nack", "garbage line"];
        foreach (var golden in All)
        {
            for (var round = 0; round < 40; round++)
            {
                var lines = golden.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
                for (var k = random.Next(4); k > 0; k--) lines.Insert(random.Next(1, lines.Count + 1), extras[random.Next(extras.Length)]);
                var text = new StringBuilder();
                for (var i = 0; i < lines.Count; i++)
                {
                    text.Append(lines[i]);
                    if (i < lines.Count - 1 || random.Next(4) > 0) text.Append(random.Next(3) == 0 ? "\n" : "\r\n");
                }
                AssertIdentity(text.ToString());
            }
        }
    }

    private static void AssertIdentity(string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var sdp = SdpBody.Parse(bytes);
        var origin = sdp.Session.Origin?.Address.Ip;
        var targets = sdp.Medias.Select(m =>
        {
            if (m.IsDisabled || (m.Connection ?? sdp.Session.Connection) is not { Ip: { } address } connection) return null;
            if (connection.IsZero) address = origin ?? IPAddress.Parse("203.0.113.1"); // a zero address stays zero for any relay address
            int? rtcp = m.Rtcp.Count > 0 ? m.Rtcp[0].Port : m.RtcpMux ? null : m.Port + 1;
            return new SdpMediaTarget(address, m.Port, rtcp);
        }).ToArray();
        var first = targets.First(t => t is not null)!;
        var options = new SdpRewriteOptions { ReplaceOrigin = first.Address.Equals(origin), KeepDirection = true };
        Assert.Equal(text, Encoding.Latin1.GetString(SdpRewriter.Rewrite(sdp, targets, options)));
        var untouched = SdpRewriter.Rewrite(sdp, new SdpMediaTarget?[sdp.Medias.Count], SdpRewriteOptions.None);
        Assert.Equal(text, Encoding.Latin1.GetString(untouched));
    }

    private static int Count(string text, string part) => (text.Length - text.Replace(part, "").Length) / part.Length;
}
