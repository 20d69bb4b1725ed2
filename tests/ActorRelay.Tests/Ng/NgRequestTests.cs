using System.Net;
using System.Text;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class NgRequestTests
{
    private const string Sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

    private static NgRequest Parse(params (string Key, BValue? Value)[] entries)
    {
        Assert.True(NgRequest.TryParse(BDictionary.Of(entries), out var request, out var error), error?.Reason);
        return request;
    }

    private static NgError ParseError(params (string Key, BValue? Value)[] entries)
    {
        Assert.False(NgRequest.TryParse(BDictionary.Of(entries), out _, out var error));
        return error!;
    }

    private static BList List(params string[] items) => new(items.Select(i => (BValue)i));

    [Fact]
    public void Reads_what_kamailio_sends_for_an_offer_with_module_parsed_flags()
    {
        // rtpengine_offer("replace-origin replace-session-connection ICE=remove RTP/AVP trust-address
        //   direction=priv direction=pub address-family=IP6 rtcp-mux-demux"), in the order the module adds keys
        var r = Parse(
            ("supports", List("load limit")),
            ("sdp", Sdp),
            ("ICE", "remove"),
            ("address-family", "IP6"),
            ("direction", List("priv", "pub")),
            ("replace", List("origin", "session-connection")),
            ("transport-protocol", "RTP/AVP"),
            ("rtcp-mux", List("demux")),
            ("received-from", List("IP4", "192.0.2.10")),
            ("call-id", "a84b4c76e66710@pc33.example.com"),
            ("from-tag", "1928301774"),
            ("command", "offer"),
            ("sip-message-type", "sip_request"),
            ("flags", List("trust-address")));
        Assert.Equal(NgCommand.Offer, r.Command);
        Assert.Equal("a84b4c76e66710@pc33.example.com", r.CallId);
        Assert.Equal("1928301774", r.FromTag);
        Assert.Null(r.ToTag);
        Assert.Equal(Sdp, Encoding.Latin1.GetString(r.Sdp!.Value.Span));
        Assert.Equal(NgIceOption.Remove, r.Ice);
        Assert.Equal(NgAddressFamily.IP6, r.AddressFamily);
        Assert.Equal(["priv", "pub"], r.Direction);
        Assert.Equal(NgReplace.Origin | NgReplace.SessionConnection, r.Replace);
        Assert.Equal("RTP/AVP", r.TransportProtocol);
        Assert.Equal(NgRtcpMux.Demux, r.RtcpMux);
        Assert.Equal(IPAddress.Parse("192.0.2.10"), r.ReceivedFrom);
        Assert.Equal(NgSipMessageType.Request, r.SipMessageType);
        Assert.True(r.SupportsLoadLimit);
        Assert.Equal(NgFlags.TrustAddress, r.Flags);
        Assert.Empty(r.NotUnderstood);
    }

    [Fact]
    public void Reads_what_opensips_sends_for_an_answer_and_a_delete()
    {
        var answer = Parse(
            ("sdp", Sdp),
            ("direction", List("external", "internal")),
            ("flags", List("trust-address", "strict-source")),
            ("replace", List("origin", "session-connection")),
            ("address family", "IP4"),
            ("call-id", "c1"),
            ("received-from", List("IP6", "2001:db8::7")),
            ("from-tag", "t2"),
            ("to-tag", "t1"),
            ("command", "answer"));
        Assert.Equal(NgCommand.Answer, answer.Command);
        Assert.Equal(("t2", "t1"), (answer.FromTag, answer.ToTag));
        Assert.Equal(NgAddressFamily.IP4, answer.AddressFamily);
        Assert.Equal(NgFlags.TrustAddress | NgFlags.StrictSource, answer.Flags);
        Assert.Equal(IPAddress.Parse("2001:db8::7"), answer.ReceivedFrom);
        Assert.Empty(answer.NotUnderstood);

        var delete = Parse(("delete-delay", 0), ("call-id", "c1"), ("received-from", List("IP4", "192.0.2.1")), ("command", "delete"), ("flags", List("fatal")));
        Assert.Equal((NgCommand.Delete, 0, NgFlags.Fatal), (delete.Command, delete.DeleteDelay, delete.Flags));
    }

    [Theory]
    [InlineData("address family")]
    [InlineData("address-family")]
    [InlineData("address_family")]
    [InlineData("Address-Family")]
    public void Key_spellings_are_normalised(string key) =>
        Assert.Equal(NgAddressFamily.IP6, Parse(("command", "ping"), (key, "IP6")).AddressFamily);

    [Theory]
    [InlineData("SIP-source-address")]
    [InlineData("sip-source-address")]
    [InlineData("SIP source address")]
    [InlineData("sip_source_address")]
    public void Flag_spellings_are_normalised(string flag) =>
        Assert.Equal(NgFlags.SipSourceAddress, Parse(("command", "offer"), ("sdp", Sdp), ("call-id", "c"), ("from-tag", "f"), ("flags", List(flag))).Flags);

    [Fact]
    public void Every_latching_flag_is_read()
    {
        var r = Parse(("command", "offer"), ("sdp", Sdp), ("call-id", "c"), ("from-tag", "f"), ("flags", List(
            "trust-address", "SIP-source-address", "symmetric", "asymmetric", "strict-source", "media-handover",
            "port-latching", "no-port-latching")));
        Assert.Equal(NgFlags.TrustAddress | NgFlags.SipSourceAddress | NgFlags.Symmetric | NgFlags.Asymmetric | NgFlags.StrictSource
            | NgFlags.MediaHandover | NgFlags.PortLatching | NgFlags.NoPortLatching, r.Flags);
    }

    [Fact]
    public void Replace_and_rtcp_mux_options_may_also_come_as_prefixed_flags()
    {
        var r = Parse(("command", "offer"), ("sdp", Sdp), ("call-id", "c"), ("from-tag", "f"),
            ("flags", List("replace-origin", "replace-zero-address", "rtcp-mux-require", "RTCP_mux_accept")));
        Assert.Equal(NgReplace.Origin | NgReplace.ZeroAddress, r.Replace);
        Assert.Equal(NgRtcpMux.Require | NgRtcpMux.Offer | NgRtcpMux.Accept, r.RtcpMux);
        Assert.Empty(r.NotUnderstood);
    }

    [Fact]
    public void Lists_may_be_a_comma_separated_string()
    {
        var r = Parse(("command", "ping"), ("flags", "trust-address, strict-source"), ("replace", "origin"), ("ICE", "force-relay"));
        Assert.Equal(NgFlags.TrustAddress | NgFlags.StrictSource, r.Flags);
        Assert.Equal(NgReplace.Origin, r.Replace);
        Assert.Equal(NgIceOption.ForceRelay, r.Ice);
    }

    [Fact]
    public void Everything_not_understood_is_listed_as_received()
    {
        var r = Parse(("command", "ping"), ("call-id", "c"),
            ("codec", BDictionary.Of(("strip", List("PCMA")))),
            ("SDES", List("off")),
            ("TOS", 184),
            ("flags", List("SDES-off", "loop-protect", "trust-address")),
            ("ICE", List("remove", "lite-both")),
            ("replace", List("username", "origin")),
            ("address-family", "IP5"),
            ("received-from", List("IP4", "not-an-address")),
            ("media-address", "192.0.2.300"),
            ("rtcp-mux", List("sideways")),
            ("supports", List("load limit", "teleportation")),
            ("delete-delay", -5),
            ("call-id", 7));
        Assert.Equal([
            "codec", "SDES", "TOS", "SDES-off", "loop-protect", "ICE=lite-both", "replace=username", "address-family=IP5",
            "received-from=[IP4 not-an-address]", "media-address=192.0.2.300", "rtcp-mux=sideways", "supports=teleportation",
            "delete-delay=-5", "call-id"], r.NotUnderstood);
        Assert.Equal((NgFlags.TrustAddress, NgReplace.Origin, NgIceOption.Remove), (r.Flags, r.Replace, r.Ice));
        Assert.Null(r.CallId); // the non-string call-id replaced the first one, as rtpengine's last-wins reading does
    }

    [Fact]
    public void The_last_occurrence_of_a_key_wins()
    {
        var r = Parse(("command", "ping"), ("label", "a"), ("label", "b"), ("from-label", "c"));
        Assert.Equal("c", r.Label);
    }

    [Theory]
    [InlineData("ping", NgCommand.Ping)]
    [InlineData("offer", NgCommand.Offer)]
    [InlineData("answer", NgCommand.Answer)]
    [InlineData("delete", NgCommand.Delete)]
    [InlineData("query", NgCommand.Query)]
    [InlineData("list", NgCommand.List)]
    [InlineData("statistics", NgCommand.Statistics)]
    [InlineData("start recording", NgCommand.Unknown)]
    [InlineData("block DTMF", NgCommand.Unknown)]
    [InlineData("teleport", NgCommand.Unknown)]
    public void Commands(string name, NgCommand command)
    {
        Assert.True(NgRequest.TryParse(BDictionary.Of(("command", name), ("sdp", Sdp), ("call-id", "c"), ("from-tag", "f"), ("to-tag", "t")), out var r, out _));
        Assert.Equal((command, name), (r.Command, r.CommandName));
    }

    public static TheoryData<string, (string, BValue?)[]> MissingKeys() => new()
    {
        { NgErrors.NoCommand, [("call-id", "c")] },
        { NgErrors.NoCommand, [("command", 1)] },
        { NgErrors.NoSdp, [("command", "offer"), ("call-id", "c"), ("from-tag", "f")] },
        { NgErrors.NoSdp, [("command", "offer"), ("sdp", ""), ("call-id", "c"), ("from-tag", "f")] },
        { NgErrors.NoCallId, [("command", "offer"), ("sdp", Sdp), ("from-tag", "f")] },
        { NgErrors.NoCallId, [("command", "offer"), ("sdp", Sdp), ("call-id", ""), ("from-tag", "f")] },
        { NgErrors.NoFromTag, [("command", "offer"), ("sdp", Sdp), ("call-id", "c")] },
        { NgErrors.NoToTag, [("command", "answer"), ("sdp", Sdp), ("call-id", "c"), ("from-tag", "f")] },
        { NgErrors.NoSdp, [("command", "answer"), ("call-id", "c"), ("from-tag", "f"), ("to-tag", "t")] },
        { NgErrors.NoCallId, [("command", "delete"), ("from-tag", "f")] },
        { NgErrors.NoCallId, [("command", "query")] },
        { NgErrors.InvalidLimit, [("command", "list"), ("limit", -1)] },
    };

    [Theory]
    [MemberData(nameof(MissingKeys))]
    public void Missing_mandatory_keys_give_rtpengine_error_reasons(string reason, (string, BValue?)[] entries) =>
        Assert.Equal(reason, ParseError(entries).Reason);

    [Fact]
    public void Delete_and_query_need_only_a_call_id()
    {
        Assert.Equal(NgCommand.Delete, Parse(("command", "delete"), ("call-id", "c")).Command);
        Assert.Equal(NgCommand.Query, Parse(("command", "query"), ("call-id", "c")).Command);
        Assert.Equal(NgCommand.Ping, Parse(("command", "ping")).Command);
        Assert.Equal(NgCommand.Statistics, Parse(("command", "statistics")).Command);
    }

    [Fact]
    public void Delete_options()
    {
        var r = Parse(("command", "delete"), ("call-id", "c"), ("from-tag", "f"), ("to-tag", "t"), ("delete delay", "30"), ("flags", List("fatal", "fast", "to-tag")));
        Assert.Equal(30, r.DeleteDelay);
        Assert.Equal(NgFlags.Fatal | NgFlags.Fast | NgFlags.ToTag, r.Flags);
        Assert.True(r.Has(NgFlags.Fatal));
        Assert.False(r.Has(NgFlags.Debug));
    }

    [Fact]
    public void List_limit_reads_an_integer_or_a_decimal_string()
    {
        Assert.Null(Parse(("command", "list")).Limit);
        Assert.Equal(10, Parse(("command", "list"), ("limit", 10)).Limit);
        Assert.Equal(0, Parse(("command", "list"), ("limit", "0")).Limit);
        Assert.Equal(["limit=ten"], Parse(("command", "list"), ("limit", "ten")).NotUnderstood);
    }

    [Fact]
    public void Addresses_are_parsed_and_ipv4_mapped_ones_unmapped()
    {
        var r = Parse(("command", "ping"), ("received-from", "::ffff:192.0.2.1"), ("media-address", "2001:db8::1"));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), r.ReceivedFrom);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), r.MediaAddress);
    }

    [Fact]
    public void Interfaces_come_from_direction_or_from_and_to_interface()
    {
        Assert.Equal(["pub"], Parse(("command", "ping"), ("from-interface", "pub")).Direction);
        Assert.Equal(["a", "b"], Parse(("command", "ping"), ("to-interface", "b"), ("from-interface", "a")).Direction);
        var three = Parse(("command", "ping"), ("direction", List("a", "b", "c")));
        Assert.Equal(["a", "b"], three.Direction);
        Assert.Single(three.NotUnderstood);
    }

    [Fact]
    public void Sip_context_keys()
    {
        var r = Parse(("command", "ping"), ("sip-message-type", "sip_reply"), ("sip-code", 183));
        Assert.Equal((NgSipMessageType.Reply, 183), (r.SipMessageType, r.SipCode));
    }

    [Fact]
    public void Any_dictionary_is_read_without_throwing()
    {
        string[] keys = ["command", "call-id", "from-tag", "to-tag", "sdp", "flags", "replace", "ICE", "direction", "received-from",
            "media-address", "address-family", "rtcp-mux", "delete-delay", "limit", "supports", "sip-message-type", "sip-code",
            "rtpp-flags", "from-interface", "label", "x"];
        string[] words = ["offer", "ping", "list", "IP4", "IP6", "origin", "remove", "192.0.2.1", "::1", "trust-address", "replace-origin",
            "load limit", "-1", "99999999999", "[a b", "sip_reply", ""];
        var random = new Random(11);
        BValue Value(int depth) => random.Next(depth > 2 ? 2 : 4) switch
        {
            0 => words[random.Next(words.Length)],
            1 => (long)random.Next(-5, 1000) * (random.Next(2) == 0 ? 1 : long.MaxValue / 1000),
            2 => new BList(Enumerable.Range(0, random.Next(4)).Select(_ => Value(depth + 1))),
            _ => BDictionary.Of(Enumerable.Range(0, random.Next(3)).Select(_ => (keys[random.Next(keys.Length)], (BValue?)Value(depth + 1))).ToArray()),
        };
        for (var i = 0; i < 3000; i++)
        {
            var body = BDictionary.Of(Enumerable.Range(0, random.Next(8)).Select(_ => (keys[random.Next(keys.Length)], (BValue?)Value(0))).ToArray());
            if (NgRequest.TryParse(body, out var request, out var error)) Assert.Null(error);
            else Assert.NotNull(error);
            Assert.NotNull(request);
        }
    }

    [Fact]
    public void Kamailio_rtpp_flags_are_parsed_here()
    {
        // Kamailio's rtpengine_offer(flags, via-branch) passes the flag string through as "rtpp-flags"
        var r = Parse(("command", "offer"), ("sdp", Sdp), ("call-id", "c"), ("from-tag", "f"),
            ("rtpp-flags", "replace-origin via-branch=auto-next strict-source label=callee OSRTP-accept transport-protocol=RTP/AVP address-family=IP4"));
        Assert.Equal(NgReplace.Origin, r.Replace);
        Assert.Equal("auto-next", r.ViaBranch);
        Assert.Equal(NgFlags.StrictSource, r.Flags);
        Assert.Equal("callee", r.Label);
        Assert.Equal("RTP/AVP", r.TransportProtocol);
        Assert.Equal(NgAddressFamily.IP4, r.AddressFamily);
        Assert.Equal(["OSRTP-accept"], r.NotUnderstood);
    }

    [Theory]
    [InlineData("RTP", "RTP/AVP")]
    [InlineData("RTP/AVP", "RTP/AVP")]
    [InlineData("AVPF", "RTP/AVPF")]
    [InlineData("SRTP", "RTP/SAVP")]
    [InlineData("SRTP AVPF", "RTP/SAVPF")]
    [InlineData("RTP/SAVPF RTP", "RTP/AVPF")]
    [InlineData("DTLS", "UDP/TLS/RTP/SAVP")]
    [InlineData("DTLS AVPF", "UDP/TLS/RTP/SAVPF")]
    [InlineData("UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVPF")]
    public void Rtpp_flags_transport_tokens_combine_as_in_rtpengine(string flags, string protocol) =>
        Assert.Equal(protocol, Parse(("command", "ping"), ("rtpp-flags", flags)).TransportProtocol);

    [Fact]
    public void Rtpp_flags_brackets_direction_and_to_tag()
    {
        var r = Parse(("command", "ping"), ("rtpp-flags",
            "  rtcp-mux=[offer require] replace=[origin zero-address]  codec=[strip=[PCMA PCMU] offer=[opus]] ICE=remove direction=priv internal to-tag=xyz  SIP-source-address"));
        Assert.Equal(NgRtcpMux.Offer | NgRtcpMux.Require, r.RtcpMux);
        Assert.Equal(NgReplace.Origin | NgReplace.ZeroAddress, r.Replace);
        Assert.Equal(NgIceOption.Remove, r.Ice);
        Assert.Equal(["priv", "internal"], r.Direction);
        Assert.Equal("xyz", r.ToTag);
        Assert.Equal(NgFlags.ToTag | NgFlags.SipSourceAddress, r.Flags);
        Assert.Equal(["codec"], r.NotUnderstood);
    }

    [Fact]
    public void Rtpp_flags_that_are_broken_are_noted_not_thrown()
    {
        Assert.Equal(["rtpp-flags: unbalanced brackets"], Parse(("command", "ping"), ("rtpp-flags", "rtcp-mux=[offer")).NotUnderstood);
        Assert.Contains("rtpp-flags: brackets nested too deep",
            Parse(("command", "ping"), ("rtpp-flags", "x=[[[[[[[[[[[[deep]]]]]]]]]]]] strict-source")).NotUnderstood);
        Assert.Equal(["rtpp-flags: impossible transport combination"], Parse(("command", "ping"), ("rtpp-flags", "DTLS AVPF SRTP")).NotUnderstood);
        var random = new Random(7);
        const string alphabet = "ab=[] -_RTPSAVF";
        for (var i = 0; i < 5000; i++)
        {
            var text = new string(Enumerable.Range(0, random.Next(40)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            NgRequest.TryParse(BDictionary.Of(("command", "ping"), ("rtpp-flags", text)), out _, out _);
        }
    }
}
