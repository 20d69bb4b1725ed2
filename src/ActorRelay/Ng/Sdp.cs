using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Ng;

/// <summary>An SDP body the relay cannot rewrite safely (not SDP, or a line it must rewrite is malformed).</summary>
public sealed class SdpException(string message) : Exception(message);

/// <summary>A byte range of the body.</summary>
public readonly record struct SdpSpan(int Start, int Length)
{
    public int End => Start + Length;
}

/// <summary>One line: its content (without terminator) and its terminator's length (2 CRLF, 1 LF, 0 at the end of an unterminated body).</summary>
public readonly record struct SdpLine(int Start, int Length, int TerminatorLength)
{
    public int End => Start + Length;
}

public enum SdpDirection { SendRecv, SendOnly, RecvOnly, Inactive }

public enum SdpAttributeKind
{
    Other, Rtcp, RtcpMux, Rtpmap, SendRecv, SendOnly, RecvOnly, Inactive,
    // ICE (RFC 8839)
    Candidate, RemoteCandidates, IceUfrag, IcePwd, IceOptions, IceLite, IceMismatch, IcePacing, EndOfCandidates,
}

/// <summary>"a=name" or "a=name:value" on line <paramref name="Line"/>.</summary>
public sealed record SdpAttribute(int Line, string Name, string? Value, SdpAttributeKind Kind)
{
    public bool IsIce => Kind >= SdpAttributeKind.Candidate;

    public SdpDirection? Direction => Kind switch
    {
        SdpAttributeKind.SendRecv => SdpDirection.SendRecv,
        SdpAttributeKind.SendOnly => SdpDirection.SendOnly,
        SdpAttributeKind.RecvOnly => SdpDirection.RecvOnly,
        SdpAttributeKind.Inactive => SdpDirection.Inactive,
        _ => null,
    };
}

/// <summary>An address with its type, as in c=, o= and a=rtcp ("IN IP4 198.51.100.7"). <see cref="Address"/> excludes a multicast "/ttl" suffix; <see cref="AddressSpan"/> covers it.</summary>
public sealed record SdpAddressField(int Line, string AddrType, string Address, SdpSpan AddrTypeSpan, SdpSpan AddressSpan)
{
    public IPAddress? Ip { get; } = IPAddress.TryParse(Address, out var ip) ? ip : null;

    /// <summary>0.0.0.0 or :: : the obsolete way to put a stream on hold (RFC 2543).</summary>
    public bool IsZero => Ip is not null && (Ip.Equals(IPAddress.Any) || Ip.Equals(IPAddress.IPv6Any));
}

public sealed record SdpOrigin(int Line, string Username, string SessionId, string Version, SdpAddressField Address);

/// <summary>"a=rtcp:port [IN IP4 address]" (RFC 3605).</summary>
public sealed record SdpRtcp(int Line, int Port, SdpSpan PortSpan, SdpAddressField? Address);

/// <summary>"a=rtpmap:96 opus/48000/2": payload type, encoding, clock rate, optional parameters (channels).</summary>
public sealed record SdpRtpmap(int Line, int PayloadType, string Encoding, int ClockRate, string? Parameters);

public sealed record SdpSession(SdpOrigin? Origin, SdpAddressField? Connection, IReadOnlyList<SdpAttribute> Attributes)
{
    public SdpDirection? Direction => Attributes.Select(a => a.Direction).LastOrDefault(d => d is not null);
}

/// <summary>One media section: the m= line (<see cref="FirstLine"/>) up to the next m= line (<see cref="EndLine"/>, exclusive).</summary>
public sealed record SdpMedia(
    int Index, int FirstLine, int EndLine, string Type, int Port, SdpSpan PortSpan, int? PortCount, string Protocol,
    IReadOnlyList<string> Formats, SdpAddressField? Connection, IReadOnlyList<SdpAttribute> Attributes,
    IReadOnlyList<SdpRtcp> Rtcp, IReadOnlyList<SdpRtpmap> Rtpmaps)
{
    /// <summary>Port 0: a rejected or disabled stream.</summary>
    public bool IsDisabled => Port == 0;
    public bool RtcpMux => Attributes.Any(a => a.Kind == SdpAttributeKind.RtcpMux);
    public SdpDirection? Direction => Attributes.Select(a => a.Direction).LastOrDefault(d => d is not null);
}

/// <summary>
/// A parsed SDP body that keeps every byte: each line's exact content and terminator (CRLF, LF, mixed or none
/// at the end), so a rewrite touches only what it changes. Lines it does not understand are kept as they are.
/// </summary>
public sealed class SdpBody
{
    public const int DefaultMaxLength = 65_535;

    private SdpBody(ReadOnlyMemory<byte> bytes, IReadOnlyList<SdpLine> lines, SdpSession session, IReadOnlyList<SdpMedia> medias)
    {
        Bytes = bytes;
        Lines = lines;
        Session = session;
        Medias = medias;
    }

    public ReadOnlyMemory<byte> Bytes { get; }
    public IReadOnlyList<SdpLine> Lines { get; }
    public SdpSession Session { get; }
    public IReadOnlyList<SdpMedia> Medias { get; }

    public ReadOnlySpan<byte> Content(int line) => Bytes.Span.Slice(Lines[line].Start, Lines[line].Length);
    public ReadOnlySpan<byte> Terminator(int line) => Bytes.Span.Slice(Lines[line].End, Lines[line].TerminatorLength);

    /// <summary>The line's type letter ('v', 'o', 'c', 'm', 'a', ...) or '\0' for a line that is not "x=...".</summary>
    public char Type(int line)
    {
        var content = Content(line);
        return content.Length >= 2 && content[1] == (byte)'=' ? (char)content[0] : '\0';
    }

    /// <summary>The media section (or -1 for the session part) line <paramref name="line"/> belongs to.</summary>
    public int SectionOf(int line)
    {
        for (var i = Medias.Count - 1; i >= 0; i--)
            if (line >= Medias[i].FirstLine) return i;
        return -1;
    }

    public static SdpBody Parse(ReadOnlyMemory<byte> sdp, int maxLength = DefaultMaxLength)
    {
        if (sdp.Length > maxLength) throw new SdpException($"SDP of {sdp.Length} bytes exceeds the limit of {maxLength}");
        var lines = SplitLines(sdp.Span);
        if (lines.Count == 0) throw new SdpException("empty SDP");
        var parser = new Parser(sdp, lines);
        if (parser.Type(0) != 'v') throw new SdpException("SDP does not start with a v= line");
        return parser.Parse();
    }

    private static List<SdpLine> SplitLines(ReadOnlySpan<byte> span)
    {
        var lines = new List<SdpLine>();
        var start = 0;
        while (start < span.Length)
        {
            var lf = span[start..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                lines.Add(new SdpLine(start, span.Length - start, 0));
                break;
            }
            var end = start + lf;
            var cr = end > start && span[end - 1] == (byte)'\r' ? 1 : 0;
            lines.Add(new SdpLine(start, end - cr - start, cr + 1));
            start = end + 1;
        }
        return lines;
    }

    private sealed class Parser(ReadOnlyMemory<byte> bytes, List<SdpLine> lines)
    {
        public char Type(int line) =>
            lines[line].Length >= 2 && bytes.Span[lines[line].Start + 1] == (byte)'=' ? (char)bytes.Span[lines[line].Start] : '\0';

        private string Text(SdpSpan span) => BValue.Latin1.GetString(bytes.Span.Slice(span.Start, span.Length));

        public SdpBody Parse()
        {
            var firstMedia = Enumerable.Range(0, lines.Count).FirstOrDefault(i => Type(i) == 'm', lines.Count);
            SdpOrigin? origin = null;
            SdpAddressField? connection = null;
            var attributes = new List<SdpAttribute>();
            for (var i = 0; i < firstMedia; i++)
            {
                switch (Type(i))
                {
                    case 'o': origin = ParseOrigin(i); break;
                    case 'c': connection = ParseConnection(i); break;
                    case 'a': attributes.Add(ParseAttribute(i)); break;
                }
            }
            var medias = new List<SdpMedia>();
            var first = firstMedia;
            while (first < lines.Count)
            {
                var end = first + 1;
                while (end < lines.Count && Type(end) != 'm') end++;
                medias.Add(ParseMedia(medias.Count, first, end));
                first = end;
            }
            return new SdpBody(bytes, lines, new SdpSession(origin, connection, attributes), medias);
        }

        private SdpMedia ParseMedia(int index, int first, int end)
        {
            var tokens = Tokens(first);
            if (tokens.Count < 3) throw new SdpException($"malformed m= line {first + 1}");
            var portText = Text(tokens[1]);
            var slash = portText.IndexOf('/');
            var portSpan = slash < 0 ? tokens[1] : new SdpSpan(tokens[1].Start, slash);
            var port = Number(slash < 0 ? portText : portText[..slash], 65535) ?? throw new SdpException($"bad port in m= line {first + 1}");
            int? count = slash < 0 ? null : Number(portText[(slash + 1)..], 65535) is { } c and > 0 ? c : throw new SdpException($"bad port count in m= line {first + 1}");
            SdpAddressField? connection = null;
            var attributes = new List<SdpAttribute>();
            var rtcp = new List<SdpRtcp>();
            var rtpmaps = new List<SdpRtpmap>();
            for (var i = first + 1; i < end; i++)
            {
                if (Type(i) == 'c') connection = ParseConnection(i);
                if (Type(i) != 'a') continue;
                var attribute = ParseAttribute(i);
                attributes.Add(attribute);
                if (attribute.Kind == SdpAttributeKind.Rtcp) rtcp.Add(ParseRtcp(i));
                if (attribute.Kind == SdpAttributeKind.Rtpmap && ParseRtpmap(i, attribute.Value) is { } map) rtpmaps.Add(map);
            }
            return new SdpMedia(index, first, end, Text(tokens[0]), port, portSpan, count, Text(tokens[2]),
                tokens.Skip(3).Select(Text).ToArray(), connection, attributes, rtcp, rtpmaps);
        }

        private SdpOrigin ParseOrigin(int line)
        {
            var t = Tokens(line);
            if (t.Count != 6) throw new SdpException($"malformed o= line {line + 1}");
            return new SdpOrigin(line, Text(t[0]), Text(t[1]), Text(t[2]), Address(line, t[4], t[5]));
        }

        private SdpAddressField ParseConnection(int line)
        {
            var t = Tokens(line);
            if (t.Count != 3) throw new SdpException($"malformed c= line {line + 1}");
            return Address(line, t[1], t[2]);
        }

        private SdpRtcp ParseRtcp(int line)
        {
            var content = lines[line];
            var valueStart = content.Start + "a=rtcp:".Length;
            var t = Tokens(line, valueStart);
            var port = t.Count is 1 or 4 ? Number(Text(t[0]), 65535) : null;
            if (port is null) throw new SdpException($"malformed a=rtcp line {line + 1}");
            return new SdpRtcp(line, port.Value, t[0], t.Count == 4 ? Address(line, t[2], t[3]) : null);
        }

        private SdpRtpmap? ParseRtpmap(int line, string? value)
        {
            // "<payload type> <encoding>/<clock rate>[/<parameters>]"; a malformed one is kept as an opaque attribute
            var parts = value?.Split(' ', 2);
            if (parts is not { Length: 2 } || Number(parts[0], 127) is not { } pt) return null;
            var codec = parts[1].Trim().Split('/', 3);
            if (codec.Length < 2 || Number(codec[1], int.MaxValue) is not { } rate) return null;
            return new SdpRtpmap(line, pt, codec[0], rate, codec.Length == 3 ? codec[2] : null);
        }

        private SdpAttribute ParseAttribute(int line)
        {
            var text = Text(new SdpSpan(lines[line].Start + 2, lines[line].Length - 2));
            var colon = text.IndexOf(':');
            var name = colon < 0 ? text : text[..colon];
            var value = colon < 0 ? null : text[(colon + 1)..];
            var kind = name switch
            {
                "rtcp" => SdpAttributeKind.Rtcp,
                "rtcp-mux" => SdpAttributeKind.RtcpMux,
                "rtpmap" => SdpAttributeKind.Rtpmap,
                "sendrecv" => SdpAttributeKind.SendRecv,
                "sendonly" => SdpAttributeKind.SendOnly,
                "recvonly" => SdpAttributeKind.RecvOnly,
                "inactive" => SdpAttributeKind.Inactive,
                "candidate" => SdpAttributeKind.Candidate,
                "remote-candidates" => SdpAttributeKind.RemoteCandidates,
                "ice-ufrag" => SdpAttributeKind.IceUfrag,
                "ice-pwd" => SdpAttributeKind.IcePwd,
                "ice-options" => SdpAttributeKind.IceOptions,
                "ice-lite" => SdpAttributeKind.IceLite,
                "ice-mismatch" => SdpAttributeKind.IceMismatch,
                "ice-pacing" => SdpAttributeKind.IcePacing,
                "end-of-candidates" => SdpAttributeKind.EndOfCandidates,
                _ => SdpAttributeKind.Other,
            };
            return new SdpAttribute(line, name, value, kind);
        }

        private SdpAddressField Address(int line, SdpSpan addrType, SdpSpan address)
        {
            var text = Text(address);
            var slash = text.IndexOf('/');
            return new SdpAddressField(line, Text(addrType), slash < 0 ? text : text[..slash], addrType, address);
        }

        // Space-separated fields after "x=" (or from a given offset), as byte ranges of the body.
        private List<SdpSpan> Tokens(int line, int? from = null)
        {
            var span = bytes.Span;
            var tokens = new List<SdpSpan>();
            var i = from ?? lines[line].Start + 2;
            var end = lines[line].End;
            while (i < end)
            {
                while (i < end && span[i] == (byte)' ') i++;
                var start = i;
                while (i < end && span[i] != (byte)' ') i++;
                if (i > start) tokens.Add(new SdpSpan(start, i - start));
            }
            return tokens;
        }

        private static int? Number(string text, int max)
        {
            if (text.Length is 0 or > 10) return null;
            long value = 0;
            foreach (var c in text)
            {
                if (c is < '0' or > '9') return null;
                value = value * 10 + (c - '0');
            }
            return value <= max ? (int)value : null;
        }
    }

    /// <summary>The family token for an address ("IP4" / "IP6").</summary>
    internal static string AddrTypeOf(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? "IP6" : "IP4";
}
