namespace ActorRelay.Tests.Ng;

/// <summary>SDP bodies in the shape real phones and gateways send them (documentation addresses, RFC 5737 / 3849).</summary>
internal static class SdpGoldens
{
    public static string Crlf(params string[] lines) => string.Join("\r\n", lines) + "\r\n";
    public static string Lf(params string[] lines) => string.Join("\n", lines) + "\n";

    /// <summary>A desk phone's plain G.711 offer, session-level c= and direction.</summary>
    public static readonly string[] G711OfferLines =
    [
        "v=0",
        "o=- 1712345678 1712345678 IN IP4 192.168.1.23",
        "s=Polycom IP Phone",
        "c=IN IP4 192.168.1.23",
        "t=0 0",
        "a=sendrecv",
        "m=audio 2222 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
    ];
    public static readonly string G711Offer = Crlf(G711OfferLines);

    /// <summary>A PBX's offer with a short a=rtcp.</summary>
    public static readonly string AsteriskOffer = Crlf(
        "v=0",
        "o=root 1829312 1829312 IN IP4 198.51.100.20",
        "s=Asterisk PBX 18.9.0",
        "c=IN IP4 198.51.100.20",
        "t=0 0",
        "m=audio 17412 RTP/AVP 9 0 8 101",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=maxptime:150",
        "a=rtcp:17413",
        "a=sendrecv");

    /// <summary>A softphone's offer with media-level c= and a full a=rtcp.</summary>
    public static readonly string LinphoneOffer = Crlf(
        "v=0",
        "o=alice 3724 1129 IN IP4 10.0.0.5",
        "s=Talk",
        "c=IN IP4 10.0.0.5",
        "t=0 0",
        "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
        "m=audio 7078 RTP/AVP 96 97 98 0 8 101",
        "c=IN IP4 10.0.0.5",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 useinbandfec=1",
        "a=rtpmap:97 speex/16000",
        "a=rtpmap:98 speex/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtcp:7079 IN IP4 10.0.0.5",
        "a=rtcp-fb:* trr-int 1000",
        "a=rtcp-fb:* ccm tmmbr");

    /// <summary>Audio and video from a softphone, plus a disabled text stream.</summary>
    public static readonly string AudioVideoOffer = Crlf(
        "v=0",
        "o=- 13265289 3 IN IP4 192.168.0.105",
        "s=Bria 6 release 6.5.3 stamp 105963",
        "c=IN IP4 192.168.0.105",
        "b=AS:2064",
        "t=0 0",
        "m=audio 63018 RTP/AVP 9 8 0 101",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=sendrecv",
        "m=video 57024 RTP/AVP 97 123",
        "i=camera",
        "b=TIAS:2000000",
        "a=rtpmap:97 H264/90000",
        "a=fmtp:97 profile-level-id=42801f;packetization-mode=1",
        "a=rtpmap:123 H264/90000",
        "a=rtcp-fb:* nack pli",
        "a=sendrecv",
        "m=text 0 RTP/AVP 98",
        "a=rtpmap:98 t140/1000");

    /// <summary>An ICE-capable softphone's offer: host and server-reflexive candidates.</summary>
    public static readonly string IceOffer = Crlf(
        "v=0",
        "o=Z 1610702124811 1 IN IP4 10.0.0.7",
        "s=Z",
        "c=IN IP4 10.0.0.7",
        "t=0 0",
        "a=ice-options:trickle",
        "m=audio 8000 RTP/AVP 106 9 98 101 0 8 3",
        "a=rtpmap:106 opus/48000/2",
        "a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1",
        "a=rtpmap:98 telephone-event/48000",
        "a=fmtp:98 0-16",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv",
        "a=ice-ufrag:5hWn",
        "a=ice-pwd:4c9dbc1ab76e0f7a92c8d1d4",
        "a=candidate:1 1 UDP 2130706431 10.0.0.7 8000 typ host",
        "a=candidate:1 2 UDP 2130706430 10.0.0.7 8001 typ host",
        "a=candidate:2 1 UDP 1694498815 198.51.100.77 53461 typ srflx raddr 10.0.0.7 rport 8000",
        "a=candidate:2 2 UDP 1694498814 198.51.100.77 53462 typ srflx raddr 10.0.0.7 rport 8001",
        "a=end-of-candidates",
        "a=rtcp:8001");

    /// <summary>An IPv6 desk phone's offer.</summary>
    public static readonly string Ipv6Offer = Crlf(
        "v=0",
        "o=- 20518 0 IN IP6 2001:db8:85a3::8a2e:370:7334",
        "s=SDP data",
        "c=IN IP6 2001:db8:85a3::8a2e:370:7334",
        "t=0 0",
        "m=audio 11780 RTP/AVP 8 0 18 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=sendrecv");

    /// <summary>A gateway's hold re-INVITE: zero address at session and media level, a=sendonly.</summary>
    public static readonly string HoldReinvite = Crlf(
        "v=0",
        "o=CiscoSystemsSIP-GW-UserAgent 4407 2362 IN IP4 192.0.2.50",
        "s=SIP Call",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "m=audio 16434 RTP/AVP 0 101",
        "c=IN IP4 0.0.0.0",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendonly",
        "a=ptime:20");

    /// <summary>RFC 2543-style hold: only the zero address, no direction attribute.</summary>
    public static readonly string ZeroAddressHold = Crlf(
        "v=0",
        "o=- 8 9 IN IP4 192.0.2.33",
        "s=-",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "m=audio 5004 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000");

    public static IEnumerable<string> All =>
        [G711Offer, AsteriskOffer, LinphoneOffer, AudioVideoOffer, IceOffer, Ipv6Offer, HoldReinvite, ZeroAddressHold, Lf(G711OfferLines)];
}
