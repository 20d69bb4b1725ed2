using System.Net;
using System.Text;
using ActorRelay.Ng;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Properties;

/// <summary>
/// The SDP rewriter on generated bodies (session and media lines drawn from pools that include multicast "/ttl"
/// addresses, hold addresses, host names, mismatched address types, a=rtcp with and without an address, ICE lines,
/// junk lines, CRLF/LF/unterminated endings): a rewrite without targets, and one that points every section where it
/// already points (<see cref="SdpChecks.IdentityTargets"/>), return the body byte for byte.
/// </summary>
public sealed class SdpPropertyTests
{
    private static readonly string[] SessionLines =
    [
        "o=- 1 1 IN IP4 192.0.2.9", "o=- 2 2 IN IP6 2001:db8::9", "s=-", "t=0 0", "c=IN IP4 192.0.2.9", "c=IN IP6 2001:db8::9",
        "c=IN IP4 224.2.1.1/127", "c=IN IP4 224.2.1.1/127/3", "c=IN IP4 0.0.0.0", "c=IN IP6 ::", "c=IN IP4 host.example", "c=IN IP6 192.0.2.9",
        "c=IN IP4 ::ffff:192.0.2.9", "a=sendrecv", "a=recvonly", "a=ice-ufrag:x", "b=AS:64", "garbage line", "",
    ];

    private static readonly string[] MediaLines =
    [
        "c=IN IP4 192.0.2.10", "c=IN IP4 233.252.0.1/64", "c=IN IP6 2001:db8::10", "c=IN IP4 0.0.0.0", "a=rtcp:4001", "a=rtcp:5005 IN IP4 192.0.2.10",
        "a=rtcp:4009 IN IP4 233.252.0.1/64", "a=rtcp-mux", "a=rtpmap:0 PCMU/8000", "a=sendonly", "a=inactive", "a=candidate:1 1 UDP 1 192.0.2.10 4000 typ host",
        "a=end-of-candidates", "i=voice", "x-vendor=1", "",
    ];

    private static readonly Gen<string> Media = Gen.Select(Gen.OneOf("0", "4000", "4000/2", "65535", "04002", "5004"), Gen.OneOf("audio", "video"),
        Gen.OneOf(MediaLines).Array[0, 5], (port, type, lines) => string.Join("\n", lines.Prepend($"m={type} {port} RTP/AVP 0")));

    private static readonly Gen<string> Bodies = Gen.Select(Gen.OneOf(SessionLines).Array[0, 5], Media.Array[0, 3], Gen.Int[0, 2].Array[40], Gen.Bool,
        (session, medias, endings, terminated) =>
        {
            var lines = session.Prepend("v=0").Concat(medias.SelectMany(m => m.Split('\n'))).ToArray();
            var text = new StringBuilder();
            for (var i = 0; i < lines.Length; i++)
            {
                text.Append(lines[i]);
                if (i < lines.Length - 1 || terminated) text.Append(endings[i % endings.Length] == 0 ? "\n" : "\r\n");
            }
            return text.ToString();
        });

    private static SdpBody Parse(string text) => SdpBody.Parse(Encoding.Latin1.GetBytes(text));

    private static string Rewrite(SdpBody sdp, IReadOnlyList<SdpMediaTarget?> targets, SdpRewriteOptions options) =>
        Encoding.Latin1.GetString(SdpRewriter.Rewrite(sdp, targets, options));

    [Fact]
    public void A_rewrite_without_targets_returns_the_body_byte_for_byte()
    {
        Bodies.Sample(text =>
        {
            SdpBody sdp;
            try { sdp = Parse(text); }
            catch (SdpException) { return; }
            Assert.Equal(text, Rewrite(sdp, new SdpMediaTarget?[sdp.Medias.Count], SdpRewriteOptions.None));
        }, iter: 3000, print: t => t.ReplaceLineEndings("⏎"));
    }

    [Fact]
    public void Pointing_every_section_where_it_already_points_changes_no_byte()
    {
        var targeted = 0;
        Bodies.Sample(text =>
        {
            SdpBody sdp;
            try { sdp = Parse(text); }
            catch (SdpException) { return; }
            var targets = SdpChecks.IdentityTargets(sdp);
            if (targets.Any(t => t is not null)) Interlocked.Increment(ref targeted);
            Assert.Equal(text, Rewrite(sdp, targets, SdpChecks.IdentityOptions(sdp, targets)));
        }, iter: 3000, print: t => t.ReplaceLineEndings("⏎"));
        Assert.True(targeted > 500, $"only {targeted} bodies had a section to target");
    }

    [Fact]
    public void A_session_multicast_address_with_a_ttl_stays_when_no_section_is_targeted()
    {
        // found by the fuzz target "sdp" (a rewrite without targets returns the body byte for byte): the session c= of an
        // untargeted section lost its "/127", and so did the c= added to an untargeted section when the session c= changes
        // under it; a targeted section still gets the relay's unicast address without the suffix
        const string body = "v=0\r\nc=IN IP4 224.2.1.1/127\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\n";
        var sdp = Parse(body);
        Assert.Equal(body, Rewrite(sdp, [null, null], SdpRewriteOptions.None));
        var relay = new SdpMediaTarget(IPAddress.Parse("203.0.113.1"), 30000, 30001);
        Assert.Equal("v=0\r\nc=IN IP4 224.2.1.1/127\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 30000 RTP/AVP 0\r\nc=IN IP4 203.0.113.1\r\n",
            Rewrite(sdp, [null, relay], SdpRewriteOptions.None));
        Assert.Equal("v=0\r\nc=IN IP4 203.0.113.1\r\nm=audio 30000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127\r\n",
            Rewrite(sdp, [relay, null], SdpRewriteOptions.None));
    }
}
