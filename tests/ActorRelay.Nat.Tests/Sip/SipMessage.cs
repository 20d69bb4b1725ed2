using System.Globalization;
using System.Net;
using System.Text;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>A datagram that is not a SIP message this user agent can use.</summary>
public sealed class SipParseException(string message) : Exception(message);

/// <summary>
/// A SIP request or response (RFC 3261) as far as a scripted UDP user agent needs one: start line, headers in
/// order (compact names expanded), body by Content-Length. <see cref="Parse"/> reads untrusted datagrams and
/// throws nothing but <see cref="SipParseException"/>; <see cref="ToBytes"/> writes Content-Length itself.
/// </summary>
public sealed class SipMessage
{
    public const int MaxDatagram = 65_535;
    public const int MaxHeaders = 256;

    private static readonly Dictionary<string, string> Compact = new(StringComparer.OrdinalIgnoreCase)
    {
        ["i"] = "Call-ID", ["m"] = "Contact", ["e"] = "Content-Encoding", ["l"] = "Content-Length",
        ["c"] = "Content-Type", ["f"] = "From", ["s"] = "Subject", ["k"] = "Supported", ["t"] = "To", ["v"] = "Via",
    };

    /// <summary>Headers whose value may list several entries separated by commas.</summary>
    private static readonly HashSet<string> ListHeaders = new(StringComparer.OrdinalIgnoreCase)
        { "Via", "Route", "Record-Route", "Contact" };

    private SipMessage(string? method, string? uri, int status, string reason)
    {
        Method = method;
        RequestUri = uri;
        StatusCode = status;
        Reason = reason;
    }

    public string? Method { get; }
    public string? RequestUri { get; }
    public int StatusCode { get; }
    public string Reason { get; }
    public List<KeyValuePair<string, string>> Headers { get; } = new();
    public string Body { get; set; } = "";
    public bool IsRequest => Method is not null;

    public static SipMessage Request(string method, string uri) => new(method, uri, 0, "");
    public static SipMessage Response(int status, string reason) => new(null, null, status, reason);

    public SipMessage Add(string name, string value)
    {
        Headers.Add(new(name, value));
        return this;
    }

    /// <summary>The first value of a header (the first entry of a list header), or null.</summary>
    public string? this[string name] => Values(name).FirstOrDefault();

    /// <summary>Every value of a header in order, comma-separated list headers split into entries.</summary>
    public IEnumerable<string> Values(string name)
    {
        foreach (var (k, v) in Headers)
        {
            if (!k.Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
            if (ListHeaders.Contains(name)) foreach (var part in SplitList(v)) yield return part;
            else yield return v;
        }
    }

    public string CallId => this["Call-ID"] ?? throw new SipParseException("no Call-ID");

    /// <summary>CSeq number and method.</summary>
    public (uint Number, string Method) CSeq
    {
        get
        {
            var v = this["CSeq"] ?? throw new SipParseException("no CSeq");
            var parts = v.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                throw new SipParseException($"CSeq '{v}' does not parse");
            return (n, parts[1]);
        }
    }

    public string? FromTag => SipHeader.Param(this["From"] ?? throw new SipParseException("no From"), "tag");
    public string? ToTag => SipHeader.Param(this["To"] ?? throw new SipParseException("no To"), "tag");

    /// <summary>The branch of the top Via.</summary>
    public string TopBranch => SipHeader.Param(this["Via"] ?? throw new SipParseException("no Via"), "branch")
                               ?? throw new SipParseException("top Via has no branch");

    public byte[] ToBytes()
    {
        var body = Encoding.UTF8.GetBytes(Body);
        var sb = new StringBuilder();
        sb.Append(IsRequest ? $"{Method} {RequestUri} SIP/2.0\r\n" : $"SIP/2.0 {StatusCode} {Reason}\r\n");
        foreach (var (k, v) in Headers)
            if (!k.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) sb.Append(k).Append(": ").Append(v).Append("\r\n");
        sb.Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n");
        return [.. Encoding.UTF8.GetBytes(sb.ToString()), .. body];
    }

    public override string ToString() => Encoding.UTF8.GetString(ToBytes());

    /// <summary>The first line, for logs.</summary>
    public string StartLine => IsRequest ? $"{Method} {RequestUri}" : $"{StatusCode} {Reason}";

    public static SipMessage Parse(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > MaxDatagram) throw new SipParseException("datagram too large");
        var end = datagram.IndexOf("\r\n\r\n"u8);
        var sepLength = 4;
        if (end < 0)
        {
            end = datagram.IndexOf("\n\n"u8);
            sepLength = 2;
        }
        if (end < 0) throw new SipParseException("no end of headers");
        string head;
        try { head = Encoding.UTF8.GetString(datagram[..end]); }
        catch (ArgumentException) { throw new SipParseException("headers are not text"); }
        var lines = Unfold(head.Replace("\r\n", "\n").Split('\n'));
        if (lines.Count == 0) throw new SipParseException("empty message");

        var start = lines[0].Split(' ', 3);
        SipMessage msg;
        if (start[0] == "SIP/2.0")
        {
            if (start.Length < 2 || start[1].Length != 3 ||
                !int.TryParse(start[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code < 100)
                throw new SipParseException($"bad status line '{lines[0]}'");
            msg = Response(code, start.Length > 2 ? start[2] : "");
        }
        else
        {
            if (start.Length != 3 || start[2] != "SIP/2.0" || start[0].Length == 0 || start[1].Length == 0)
                throw new SipParseException($"bad request line '{lines[0]}'");
            msg = Request(start[0], start[1]);
        }

        if (lines.Count - 1 > MaxHeaders) throw new SipParseException("too many headers");
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon < 1) throw new SipParseException($"header line without a name: '{line}'");
            var name = line[..colon].Trim();
            if (Compact.TryGetValue(name, out var full)) name = full;
            msg.Headers.Add(new(name, line[(colon + 1)..].Trim()));
        }

        var body = datagram[(end + sepLength)..];
        var cl = msg["Content-Length"];
        if (cl is not null)
        {
            if (!int.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                throw new SipParseException($"Content-Length '{cl}' does not parse");
            if (length > body.Length) throw new SipParseException($"Content-Length {length} but {body.Length} bytes follow");
            body = body[..length];
        }
        try { msg.Body = Encoding.UTF8.GetString(body); }
        catch (ArgumentException) { throw new SipParseException("body is not text"); }
        return msg;
    }

    private static List<string> Unfold(string[] lines)
    {
        var result = new List<string>();
        foreach (var line in lines)
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && result.Count > 0)
                result[^1] += " " + line.Trim();
            else if (line.Length > 0)
                result.Add(line);
        }
        return result;
    }

    /// <summary>Splits a list header's value at commas outside quotes and angle brackets.</summary>
    public static IEnumerable<string> SplitList(string value)
    {
        var depth = 0;
        var quoted = false;
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '"' && (i == 0 || value[i - 1] != '\\')) quoted = !quoted;
            else if (!quoted && c == '<') depth++;
            else if (!quoted && c == '>' && depth > 0) depth--;
            else if (!quoted && depth == 0 && c == ',')
            {
                var part = value[start..i].Trim();
                if (part.Length > 0) yield return part;
                start = i + 1;
            }
        }
        var last = value[start..].Trim();
        if (last.Length > 0) yield return last;
    }
}

/// <summary>Pieces of header values: name-addr URIs, parameters, Via sent-by.</summary>
public static class SipHeader
{
    /// <summary>The URI of a name-addr or addr-spec ("Bob" &lt;sip:b@h&gt;;tag=1 gives sip:b@h).</summary>
    public static string Uri(string value)
    {
        var lt = value.IndexOf('<');
        if (lt >= 0)
        {
            var gt = value.IndexOf('>', lt + 1);
            if (gt < 0) throw new SipParseException($"'<' without '>' in '{value}'");
            return value[(lt + 1)..gt].Trim();
        }
        var semi = value.IndexOf(';');
        return (semi < 0 ? value : value[..semi]).Trim();
    }

    /// <summary>A header parameter (after the URI's closing '&gt;' when there is one), or null; a flag parameter gives "".</summary>
    public static string? Param(string value, string name)
    {
        var gt = value.LastIndexOf('>');
        var tail = gt >= 0 ? value[(gt + 1)..] : value;
        foreach (var part in tail.Split(';').Skip(1))
        {
            var eq = part.IndexOf('=');
            var key = (eq < 0 ? part : part[..eq]).Trim();
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase)) return eq < 0 ? "" : part[(eq + 1)..].Trim();
        }
        return null;
    }

    /// <summary>host:port of a SIP URI (default port 5060), for URIs whose host is an IPv4 literal.</summary>
    public static IPEndPoint UriEndPoint(string uri)
    {
        var s = uri;
        var colon = s.IndexOf(':');
        if (colon < 0) throw new SipParseException($"'{uri}' is not a SIP URI");
        s = s[(colon + 1)..];
        var at = s.IndexOf('@');
        if (at >= 0) s = s[(at + 1)..];
        var cut = s.IndexOfAny([';', '?', '>']);
        if (cut >= 0) s = s[..cut];
        var portAt = s.LastIndexOf(':');
        var host = portAt < 0 ? s : s[..portAt];
        var port = 5060;
        if (portAt >= 0 && !int.TryParse(s[(portAt + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port))
            throw new SipParseException($"bad port in '{uri}'");
        if (!IPAddress.TryParse(host, out var ip)) throw new SipParseException($"host of '{uri}' is not an IP address");
        if (port is < 1 or > 65535) throw new SipParseException($"bad port in '{uri}'");
        return new IPEndPoint(ip, port);
    }

    public static IPEndPoint? UriEndPointOrNull(string uri)
    {
        try { return UriEndPoint(uri); }
        catch (SipParseException) { return null; }
    }

    /// <summary>Adds a tag parameter to a From/To value that has none.</summary>
    public static string WithTag(string value, string tag) =>
        Param(value, "tag") is null ? $"{value};tag={tag}" : value;
}
