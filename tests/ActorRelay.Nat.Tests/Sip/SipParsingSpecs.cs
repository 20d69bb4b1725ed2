using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>The harness's own parsers and counters, with plain unit tests (no lab, no root).</summary>
public sealed class BencodeSpecs
{
    [Fact]
    public void Encodes_and_decodes_the_ng_shapes()
    {
        var body = new Dictionary<string, object>
        {
            ["command"] = "offer",
            ["replace"] = new List<object> { "origin", "session-connection" },
            ["received-from"] = new List<object> { "IP4", "203.0.113.10" },
            ["created"] = 1795981886L,
            ["tags"] = new Dictionary<string, object> { ["a"] = new Dictionary<string, object>() },
        };
        var bytes = Bencode.Encode(body);
        Assert.StartsWith("d7:command5:offer7:replacel6:origin18:session-connectione", Encoding.ASCII.GetString(bytes));
        var back = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object>>(Bencode.Decode(bytes));
        Assert.Equal("offer", back["command"]);
        Assert.Equal(new object[] { "IP4", "203.0.113.10" }, Assert.IsType<List<object>>(back["received-from"]));
        Assert.Equal(1795981886L, back["created"]);
        Assert.Equal(Encoding.ASCII.GetString(bytes), Encoding.ASCII.GetString(Bencode.Encode(back)));
    }

    [Fact]
    public void An_ng_message_is_a_cookie_a_space_and_a_dictionary()
    {
        var msg = NgMessage.Parse("0_12399_1 d6:result4:ponge"u8);
        Assert.Equal("0_12399_1", msg.Cookie);
        Assert.Equal("pong", msg.Str("result"));
        Assert.Equal("0_12399_1 d6:result4:ponge", Encoding.ASCII.GetString(msg.ToBytes()));
        Assert.Throws<BencodeException>(() => NgMessage.Parse("d6:result4:ponge"u8));
        Assert.Throws<BencodeException>(() => NgMessage.Parse("c li1ee"u8));
    }

    [Theory]
    [InlineData("")]
    [InlineData("d")]
    [InlineData("l")]
    [InlineData("5:ab")]
    [InlineData("i12")]
    [InlineData("ie")]
    [InlineData("i1x2e")]
    [InlineData("i99999999999999999999999e")]
    [InlineData("d3:keye")]
    [InlineData("di1e1:ae")]
    [InlineData("x")]
    [InlineData("999999999:a")]
    [InlineData("4:spamtrailing")]
    [InlineData("-1:a")]
    public void Malformed_input_throws_only_its_own_exception(string input) =>
        Assert.Throws<BencodeException>(() => Bencode.Decode(Encoding.ASCII.GetBytes(input)));

    [Fact]
    public void Nesting_is_bounded()
    {
        var deep = new string('l', 1000) + new string('e', 1000);
        Assert.Throws<BencodeException>(() => Bencode.Decode(Encoding.ASCII.GetBytes(deep)));
        var fine = new string('l', 20) + new string('e', 20);
        Assert.IsType<List<object>>(Bencode.Decode(Encoding.ASCII.GetBytes(fine)));
    }

    [Fact]
    public void Random_and_mutated_input_throws_nothing_else()
    {
        var rng = new Random(7);
        var valid = new NgMessage("c1", new Dictionary<string, object>
            { ["command"] = "answer", ["sdp"] = "v=0\r\n", ["flags"] = new List<object> { "a", "b" }, ["n"] = 5L }).ToBytes();
        for (var i = 0; i < 5000; i++)
        {
            var input = i % 2 == 0 ? valid.ToArray() : new byte[rng.Next(0, 64)];
            if (i % 2 == 0) for (var k = 0; k < 3; k++) input[rng.Next(input.Length)] = (byte)rng.Next(256);
            else rng.NextBytes(input);
            try { NgMessage.Parse(input); }
            catch (BencodeException) { }
        }
    }
}

public sealed class SipMessageSpecs
{
    private const string Ok =
        "SIP/2.0 200 OK\r\n" +
        "v: SIP/2.0/UDP 198.51.100.2:5100;branch=z9hG4bKaaa;rport=5100;received=203.0.113.10, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbbb\r\n" +
        "Via: SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKccc\r\n" +
        "Record-Route: <sip:203.0.113.1;lr>, \"Proxy, two\" <sip:203.0.113.2;lr;x=a,b>\r\n" +
        "f: <sip:alice0@203.0.113.1>;tag=fff\r\n" +
        "t: \"Bob\" <sip:bob0@203.0.113.1>;tag=ttt\r\n" +
        "i: call-1@198.51.100.2\r\n" +
        "CSeq: 2 INVITE\r\n" +
        "m: <sip:bob0@203.0.113.20:18317>\r\n" +
        "Subject: folded\r\n value\r\n" +
        "l: 5\r\n" +
        "\r\n" +
        "v=0\r\nignored";

    [Fact]
    public void Reads_a_response_with_compact_and_list_headers()
    {
        var msg = SipMessage.Parse(Encoding.UTF8.GetBytes(Ok));
        Assert.False(msg.IsRequest);
        Assert.Equal(200, msg.StatusCode);
        Assert.Equal(3, msg.Values("Via").Count());
        Assert.Equal("z9hG4bKaaa", msg.TopBranch);
        Assert.Equal("5100", SipHeader.Param(msg["Via"]!, "rport"));
        Assert.Equal(new[] { "<sip:203.0.113.1;lr>", "\"Proxy, two\" <sip:203.0.113.2;lr;x=a,b>" }, msg.Values("Record-Route"));
        Assert.Equal("sip:203.0.113.2;lr;x=a,b", SipHeader.Uri(msg.Values("Record-Route").Last()));
        Assert.Equal("fff", msg.FromTag);
        Assert.Equal("ttt", msg.ToTag);
        Assert.Equal("call-1@198.51.100.2", msg.CallId);
        Assert.Equal((2u, "INVITE"), msg.CSeq);
        Assert.Equal("folded value", msg["Subject"]);
        Assert.Equal("v=0\r\n", msg.Body);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.20"), 18317), SipHeader.UriEndPoint(SipHeader.Uri(msg["Contact"]!)));
    }

    [Fact]
    public void Writes_content_length_itself_and_reads_back_what_it_wrote()
    {
        var req = SipMessage.Request("INVITE", "sip:bob0@203.0.113.1")
            .Add("Via", "SIP/2.0/UDP 198.51.100.2:5100;branch=z9hG4bK1;rport")
            .Add("Content-Length", "999")
            .Add("Call-ID", "x");
        req.Body = "v=0\r\nö\r\n";
        var text = req.ToString();
        Assert.Contains("Content-Length: 9\r\n\r\n", text);
        Assert.DoesNotContain("999", text);
        var back = SipMessage.Parse(req.ToBytes());
        Assert.Equal("INVITE", back.Method);
        Assert.Equal("sip:bob0@203.0.113.1", back.RequestUri);
        Assert.Equal(req.Body, back.Body);
        Assert.Equal("", SipHeader.Param(back["Via"]!, "rport"));
        Assert.Null(SipHeader.Param(back["Via"]!, "received"));
    }

    [Theory]
    [InlineData("SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nshort")]
    [InlineData("SIP/2.0 2000 OK\r\n\r\n")]
    [InlineData("SIP/2.0 099 Low\r\n\r\n")]
    [InlineData("INVITE sip:a SIP/3.0\r\n\r\n")]
    [InlineData("INVITE\r\n\r\n")]
    [InlineData("SIP/2.0 200 OK\r\nno colon here\r\n\r\n")]
    [InlineData("SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("SIP/2.0 200 OK\r\nVia: x\r\n")]
    [InlineData("")]
    public void Malformed_messages_throw_only_its_own_exception(string text) =>
        Assert.Throws<SipParseException>(() => SipMessage.Parse(Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData("sip:bob@203.0.113.20", "203.0.113.20", 5060)]
    [InlineData("sip:203.0.113.1;lr", "203.0.113.1", 5060)]
    [InlineData("sip:bob@198.51.100.130:5202;transport=udp", "198.51.100.130", 5202)]
    public void A_uri_names_its_endpoint(string uri, string ip, int port) =>
        Assert.Equal(new IPEndPoint(IPAddress.Parse(ip), port), SipHeader.UriEndPoint(uri));

    [Theory]
    [InlineData("sip:bob@example.org")]
    [InlineData("sip:bob@203.0.113.1:0")]
    [InlineData("sip:bob@203.0.113.1:99999")]
    [InlineData("tel")]
    public void A_uri_without_a_usable_ip_endpoint_is_refused(string uri) =>
        Assert.Throws<SipParseException>(() => SipHeader.UriEndPoint(uri));

    [Fact]
    public void Mutated_messages_throw_nothing_else()
    {
        var rng = new Random(11);
        var valid = Encoding.UTF8.GetBytes(Ok);
        for (var i = 0; i < 5000; i++)
        {
            var input = valid.AsSpan(0, rng.Next(valid.Length + 1)).ToArray();
            for (var k = 0; k < 4 && input.Length > 0; k++) input[rng.Next(input.Length)] = (byte)"\r\n:;,<>\" 0aZ\0"[rng.Next(13)];
            try
            {
                var msg = SipMessage.Parse(input);
                _ = msg.Values("Via").ToList();
                _ = msg.TopBranch;
                _ = msg.CSeq;
                _ = msg.ToTag;
            }
            catch (SipParseException) { }
        }
    }
}

public sealed class SdpSpecs
{
    [Fact]
    public void Reads_back_the_offer_it_writes()
    {
        var sdp = Sdp.Write(IPAddress.Parse("198.51.100.2"), 42, 1, 40000, 40002);
        var media = Sdp.Parse(sdp);
        Assert.Equal(2, media.Count);
        Assert.Equal(("audio", 40000, "RTP/AVP", "0", "sendrecv"), (media[0].Kind, media[0].Port, media[0].Protocol, media[0].Formats[0], media[0].Direction));
        Assert.Equal(("video", 40002, "96"), (media[1].Kind, media[1].Port, media[1].Formats[0]));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.2"), 40001), media[0].RtcpEndPoint);
        Assert.Contains("a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n", sdp);
    }

    [Fact]
    public void A_relays_answer_media_level_connection_and_rtcp_port_win()
    {
        var media = Sdp.Parse(
            "v=0\r\no=- 1 0 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n" +
            "m=audio 30014 RTP/AVP 0\r\nc=IN IP4 203.0.113.1\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp:30021\r\n" +
            "m=video 30016/2 RTP/AVP 96\r\na=inactive\r\n");
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.1"), 30014), media[0].RtpEndPoint);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.1"), 30021), media[0].RtcpEndPoint);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.2"), 30016), media[1].RtpEndPoint);
        Assert.Equal("inactive", media[1].Direction);
    }

    [Theory]
    [InlineData("v=0\r\n")]
    [InlineData("v=0\r\nm=audio 4000 RTP/AVP 0\r\n")]
    [InlineData("v=0\r\nc=IN IP4 host.example\r\nm=audio 4000 RTP/AVP 0\r\n")]
    [InlineData("v=0\r\nc=IN IP4 198.51.100.2\r\nm=audio 70000 RTP/AVP 0\r\n")]
    [InlineData("v=0\r\nc=IN IP4 198.51.100.2\r\nm=audio x RTP/AVP 0\r\n")]
    [InlineData("v=0\r\nc=IN IP4 198.51.100.2\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:nope\r\n")]
    [InlineData("")]
    public void Unusable_sdp_throws_only_the_parse_exception(string sdp) =>
        Assert.Throws<SipParseException>(() => Sdp.Parse(sdp));
}

public sealed class RtpReceiveCounterSpecs
{
    private const uint Peer = 0xB0000010;

    private static byte[] Packet(ushort seq, uint ssrc = Peer)
    {
        var p = new byte[RtpPacket.Size];
        RtpPacket.Write(p, seq, ssrc);
        return p;
    }

    [Fact]
    public void Counts_the_peers_packets_and_the_gaps_between_them()
    {
        var c = new RtpReceiveCounter(Peer);
        for (ushort s = 100; s < 200; s++) if (s is not (150 or 151)) c.Accept(Packet(s));
        Assert.Equal(new RtpCounts(100, 98, 2, 0, 0), c.Counts(sent: 100));
    }

    [Fact]
    public void Reordered_packets_are_not_lost_and_repeated_ones_are_duplicates()
    {
        var c = new RtpReceiveCounter(Peer);
        foreach (var s in new ushort[] { 1, 3, 2, 4, 4, 3 }) c.Accept(Packet(s));
        var counts = c.Counts(4);
        Assert.Equal((4L, 0L, 2L), (counts.Received, counts.Lost, counts.Duplicates));
    }

    [Fact]
    public void The_sequence_number_wraps()
    {
        var c = new RtpReceiveCounter(Peer);
        for (var i = 0; i < 20; i++) c.Accept(Packet((ushort)(65530 + i)));
        Assert.Equal((20L, 0L, 0L), (c.Counts(20).Received, c.Counts(20).Lost, c.Counts(20).Duplicates));
    }

    [Fact]
    public void Anything_that_is_not_the_peers_is_foreign()
    {
        var c = new RtpReceiveCounter(Peer);
        c.Accept(Packet(1, RelaySprayer.Ssrc));                   // the attacker
        c.Accept(Packet(1, 0xA0000010));                          // another stream
        var rewritten = Packet(2);
        BinaryPrimitives.WriteUInt32BigEndian(rewritten.AsSpan(12), 0xBAD0BAD0);
        c.Accept(rewritten);                                      // the peer's header on someone else's payload
        c.Accept(Packet(3).AsSpan(0, 12));                        // too short to carry the payload mark
        c.Accept(new byte[] { 0x00, 0, 0, 0 });
        Assert.Equal(new RtpCounts(0, 0, 0, 0, 5), c.Counts(0));
    }

    [Fact]
    public void Phases_subtract()
    {
        var later = new RtpCounts(250, 240, 3, 1, 2);
        var earlier = new RtpCounts(100, 99, 1, 0, 0);
        Assert.Equal(new RtpCounts(150, 141, 2, 1, 2), later - earlier);
    }
}

public sealed class SipRequirementsSpecs
{
    private const string Lab = "network namespaces and iptables need root";

    [Theory]
    [InlineData(null, false)]
    [InlineData(null, true)]
    [InlineData("something-else", true)]
    public void The_reference_run_is_opt_in_even_under_ci(string? setting, bool ci)
    {
        var (decision, why) = SipRequirements.Decide("rtpengine", setting, ci, null, true, true);
        Assert.Equal(SipRunDecision.Skip, decision);
        Assert.Contains("ACTORRELAY_SIP_REFERENCE=rtpengine", why);
    }

    [Fact]
    public void An_asked_for_reference_run_fails_on_anything_missing()
    {
        Assert.Equal(SipRunDecision.Run, SipRequirements.Decide("rtpengine", "rtpengine", false, null, true, true).Decision);
        Assert.Equal(SipRunDecision.Fail, SipRequirements.Decide("rtpengine", "rtpengine", false, null, true, false).Decision);
        Assert.Equal(SipRunDecision.Fail, SipRequirements.Decide("rtpengine", "rtpengine", false, Lab, true, true).Decision);
    }

    [Fact]
    public void The_product_run_skips_where_it_cannot_run_but_fails_under_ci()
    {
        Assert.Equal(SipRunDecision.Run, SipRequirements.Decide(null, null, true, null, true, true).Decision);
        Assert.Equal((SipRunDecision.Skip, Lab), SipRequirements.Decide(null, null, false, Lab, true, true));
        Assert.Equal(SipRunDecision.Fail, SipRequirements.Decide(null, null, true, Lab, true, true).Decision);
        var (decision, why) = SipRequirements.Decide(null, null, true, null, false, true);
        Assert.Equal(SipRunDecision.Fail, decision);
        Assert.Contains("kamailio", why);
    }
}

public sealed class KamailioConfigSpecs
{
    [Fact]
    public void The_config_points_the_rtpengine_module_at_the_ng_socket_with_the_tests_flags()
    {
        var cfg = KamailioProxy.Render(new KamailioOptions
        {
            NgSocket = "udp:127.0.0.1:2223", OfferFlags = "replace-origin trust-address", AnswerFlags = "replace-origin",
        });
        Assert.Contains("modparam(\"rtpengine\", \"rtpengine_sock\", \"udp:127.0.0.1:2223\")", cfg);
        Assert.Contains("rtpengine_offer(\"replace-origin trust-address\")", cfg);
        Assert.Contains("rtpengine_answer(\"replace-origin\")", cfg);
        Assert.Contains("rtpengine_delete()", cfg);
        Assert.Contains("listen=udp:203.0.113.1:5060", cfg);
        Assert.Contains("fix_nated_register()", cfg);
        Assert.Contains("record_route()", cfg);

        var manage = KamailioProxy.Render(new KamailioOptions { NgSocket = "udp:127.0.0.1:2223", UseManage = true });
        Assert.DoesNotContain("rtpengine_offer", manage);
        Assert.DoesNotContain("rtpengine_delete", manage);
        Assert.Contains("rtpengine_manage()", manage);
    }

    /// <summary>kamailio -c parses the generated config and loads its modules (no root, no lab needed).</summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Kamailio_accepts_the_generated_config(bool manage)
    {
        Skip.IfNot(KamailioProxy.Installed, "kamailio is not installed (scripts/sip-test-deps.sh installs it)");
        var dir = Directory.CreateTempSubdirectory("actorrelay-sip-check-").FullName;
        try
        {
            var cfg = Path.Combine(dir, "kamailio.cfg");
            File.WriteAllText(cfg, KamailioProxy.Render(new KamailioOptions { NgSocket = "udp:127.0.0.1:2223", UseManage = manage }));
            var psi = new ProcessStartInfo(KamailioProxy.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "-c", "-f", cfg, "-L", KamailioProxy.ModulePath, "-Y", dir }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var output = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEndAsync();
            Assert.True(p.WaitForExit(20_000), "kamailio -c hung");
            Assert.True(p.ExitCode == 0, $"kamailio -c failed ({p.ExitCode}):\n{output.Result}");
        }
        finally { Directory.Delete(dir, true); }
    }
}
