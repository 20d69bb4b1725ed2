using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Latching;

/// <summary>
/// An expected source: an address prefix and optionally a port, e.g. "198.51.100.7", "198.51.100.0/24",
/// "198.51.100.7:4000", "2001:db8::/32", "[2001:db8::1]:4000". Only a matching source may latch.
/// </summary>
public sealed record SourceFilter(UInt128 Prefix, int PrefixLength, ushort? Port, string Text)
{
    public bool Matches(in PacketSource source)
    {
        if (Port is { } p && source.Port != p) return false;
        if (PrefixLength == 0) return true;
        var mask = UInt128.MaxValue << (128 - PrefixLength);
        return (source.Address & mask) == Prefix;
    }

    public override string ToString() => Text;

    public static bool TryParse(string? text, out SourceFilter? filter, out string error)
    {
        filter = null;
        error = "";
        if (string.IsNullOrWhiteSpace(text)) { error = "expected source is empty"; return false; }
        var t = text.Trim();
        ushort? port = null;
        int? length = null;
        var slash = t.IndexOf('/');
        if (slash >= 0)
        {
            if (!int.TryParse(t[(slash + 1)..], out var l)) { error = $"bad prefix length in \"{text}\""; return false; }
            length = l;
            t = t[..slash];
        }
        if (t.StartsWith('['))
        {
            var close = t.IndexOf(']');
            if (close < 0) { error = $"missing ] in \"{text}\""; return false; }
            if (close + 1 < t.Length)
            {
                if (t[close + 1] != ':' || !ushort.TryParse(t[(close + 2)..], out var bp) || bp == 0) { error = $"bad port in \"{text}\""; return false; }
                port = bp;
            }
            t = t[1..close];
        }
        else if (t.Count(c => c == ':') == 1)
        {
            var colon = t.IndexOf(':');
            if (!ushort.TryParse(t[(colon + 1)..], out var p4) || p4 == 0) { error = $"bad port in \"{text}\""; return false; }
            port = p4;
            t = t[..colon];
        }
        if (!IPAddress.TryParse(t, out var address)) { error = $"not an IP address: \"{text}\""; return false; }
        var isV4 = address.AddressFamily == AddressFamily.InterNetwork;
        var max = isV4 ? 32 : 128;
        var len = length ?? max;
        if (len < 0 || len > max) { error = $"prefix length must be 0..{max} in \"{text}\""; return false; }
        if (port is not null && slash >= 0 && len != max) { /* a port with a prefix is allowed: any host of the prefix, that port */ }
        var bits = PacketSource.From(new IPEndPoint(address, 0)).Address;
        var full = isV4 ? 96 + len : len;
        var mask = full == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - full);
        filter = new SourceFilter(bits & mask, full, port, text.Trim());
        return true;
    }
}
