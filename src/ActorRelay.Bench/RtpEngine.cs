using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ActorRelay.Bench;

/// <summary>
/// Debian's rtpengine in userspace (no kernel forwarding), driven through its NG control protocol: bencoded
/// dictionaries over UDP with a cookie. Per channel one call: an offer carrying client A's address (the reply's SDP
/// names the port client B sends to) and an answer carrying client B's (the reply names the port for client A).
/// </summary>
internal sealed class RtpEngine(int clientPortMin, int ngPort) : RelayUnderTest
{
    public const string Binary = "/usr/bin/rtpengine";
    private static readonly Regex AudioPort = new(@"m=audio (\d+) ", RegexOptions.Compiled);
    private readonly Socket _ng = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
    private int _cookie;

    public override string Name => "rtpengine";

    public static bool Installed => File.Exists(Binary);

    public override async Task<IReadOnlyList<(int Left, int Right)>> StartAsync(int channels)
    {
        Process = LaunchUnready(Binary, ["--foreground", "--interface=127.0.0.1", $"--listen-ng=127.0.0.1:{ngPort}",
            "--port-min=28000", "--port-max=31999", "--table=-1", "--no-fallback", "--log-stderr", "--log-level=3",
            "--config-file=none", "--timeout=600", "--silent-timeout=600"]);
        _ng.Connect(new IPEndPoint(IPAddress.Loopback, ngPort));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try { if (Request(new() { ["command"] = "ping" }).Contains("pong")) break; }
            catch (SocketException) when (DateTime.UtcNow < deadline) { await Task.Delay(100); }
        }
        var list = new List<(int, int)>();
        for (var i = 0; i < channels; i++)
        {
            var callId = $"bench-{i}";
            var offer = Request(new() { ["command"] = "offer", ["call-id"] = callId, ["from-tag"] = "a", ["sdp"] = Sdp(clientPortMin + 2 * i) });
            var answer = Request(new() { ["command"] = "answer", ["call-id"] = callId, ["from-tag"] = "a", ["to-tag"] = "b", ["sdp"] = Sdp(clientPortMin + 2 * i + 1) });
            list.Add((PortIn(answer), PortIn(offer)));
        }
        return list;
    }

    private static string Sdp(int port) =>
        $"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n";

    private static int PortIn(string reply)
    {
        var m = AudioPort.Match(reply);
        return m.Success ? int.Parse(m.Groups[1].Value) : throw new InvalidOperationException($"rtpengine refused: {reply}");
    }

    private string Request(SortedDictionary<string, string> message)
    {
        var cookie = $"c{++_cookie} ";
        _ng.Send(Encoding.ASCII.GetBytes(cookie + Bencode(message)));
        var buffer = new byte[65536];
        while (true)
        {
            var n = _ng.Receive(buffer);
            var reply = Encoding.ASCII.GetString(buffer, 0, n);
            if (reply.StartsWith(cookie, StringComparison.Ordinal)) return reply[cookie.Length..];
        }
    }

    /// <summary>A dictionary of strings, keys sorted, in bencode.</summary>
    public static string Bencode(SortedDictionary<string, string> d)
    {
        var sb = new StringBuilder("d");
        foreach (var (k, v) in d)
            sb.Append(Encoding.ASCII.GetByteCount(k)).Append(':').Append(k).Append(Encoding.ASCII.GetByteCount(v)).Append(':').Append(v);
        return sb.Append('e').ToString();
    }

    public override async ValueTask DisposeAsync()
    {
        _ng.Dispose();
        await base.DisposeAsync();
    }
}
