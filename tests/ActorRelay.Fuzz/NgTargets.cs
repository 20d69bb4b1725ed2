using System.Net;
using System.Net.Sockets;
using System.Text;
using ActorRelay.Ng;
using ActorRelay.Tests.Properties;
using Codec = ActorRelay.Ng.Bencode;

namespace ActorRelay.Fuzz;

// The NG control protocol's readers: bencode, the datagram framing and request, the SDP parser and rewriter.
public static partial class FuzzTargets
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    /// <summary>Runs <paramref name="read"/> and fails when it allocated more than <paramref name="fixedBytes"/> + <paramref name="perByte"/> per input byte.</summary>
    internal static void Bounded(int inputLength, long fixedBytes, long perByte, string what, Action read)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        read();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Check(allocated <= fixedBytes + perByte * inputLength, $"{what}: {allocated} bytes allocated for {inputLength} input bytes");
    }

    private static void BencodeTarget(ReadOnlySpan<byte> data)
    {
        var input = data.ToArray();
        BValue? value = null;
        Bounded(input.Length, 64 * 1024, 256, "Bencode.Decode", () =>
        {
            try
            {
                value = Codec.Decode(input);
            }
            catch (BencodeException e)
            {
                Check(e.Offset >= 0 && e.Offset <= input.Length, "a BencodeException's offset lies in the input");
            }
        });
        if (value is null) return;
        // strict decoding (no leading zeros, no "-0", dictionary entries kept in order, duplicates too) loses nothing
        Check(Codec.Encode(value, canonical: false).AsSpan().SequenceEqual(input), "a decoded value encodes back to the same bytes");
        Check(value.Equals(Codec.Decode(Codec.Encode(value, canonical: false))), "decode(encode(v)) == v");
        byte[] canonical;
        try
        {
            canonical = Codec.Encode(value);
        }
        catch (ArgumentException)
        {
            Check(HasDuplicateKeys(value), "canonical encoding refuses only duplicate keys");
            return;
        }
        Check(Codec.Encode(Codec.Decode(canonical)).AsSpan().SequenceEqual(canonical), "canonical encoding is a fixpoint");
        if (value is BDictionary d)
            Check(d.Equals(Codec.DecodeDictionary(input)), "DecodeDictionary reads a dictionary like Decode");
    }

    private static bool HasDuplicateKeys(BValue value) => value switch
    {
        BDictionary d => d.Entries.Select(e => e.Key).Distinct(StringComparer.Ordinal).Count() != d.Entries.Count || d.Entries.Any(e => HasDuplicateKeys(e.Value)),
        BList l => l.Items.Any(HasDuplicateKeys),
        _ => false,
    };

    private static void NgTarget(ReadOnlySpan<byte> data)
    {
        var datagram = data.ToArray();
        NgFrame frame = null!;
        Bounded(datagram.Length, 64 * 1024, 256, "NgFraming.Read", () => frame = NgFraming.Read(datagram));
        switch (frame)
        {
            case NgUnanswerableFrame u:
                Check(u.Reason.Length > 0, "an unanswerable frame says why");
                break;
            case NgMalformedFrame m:
                CheckCookie(m.Cookie, datagram);
                Check(m.ErrorReason.Length > 0, "a malformed frame has an error reason");
                AnswerAndReadBack(m.Cookie, NgReplies.Error(m.ErrorReason));
                break;
            case NgRequestFrame r:
                CheckCookie(r.Cookie, datagram);
                var ok = NgRequest.TryParse(r.Body, out var request, out var error);
                Check(ok == (error is null) && request is not null, "TryParse: true exactly when there is no error");
                Check(request.Direction.Count <= 2 && request.NotUnderstood.All(n => n is not null), "a request has at most two interfaces");
                _ = NgReplies.NotUnderstoodWarning(request.NotUnderstood);
                _ = SdpRewriteOptions.From(request);
                AnswerAndReadBack(r.Cookie, ok ? NgReplies.Ok(request.Sdp, NgReplies.NotUnderstoodWarning(request.NotUnderstood)) : NgReplies.Error(error!.Reason));
                break;
            default:
                Check(false, $"an unknown frame {frame}");
                break;
        }
        // the datagram's text as a Kamailio rtpp-flags string
        var flags = Latin1.GetString(datagram);
        NgRequest.TryParse(BDictionary.Of(("command", "offer"), ("rtpp-flags", flags)), out var parsed, out _);
        Check(parsed.Command == NgCommand.Offer || flags.Contains("command", StringComparison.OrdinalIgnoreCase),
            "rtpp-flags change the command only with a command key");
    }

    private static void CheckCookie(string cookie, byte[] datagram) =>
        Check(cookie.Length is > 0 and <= NgFraming.MaxCookieLength && !cookie.Contains(' ')
              && Latin1.GetBytes(cookie).AsSpan().SequenceEqual(datagram.AsSpan(0, cookie.Length)), "the cookie is the datagram's first bytes up to the space");

    private static void AnswerAndReadBack(string cookie, BDictionary reply)
    {
        var back = NgFraming.Read(NgFraming.Frame(cookie, reply));
        Check(back is NgRequestFrame f && f.Cookie == cookie && Codec.Encode(f.Body).AsSpan().SequenceEqual(Codec.Encode(reply)),
            "a framed reply reads back as its cookie and dictionary");
    }

    private static readonly IPAddress[] Relays =
    [
        IPAddress.Parse("203.0.113.1"), IPAddress.Parse("2001:db8::1"), IPAddress.Parse("::ffff:203.0.113.2"),
        IPAddress.Parse("fe80::1%2"), IPAddress.Parse("224.2.1.1"), IPAddress.Parse("127.0.0.1"),
    ];

    private static void SdpTarget(ReadOnlySpan<byte> data)
    {
        // the first two bytes choose the options and targets of the generated rewrite; the rest is the SDP
        var choice = data.Length >= 2 ? data[0] | data[1] << 8 : 0;
        var bytes = data.Length >= 2 ? data[2..].ToArray() : data.ToArray();
        SdpBody? sdp = null;
        Bounded(bytes.Length, 64 * 1024, 512, "SdpBody.Parse", () =>
        {
            try
            {
                sdp = SdpBody.Parse(bytes);
            }
            catch (SdpException)
            {
            }
        });
        if (sdp is null) return;
        var lines = sdp.Lines;
        var joined = new List<byte>(bytes.Length);
        for (var i = 0; i < lines.Count; i++)
        {
            joined.AddRange(sdp.Content(i).ToArray());
            joined.AddRange(sdp.Terminator(i).ToArray());
        }
        Check(joined.ToArray().AsSpan().SequenceEqual(bytes), "the lines and their terminators are the body");

        // identity: nothing targeted, and every section pointed where it already points
        Check(SdpRewriter.Rewrite(sdp, new SdpMediaTarget?[sdp.Medias.Count]).AsSpan().SequenceEqual(bytes), "a rewrite without targets returns the body byte for byte");
        var targets = SdpChecks.IdentityTargets(sdp);
        var identity = SdpRewriter.Rewrite(sdp, targets, SdpChecks.IdentityOptions(sdp, targets));
        Check(identity.AsSpan().SequenceEqual(bytes), "pointing every stream where it already points changes no byte");

        // generated targets and options: no exception, and the result is SDP that says what was asked
        var generated = sdp.Medias.Select((m, i) =>
        {
            var pick = (choice >> (i % 4 * 3)) & 7;
            if (pick == 7) return null;
            var relay = Relays[(pick + i) % Relays.Length];
            return new SdpMediaTarget(relay, 1 + (30000 + 2 * i + pick) % 65535, pick < 3 ? null : pick == 3 ? 65535 : 30001 + 2 * i);
        }).ToArray();
        var options = new SdpRewriteOptions
        {
            RemoveIce = (choice & 0x1000) != 0, ReplaceOrigin = (choice & 0x2000) != 0, FullRtcpAttribute = (choice & 0x4000) != 0,
            OmitRtcpAttribute = (choice & 0x8000) != 0, ReplaceSessionConnection = (choice & 0x0400) != 0, ReplaceZeroAddress = (choice & 0x0800) != 0,
            KeepDirection = (choice & 0x0200) != 0,
        };
        var rewritten = SdpRewriter.Rewrite(sdp, generated, options);
        SdpBody again;
        try
        {
            again = SdpBody.Parse(rewritten, int.MaxValue);
        }
        catch (SdpException e)
        {
            throw new FuzzInvariantException($"a rewritten body does not parse again: {e.Message}");
        }
        Check(again.Medias.Count == sdp.Medias.Count, "a rewrite keeps the media sections");
        for (var i = 0; i < generated.Length; i++)
        {
            var (before, after) = (sdp.Medias[i], again.Medias[i]);
            if (before.IsDisabled || generated[i] is not { } t)
            {
                Check(after.Port == before.Port, "an untargeted or disabled section keeps its port");
                continue;
            }
            Check(after.Port == t.RtpPort, "a targeted section gets the relay's port");
            var connection = after.Connection ?? again.Session.Connection;
            var wasZero = (before.Connection ?? sdp.Session.Connection)?.IsZero == true;
            var expected = Unscoped(t.Address);
            Check(connection?.Ip is { } ip && (wasZero && !options.ReplaceZeroAddress ? connection.IsZero : ip.Equals(expected)),
                $"a targeted section's connection is the relay's address ({connection?.Address} for {expected})");
        }
    }

    private static IPAddress Unscoped(IPAddress a) =>
        a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a.AddressFamily == AddressFamily.InterNetworkV6 && a.ScopeId != 0 ? new IPAddress(a.GetAddressBytes()) : a;

    private static string[] BencodeTokens => ["d", "e", "i", "l", "0:", "1:", "i-", "i0e", "le", "de", "9223372036854775807", "-9223372036854775808", "4294967296:"];

    private static string[] NgTokens =>
    [
        "7:command", "4:ping", "5:offer", "6:answer", "6:delete", "5:query", "4:list", "10:statistics", "7:call-id", "8:from-tag", "6:to-tag",
        "10:via-branch", "5:label", "3:sdp", "5:flags", "7:replace", "3:ICE", "9:direction", "13:received-from", "13:media-address",
        "14:address-family", "8:rtcp-mux", "18:transport-protocol", "12:delete-delay", "5:limit", "8:supports", "16:sip-message-type",
        "8:sip-code", "10:rtpp-flags", "14:from-interface", "12:to-interface", "3:IP4", "3:IP6", "13:trust-address", "9:symmetric",
        "13:strict-source", "14:media-handover", "6:origin", "18:session-connection", "6:remove", "10:load limit", "trust-address",
        "replace-origin", "rtcp-mux-offer", "direction=", "to-tag=", "=[", "]", " ", "RTP/AVP", "UDP/TLS/RTP/SAVPF", "SRTP", "AVPF", "DTLS",
        "internal", "external", "ICE=remove", "codec=[strip=[",
    ];

    private static string[] SdpTokens =>
    [
        "v=0", "\r\n", "\n", "o=- 1 1 IN IP4 ", "c=IN IP4 ", "c=IN IP6 ", "m=audio ", "m=video 0 ", " RTP/AVP 0", "a=rtcp:", " IN IP4 ",
        "a=rtcp-mux", "a=rtpmap:", "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive", "a=candidate:", "a=ice-ufrag:", "a=ice-pwd:",
        "a=end-of-candidates", "i=", "b=AS:64", "/127", "/2", "0.0.0.0", "::", "192.0.2.1", "2001:db8::9", "::ffff:192.0.2.1", "fe80::1%2",
        "224.2.1.1", "65535", "65536",
    ];

    private static IEnumerable<byte[]> BencodeSeeds()
    {
        yield return "d7:command4:pinge"u8.ToArray();
        yield return "d7:command5:offer7:call-id10:abc@host-15:flagsl13:trust-address9:symmetrice3:sdp20:v=0\r\no=- 1 1 IN IP4 x3:TOSi184ee"u8.ToArray();
        yield return "li-9223372036854775808ei0e0:l4:spamdeee"u8.ToArray();
    }

    private static IEnumerable<byte[]> NgSeeds()
    {
        yield return "5323_1 d7:command4:pinge"u8.ToArray();
        yield return NgFraming.Frame("2_24_1", BDictionary.Of(("command", "offer"), ("call-id", "abc@h"), ("from-tag", "ft1"),
            ("received-from", new BList("IP4", "192.0.2.1")), ("direction", new BList("internal", "external")), ("ICE", "remove"),
            ("rtpp-flags", "trust-address replace-origin rtcp-mux=[offer require] SRTP AVPF to-tag=t2"), ("sdp", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            ("flags", new BList("SIP-source-address", "reject-ICE")), ("replace", "origin,session-connection"), ("delete-delay", "5")));
        yield return "c { \"command\": \"ping\" }"u8.ToArray();
        yield return "RTP/AVP AVPF DTLS direction=internal to-tag=t1 codec=[strip=[PCMA] offer=[opus]] ICE=remove"u8.ToArray();
    }

    private static IEnumerable<byte[]> SdpSeeds()
    {
        string[] bodies =
        [
            "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:4001\r\na=sendrecv\r\n",
            "v=0\no=- 2 2 IN IP6 2001:db8::9\nc=IN IP6 2001:db8::9\nm=audio 5004 RTP/AVPF 96\na=rtcp-mux\na=candidate:1 1 UDP 2130706431 2001:db8::9 5004 typ host\na=ice-ufrag:x\nm=video 0 RTP/AVP 31\n",
            "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\nm=audio 4002 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127\r\na=rtcp:4009 IN IP4 224.2.1.1",
        ];
        foreach (var body in bodies) yield return [0, 0, .. Latin1.GetBytes(body)];
        yield return [0xFF, 0xFF, .. Latin1.GetBytes(bodies[0])];
    }
}
