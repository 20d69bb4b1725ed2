using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Ng;

/// <summary>
/// Where the relay receives one media section's stream: the address it advertises (IPv4 or IPv6), the RTP port,
/// and the RTCP port, or null when RTCP is multiplexed on the RTP port (rtcp-mux kept).
/// </summary>
public sealed record SdpMediaTarget(IPAddress Address, int RtpPort, int? RtcpPort);

/// <summary>What a rewrite changes besides each targeted section's c=, m= port and a=rtcp.</summary>
public sealed record SdpRewriteOptions
{
    /// <summary>replace-origin: the o= line's address becomes the relay's (first targeted section's).</summary>
    public bool ReplaceOrigin { get; init; }
    /// <summary>replace-session-connection: rewrite the session c= even when every active section has its own c=.</summary>
    public bool ReplaceSessionConnection { get; init; }
    /// <summary>replace-zero-address: a 0.0.0.0 / :: (hold) address becomes the relay's instead of a zero address of the relay's family.</summary>
    public bool ReplaceZeroAddress { get; init; }
    /// <summary>ICE=remove / reject-ICE: strip candidate, ice-ufrag, ice-pwd, ice-options, ice-lite, ice-mismatch, ice-pacing, end-of-candidates, remote-candidates.</summary>
    public bool RemoveIce { get; init; }
    /// <summary>original-sendrecv: leave direction attributes alone even for a zero-address (hold) stream.</summary>
    public bool KeepDirection { get; init; }
    /// <summary>full-rtcp-attribute: write a=rtcp with "IN IP4 address" and always write it.</summary>
    public bool FullRtcpAttribute { get; init; }
    /// <summary>no-rtcp-attribute: remove a=rtcp from targeted sections and add none.</summary>
    public bool OmitRtcpAttribute { get; init; }

    public static readonly SdpRewriteOptions None = new();

    /// <summary>The options an NG request asks for (ICE is stripped only on ICE=remove or reject-ICE; deciding more is the caller's).</summary>
    public static SdpRewriteOptions From(NgRequest request) => new()
    {
        ReplaceOrigin = (request.Replace & NgReplace.Origin) != 0,
        ReplaceSessionConnection = (request.Replace & NgReplace.SessionConnection) != 0,
        ReplaceZeroAddress = (request.Replace & NgReplace.ZeroAddress) != 0,
        RemoveIce = request.Ice == NgIceOption.Remove || request.Has(NgFlags.RejectIce),
        KeepDirection = request.Has(NgFlags.OriginalSendrecv),
        FullRtcpAttribute = request.Has(NgFlags.FullRtcpAttribute),
        OmitRtcpAttribute = request.Has(NgFlags.NoRtcpAttribute),
    };
}

/// <summary>
/// Points an SDP body at the relay, the way rtpengine's in-place rewriting did, changing only the bytes it must:
/// <list type="bullet">
/// <item>Each targeted active section (port not 0) gets the relay's port in m= and the relay's address in its
/// c=; the session c= carries the address of the first active section that relies on it (or is left alone when
/// none does, unless <see cref="SdpRewriteOptions.ReplaceSessionConnection"/>); a media-level c= is added only
/// to a section whose address would otherwise come out wrong from the session c=.</item>
/// <item>a=rtcp gets the RTCP port (the RTP port under rtcp-mux) and, when it carries one, the address; one is
/// added when the RTCP port is not RTP + 1 (RFC 3605 leaves it implicit otherwise).</item>
/// <item>Hold as rtpengine does it: a stream whose address is 0.0.0.0 / :: keeps a zero address (of the relay's
/// family) and loses "recv" from its direction (sendrecv becomes sendonly, recvonly becomes inactive), a
/// direction attribute being added when only the session's or the default applied.</item>
/// <item>Sections with port 0 are left alone, and so are sections with a null target (their address is kept,
/// with a media-level c= added if the session c= changes under them). Every other byte, attribute order and
/// line terminator passes through.</item>
/// </list>
/// </summary>
public static class SdpRewriter
{
    public static byte[] Rewrite(SdpBody sdp, IReadOnlyList<SdpMediaTarget?> targets, SdpRewriteOptions? options = null)
    {
        options ??= SdpRewriteOptions.None;
        if (targets.Count != sdp.Medias.Count)
            throw new ArgumentException($"{targets.Count} targets for {sdp.Medias.Count} media sections", nameof(targets));
        foreach (var t in targets)
        {
            if (t is null) continue;
            if (t.RtpPort is < 1 or > 65535 || t.RtcpPort is < 1 or > 65535)
                throw new ArgumentException($"port out of range in {t}", nameof(targets));
            if (t.Address.Equals(IPAddress.Any) || t.Address.Equals(IPAddress.IPv6Any))
                throw new ArgumentException($"a relay address cannot be unspecified: {t}", nameof(targets));
        }

        var edits = new Edits(sdp);
        var medias = sdp.Medias;
        var session = sdp.Session;

        // what address each active section must end up with
        var desired = new Address?[medias.Count];
        for (var i = 0; i < medias.Count; i++)
        {
            var original = medias[i].Connection ?? session.Connection;
            if (medias[i].IsDisabled) continue;
            desired[i] = targets[i] switch
            {
                null => original is null ? null : Address.Written(sdp, original),
                var t when original?.IsZero == true && !options.ReplaceZeroAddress => Address.Zero(t.Address),
                var t => Address.Of(t.Address),
            };
        }
        var firstTargeted = Enumerable.Range(0, medias.Count).FirstOrDefault(i => targets[i] is not null && !medias[i].IsDisabled, -1);

        // session c=, and media-level c= where a section can no longer rely on it
        var inheriting = Enumerable.Range(0, medias.Count).Where(i => !medias[i].IsDisabled && medias[i].Connection is null).ToList();
        Address? sessionAddress = null;
        if (session.Connection is { } sc)
        {
            var chosen = inheriting.Count > 0 ? desired[inheriting[0]]
                : options.ReplaceSessionConnection && firstTargeted >= 0 ? desired[firstTargeted] : null;
            if (chosen is { } c && !c.Matches(sc)) edits.ReplaceAddress(sc, c);
            sessionAddress = chosen ?? Address.Written(sdp, sc);
        }
        foreach (var i in inheriting)
            if (desired[i] is { } d && (sessionAddress is not { } sa || !d.Same(sa)))
                edits.InsertAfter(LastLeadingLine(sdp, medias[i]), $"c=IN {d.AddrType} {d.Text}");

        if (options.ReplaceOrigin && session.Origin is { } origin && firstTargeted >= 0)
        {
            var relay = Address.Of(targets[firstTargeted]!.Address);
            if (!relay.Matches(origin.Address)) edits.ReplaceAddress(origin.Address, relay);
        }

        if (options.RemoveIce)
        {
            foreach (var a in session.Attributes.Where(a => a.IsIce)) edits.Drop(a.Line);
            foreach (var m in medias.Where(m => !m.IsDisabled))
                foreach (var a in m.Attributes.Where(a => a.IsIce)) edits.Drop(a.Line);
        }

        for (var i = 0; i < medias.Count; i++)
        {
            if (medias[i].IsDisabled || targets[i] is not { } target) continue;
            var media = medias[i];
            var address = desired[i]!.Value;
            if (media.Port != target.RtpPort) edits.Replace(media.PortSpan, target.RtpPort.ToString());
            if (media.Connection is { } own && !address.Matches(own)) edits.ReplaceAddress(own, address);
            RewriteRtcp(sdp, media, target, address, options, edits);
            if ((media.Connection ?? session.Connection)?.IsZero == true && !options.KeepDirection)
                RewriteHoldDirection(sdp, media, edits);
        }
        return edits.Render();
    }

    private static void RewriteRtcp(SdpBody sdp, SdpMedia media, SdpMediaTarget target, Address address, SdpRewriteOptions options, Edits edits)
    {
        var port = target.RtcpPort ?? target.RtpPort;
        if (options.OmitRtcpAttribute)
        {
            foreach (var rtcp in media.Rtcp) edits.Drop(rtcp.Line);
            return;
        }
        foreach (var rtcp in media.Rtcp)
        {
            if (rtcp.Port != port) edits.Replace(rtcp.PortSpan, port.ToString());
            if (rtcp.Address is { } a)
            {
                if (!address.Matches(a)) edits.ReplaceAddress(a, address);
            }
            else if (options.FullRtcpAttribute)
                edits.Replace(new SdpSpan(sdp.Lines[rtcp.Line].End, 0), $" IN {address.AddrType} {address.Text}");
        }
        if (media.Rtcp.Count > 0) return;
        if (options.FullRtcpAttribute)
            edits.InsertAfter(LastLine(sdp, media), $"a=rtcp:{port} IN {address.AddrType} {address.Text}");
        else if (target.RtcpPort is { } rtcpPort && rtcpPort != target.RtpPort + 1)
            edits.InsertAfter(LastLine(sdp, media), $"a=rtcp:{rtcpPort}");
    }

    // rtpengine: a zero address stops the stream's receiving (call.c), so sendrecv -> sendonly, recvonly -> inactive.
    private static void RewriteHoldDirection(SdpBody sdp, SdpMedia media, Edits edits)
    {
        var effective = media.Direction ?? sdp.Session.Direction ?? SdpDirection.SendRecv;
        var held = effective switch
        {
            SdpDirection.SendRecv => SdpDirection.SendOnly,
            SdpDirection.RecvOnly => SdpDirection.Inactive,
            _ => effective,
        };
        var own = media.Attributes.Where(a => a.Direction is not null).ToList();
        foreach (var a in own)
            if (a.Direction != held) edits.Replace(new SdpSpan(sdp.Lines[a.Line].Start, sdp.Lines[a.Line].Length), $"a={Name(held)}");
        if (own.Count == 0 && held != effective) edits.InsertAfter(LastLine(sdp, media), $"a={Name(held)}");
    }

    private static string Name(SdpDirection d) => d switch
    {
        SdpDirection.SendOnly => "sendonly",
        SdpDirection.RecvOnly => "recvonly",
        SdpDirection.Inactive => "inactive",
        _ => "sendrecv",
    };

    // A media-level c= goes after the m= line and its i= lines (RFC 8866 order: m, i, c, b, k, a).
    private static int LastLeadingLine(SdpBody sdp, SdpMedia media)
    {
        var line = media.FirstLine;
        while (line + 1 < media.EndLine && sdp.Type(line + 1) == 'i') line++;
        return line;
    }

    // New attributes go after the section's last non-empty line.
    private static int LastLine(SdpBody sdp, SdpMedia media)
    {
        var line = media.EndLine - 1;
        while (line > media.FirstLine && sdp.Lines[line].Length == 0) line--;
        return line;
    }

    /// <summary>An address as written in SDP: its type token and text; compared by IP value when both are IPs.</summary>
    private readonly record struct Address(string AddrType, string Text)
    {
        public static Address Of(IPAddress ip)
        {
            if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
            if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.ScopeId != 0) ip = new IPAddress(ip.GetAddressBytes());
            return new(SdpBody.AddrTypeOf(ip), ip.ToString());
        }

        /// <summary>The address as the body writes it, a multicast "/ttl" suffix included: what an untargeted section keeps.</summary>
        public static Address Written(SdpBody sdp, SdpAddressField field) =>
            new(field.AddrType, BValue.Latin1.GetString(sdp.Bytes.Span.Slice(field.AddressSpan.Start, field.AddressSpan.Length)));

        public static Address Zero(IPAddress relay) =>
            Of(relay.AddressFamily == AddressFamily.InterNetworkV6 && !relay.IsIPv4MappedToIPv6 ? IPAddress.IPv6Any : IPAddress.Any);

        public bool Same(Address other) =>
            string.Equals(AddrType, other.AddrType, StringComparison.OrdinalIgnoreCase)
            && (IPAddress.TryParse(Text, out var a) && IPAddress.TryParse(other.Text, out var b) ? a.Equals(b) : Text == other.Text);

        public bool Matches(SdpAddressField field) =>
            string.Equals(AddrType, field.AddrType, StringComparison.OrdinalIgnoreCase)
            && (field.Ip is { } ip && IPAddress.TryParse(Text, out var mine) ? mine.Equals(ip) : Text == field.Address)
            && field.Address.Length == field.AddressSpan.Length; // a "/ttl" suffix is rewritten away
    }

    /// <summary>Byte edits to the body (replacements within lines, dropped lines, inserted lines), rendered in one pass.</summary>
    private sealed class Edits(SdpBody sdp)
    {
        private readonly List<(SdpSpan Span, string Text)> _replacements = [];
        private readonly HashSet<int> _dropped = [];
        private readonly Dictionary<int, List<string>> _inserted = [];

        public void Replace(SdpSpan span, string text) => _replacements.Add((span, text));

        public void ReplaceAddress(SdpAddressField field, Address address)
        {
            Replace(field.AddrTypeSpan, address.AddrType);
            Replace(field.AddressSpan, address.Text);
        }

        public void Drop(int line) => _dropped.Add(line);

        public void InsertAfter(int line, string text)
        {
            if (!_inserted.TryGetValue(line, out var list)) _inserted[line] = list = [];
            list.Add(text);
        }

        public byte[] Render()
        {
            var body = sdp.Bytes.Span;
            var output = new ArrayBufferWriter<byte>(body.Length + 256);
            var replacements = _replacements.OrderBy(r => r.Span.Start).ToList();
            var next = 0;
            var fallback = DefaultTerminator(sdp);
            for (var i = 0; i < sdp.Lines.Count; i++)
            {
                var line = sdp.Lines[i];
                var open = line.TerminatorLength == 0;
                var terminator = open ? fallback : sdp.Terminator(i);
                if (!_dropped.Contains(i))
                {
                    var at = line.Start;
                    for (; next < replacements.Count && replacements[next].Span.Start <= line.End; next++)
                    {
                        var (span, text) = replacements[next];
                        output.Write(body[at..span.Start]);
                        Write(output, text);
                        at = span.End;
                    }
                    output.Write(body[at..line.End]);
                    if (!open || _inserted.ContainsKey(i)) output.Write(terminator);
                }
                else
                {
                    for (; next < replacements.Count && replacements[next].Span.Start <= line.End; next++) { }
                }
                if (!_inserted.TryGetValue(i, out var inserted)) continue;
                for (var k = 0; k < inserted.Count; k++)
                {
                    Write(output, inserted[k]);
                    if (k < inserted.Count - 1 || !open) output.Write(terminator);
                }
            }
            return output.WrittenSpan.ToArray();
        }

        private static ReadOnlySpan<byte> DefaultTerminator(SdpBody sdp)
        {
            for (var i = 0; i < sdp.Lines.Count; i++)
                if (sdp.Lines[i].TerminatorLength > 0) return sdp.Terminator(i);
            return "\r\n"u8;
        }

        private static void Write(ArrayBufferWriter<byte> output, string text)
        {
            var span = output.GetSpan(text.Length);
            var n = BValue.Latin1.GetBytes(text, span);
            output.Advance(n);
        }
    }
}
