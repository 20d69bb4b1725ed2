using System.Net;
using System.Text;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class SdpBodyTests
{
    internal static SdpBody Parse(string text) => SdpBody.Parse(Encoding.Latin1.GetBytes(text));

    [Fact]
    public void Keeps_each_line_and_its_terminator()
    {
        var sdp = Parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\ns=-\r\n\r\nt=0 0");
        Assert.Equal([2, 1, 2, 2, 0], sdp.Lines.Select(l => l.TerminatorLength));
        Assert.Equal(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "", "t=0 0"], sdp.Lines.Select((_, i) => Encoding.Latin1.GetString(sdp.Content(i))));
        Assert.Equal(['v', 'o', 's', '\0', 't'], sdp.Lines.Select((_, i) => sdp.Type(i)));
        Assert.Equal("\n", Encoding.Latin1.GetString(sdp.Terminator(1)));
    }

    [Fact]
    public void A_lone_carriage_return_stays_part_of_the_line()
    {
        var sdp = Parse("v=0\rx\r\ns=-\n");
        Assert.Equal(2, sdp.Lines.Count);
        Assert.Equal("v=0\rx", Encoding.Latin1.GetString(sdp.Content(0)));
    }

    [Fact]
    public void Reads_session_and_media_sections()
    {
        var sdp = Parse(string.Join("\r\n",
            "v=0",
            "o=alice 2890844526 2890844527 IN IP4 198.51.100.1",
            "s=call",
            "c=IN IP4 198.51.100.1",
            "t=0 0",
            "a=recvonly",
            "a=ice-lite",
            "m=audio 49170 RTP/AVP 0 96 101",
            "i=voice",
            "c=IN IP6 2001:db8::5",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:96 opus/48000/2",
            "a=rtpmap:101 telephone-event/8000",
            "a=rtcp:49171 IN IP6 2001:db8::5",
            "a=rtcp-mux",
            "a=sendonly",
            "a=candidate:1 1 UDP 2130706431 2001:db8::5 49170 typ host",
            "a=ice-ufrag:F7gI",
            "a=ice-pwd:x9cml/YzichV2+XlhiMu8g",
            "a=end-of-candidates",
            "m=video 49172/2 RTP/AVPF 31 32",
            "a=rtcp:53020",
            "m=application 0 UDP/DTLS/SCTP webrtc-datachannel",
            ""));
        var o = sdp.Session.Origin!;
        Assert.Equal(("alice", "2890844526", "2890844527", "IP4", "198.51.100.1"), (o.Username, o.SessionId, o.Version, o.Address.AddrType, o.Address.Address));
        Assert.Equal(IPAddress.Parse("198.51.100.1"), sdp.Session.Connection!.Ip);
        Assert.Equal(SdpDirection.RecvOnly, sdp.Session.Direction);
        Assert.Equal([SdpAttributeKind.RecvOnly, SdpAttributeKind.IceLite], sdp.Session.Attributes.Select(a => a.Kind));
        Assert.Equal(3, sdp.Medias.Count);

        var audio = sdp.Medias[0];
        Assert.Equal(("audio", 49170, (int?)null, "RTP/AVP"), (audio.Type, audio.Port, audio.PortCount, audio.Protocol));
        Assert.Equal(["0", "96", "101"], audio.Formats);
        Assert.Equal(("IP6", "2001:db8::5"), (audio.Connection!.AddrType, audio.Connection.Address));
        Assert.Equal([
            SdpAttributeKind.Rtpmap, SdpAttributeKind.Rtpmap, SdpAttributeKind.Rtpmap, SdpAttributeKind.Rtcp, SdpAttributeKind.RtcpMux,
            SdpAttributeKind.SendOnly, SdpAttributeKind.Candidate, SdpAttributeKind.IceUfrag, SdpAttributeKind.IcePwd,
            SdpAttributeKind.EndOfCandidates], audio.Attributes.Select(a => a.Kind));
        Assert.Equal(4, audio.Attributes.Count(a => a.IsIce));
        Assert.Equal([(0, "PCMU", 8000, (string?)null), (96, "opus", 48000, "2"), (101, "telephone-event", 8000, null)],
            audio.Rtpmaps.Select(m => (m.PayloadType, m.Encoding, m.ClockRate, m.Parameters)));
        var rtcp = Assert.Single(audio.Rtcp);
        Assert.Equal((49171, "IP6", "2001:db8::5"), (rtcp.Port, rtcp.Address!.AddrType, rtcp.Address.Address));
        Assert.True(audio.RtcpMux);
        Assert.Equal(SdpDirection.SendOnly, audio.Direction);
        Assert.Equal("a=candidate", "a=" + audio.Attributes[6].Name);
        Assert.Equal("1 1 UDP 2130706431 2001:db8::5 49170 typ host", audio.Attributes[6].Value);

        var video = sdp.Medias[1];
        Assert.Equal((49172, (int?)2, "RTP/AVPF"), (video.Port, video.PortCount, video.Protocol));
        Assert.Null(video.Connection);
        Assert.Null(video.Direction);
        Assert.Null(Assert.Single(video.Rtcp).Address);
        Assert.False(video.RtcpMux);

        Assert.True(sdp.Medias[2].IsDisabled);
        Assert.Equal((7, 20), (audio.FirstLine, audio.EndLine));
        Assert.Equal(23, sdp.Medias[2].EndLine);
        Assert.Equal(0, sdp.SectionOf(audio.FirstLine));
        Assert.Equal(-1, sdp.SectionOf(6));
    }

    [Fact]
    public void Zero_addresses_are_recognised_and_multicast_ttl_kept_apart()
    {
        var sdp = Parse("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 1 RTP/AVP 0\r\nc=IN IP6 ::\r\nm=audio 2 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127/3\r\n");
        Assert.True(sdp.Session.Connection!.IsZero);
        Assert.True(sdp.Medias[0].Connection!.IsZero);
        var multicast = sdp.Medias[1].Connection!;
        Assert.False(multicast.IsZero);
        Assert.Equal("224.2.1.1", multicast.Address);
        Assert.Equal("224.2.1.1/127/3".Length, multicast.AddressSpan.Length);
    }

    [Fact]
    public void A_malformed_rtpmap_is_kept_as_an_opaque_attribute()
    {
        var sdp = Parse("v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\na=rtpmap:0 PCMU\r\na=rtpmap:8 PCMA/8000\r\n");
        Assert.Equal(3, sdp.Medias[0].Attributes.Count);
        Assert.Equal(8, Assert.Single(sdp.Medias[0].Rtpmaps).PayloadType);
    }

    [Theory]
    [InlineData("", "empty SDP")]
    [InlineData("o=- 1 1 IN IP4 x\r\nv=0\r\n", "SDP does not start with a v= line")]
    [InlineData("v=0\r\nm=audio RTP/AVP\r\n", "malformed m= line 2")]
    [InlineData("v=0\r\nm=audio x RTP/AVP 0\r\n", "bad port in m= line 2")]
    [InlineData("v=0\r\nm=audio 70000 RTP/AVP 0\r\n", "bad port in m= line 2")]
    [InlineData("v=0\r\nm=audio 5/0 RTP/AVP 0\r\n", "bad port count in m= line 2")]
    [InlineData("v=0\r\nc=IN IP4\r\n", "malformed c= line 2")]
    [InlineData("v=0\r\no=- 1 IN IP4 192.0.2.1\r\n", "malformed o= line 2")]
    [InlineData("v=0\r\nm=audio 5 RTP/AVP 0\r\na=rtcp:abc\r\n", "malformed a=rtcp line 3")]
    [InlineData("v=0\r\nm=audio 5 RTP/AVP 0\r\na=rtcp:5 IN IP4\r\n", "malformed a=rtcp line 3")]
    [InlineData("v=0\r\nm=audio 5 RTP/AVP 0\r\na=rtcp\r\n", "malformed a=rtcp line 3")]
    public void Refuses_what_it_could_not_rewrite_safely(string text, string message) =>
        Assert.Equal(message, Assert.Throws<SdpException>(() => Parse(text)).Message);

    [Fact]
    public void Size_is_limited()
    {
        var text = "v=0\r\n" + new string('x', 100);
        Assert.NotNull(SdpBody.Parse(Encoding.Latin1.GetBytes(text), 105));
        Assert.Throws<SdpException>(() => SdpBody.Parse(Encoding.Latin1.GetBytes(text), 104));
    }

    [Fact]
    public void Mutated_input_only_ever_fails_with_an_sdp_exception()
    {
        var seed = Encoding.Latin1.GetBytes(SdpGoldens.IceOffer + SdpGoldens.AudioVideoOffer[5..]);
        var random = new Random(99);
        const string alphabet = "vcmoa=: /0123456789\r\nIP4";
        for (var round = 0; round < 5000; round++)
        {
            var bytes = (byte[])seed.Clone();
            var length = bytes.Length;
            for (var k = random.Next(1, 5); k > 0; k--)
            {
                var at = random.Next(length);
                if (random.Next(4) == 0) length = at;
                else bytes[at] = (byte)alphabet[random.Next(alphabet.Length)];
            }
            try
            {
                var sdp = SdpBody.Parse(bytes.AsMemory(0, length));
                IPAddress[] relays = [IPAddress.Parse("203.0.113.1"), IPAddress.Parse("2001:db8::1")];
                var targets = sdp.Medias.Select(m => random.Next(4) == 0 ? null
                    : new SdpMediaTarget(relays[random.Next(2)], 30000 + random.Next(100), random.Next(3) == 0 ? null : 31000)).ToArray();
                var bits = random.Next(128);
                SdpRewriter.Rewrite(sdp, targets, new SdpRewriteOptions
                {
                    RemoveIce = (bits & 1) != 0, ReplaceOrigin = (bits & 2) != 0, FullRtcpAttribute = (bits & 4) != 0, OmitRtcpAttribute = (bits & 8) != 0,
                    ReplaceSessionConnection = (bits & 16) != 0, ReplaceZeroAddress = (bits & 32) != 0, KeepDirection = (bits & 64) != 0,
                });
            }
            catch (SdpException)
            {
            }
        }
    }
}
