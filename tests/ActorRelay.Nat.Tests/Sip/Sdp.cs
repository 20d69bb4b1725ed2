using System.Globalization;
using System.Net;
using System.Text;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>One m= line of a session description: where its RTP goes and in which direction.</summary>
public sealed record SdpMedia(string Kind, IPAddress Address, int Port, string Protocol, IReadOnlyList<string> Formats, string Direction,
    int? RtcpPort = null)
{
    public IPEndPoint RtpEndPoint => new(Address, Port);
    /// <summary>a=rtcp (RFC 3605) when present, else the next port (RFC 3550).</summary>
    public IPEndPoint RtcpEndPoint => new(Address, RtcpPort ?? Port + 1);
}

/// <summary>
/// The part of SDP (RFC 4566) the user agent needs: it writes offers and answers with one audio stream
/// (PCMU/8000, 20 ms) and optionally one video stream, and reads, from what the other side (in this lab: the
/// relay) wrote, each stream's connection address (media level over session level), port and direction.
/// <see cref="Parse"/> throws nothing but <see cref="SipParseException"/>.
/// </summary>
public static class Sdp
{
    public static string Write(IPAddress address, ulong sessionId, ulong version, int audioPort, int? videoPort = null,
        string direction = "sendrecv")
    {
        var sb = new StringBuilder();
        sb.Append("v=0\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"o=- {sessionId} {version} IN IP4 {address}\r\n");
        sb.Append("s=-\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"c=IN IP4 {address}\r\n");
        sb.Append("t=0 0\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"m=audio {audioPort} RTP/AVP 0\r\n");
        sb.Append("a=rtpmap:0 PCMU/8000\r\n");
        sb.Append("a=ptime:20\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"a={direction}\r\n");
        if (videoPort is { } vp)
        {
            sb.Append(CultureInfo.InvariantCulture, $"m=video {vp} RTP/AVP 96\r\n");
            sb.Append("a=rtpmap:96 H264/90000\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a={direction}\r\n");
        }
        return sb.ToString();
    }

    public static IReadOnlyList<SdpMedia> Parse(string sdp)
    {
        if (sdp.Length == 0) throw new SipParseException("empty SDP");
        IPAddress? session = null;
        var sessionDirection = "sendrecv";
        var media = new List<(string Kind, int Port, string Proto, string[] Formats, IPAddress? Address, string? Direction, int? Rtcp)>();
        foreach (var raw in sdp.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length < 2 || line[1] != '=') continue;
            var value = line[2..];
            switch (line[0])
            {
                case 'c':
                    var address = ParseConnection(value);
                    if (media.Count == 0) session = address;
                    else media[^1] = media[^1] with { Address = address };
                    break;
                case 'm':
                    var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length < 4) throw new SipParseException($"bad m= line '{line}'");
                    var portText = parts[1].Split('/')[0];
                    if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                        throw new SipParseException($"bad port in '{line}'");
                    media.Add((parts[0], port, parts[2], parts[3..], null, null, null));
                    break;
                case 'a' when value.StartsWith("rtcp:", StringComparison.Ordinal) && media.Count > 0:
                    var rtcpText = value[5..].Split(' ')[0];
                    if (!int.TryParse(rtcpText, NumberStyles.None, CultureInfo.InvariantCulture, out var rtcp) || rtcp is < 1 or > 65535)
                        throw new SipParseException($"bad a=rtcp line '{line}'");
                    media[^1] = media[^1] with { Rtcp = rtcp };
                    break;
                case 'a' when value is "sendrecv" or "sendonly" or "recvonly" or "inactive":
                    if (media.Count == 0) sessionDirection = value;
                    else media[^1] = media[^1] with { Direction = value };
                    break;
            }
        }
        if (media.Count == 0) throw new SipParseException("SDP without an m= line");
        return media.Select(m => new SdpMedia(m.Kind,
            m.Address ?? session ?? throw new SipParseException($"no c= line for the {m.Kind} stream"),
            m.Port, m.Proto, m.Formats, m.Direction ?? sessionDirection, m.Rtcp)).ToList();
    }

    private static IPAddress ParseConnection(string value)
    {
        var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3 || parts[0] != "IN") throw new SipParseException($"bad c= line 'c={value}'");
        var host = parts[2].Split('/')[0];
        return IPAddress.TryParse(host, out var ip) ? ip : throw new SipParseException($"c= address '{host}' is not an IP address");
    }
}
