using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// Everything one SIP test runs on, built in order and removed in reverse on Dispose (also after a failure):
/// the NAT lab, the relay under test, an <see cref="NgTap"/> in front of its NG address, Kamailio pointed at the
/// tap, and the user agents (A side behind NAT A, B side behind NAT B, each with its own SIP port and media
/// sockets). <see cref="Report"/> gathers what a failed test should show.
/// </summary>
public sealed class SipRig : IDisposable
{
    private readonly ConcurrentQueue<string> _events = new();
    private readonly List<SipUserAgent> _agents = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _nextPortA = 5100, _nextPortB = 5200, _nextMediaA = 40000, _nextMediaB = 40000;

    private SipRig(NatLab lab, IMediaRelayUnderTest relay)
    {
        Lab = lab;
        Relay = relay;
    }

    public NatLab Lab { get; }
    public IMediaRelayUnderTest Relay { get; }
    public NgTap Tap { get; private set; } = null!;
    public KamailioProxy Kamailio { get; private set; } = null!;
    public NgClient Ng { get; private set; } = null!;

    /// <summary>Builds the rig; <paramref name="configure"/> sets the Kamailio options (flags) from the NG socket it must use.</summary>
    public static SipRig Start(IMediaRelayUnderTest relay, Func<string, KamailioOptions> configure)
    {
        ManagedProcess.SweepStale();
        NatLab.SweepStale();
        var lab = new NatLab();
        var rig = new SipRig(lab, relay);
        try
        {
            relay.Start(lab);
            rig.Ng = new NgClient(relay.NgAddress);
            rig.Tap = new NgTap(relay.NgAddress);
            rig.Kamailio = KamailioProxy.Start(configure($"udp:{rig.Tap.Address}"));
            rig.Note($"rig up: relay {relay.Name} NG {relay.NgAddress} (tap {rig.Tap.Address}), kamailio {rig.Kamailio.Address}");
            return rig;
        }
        catch
        {
            rig.Dispose();
            throw;
        }
    }

    /// <summary>What the rig and its user agents noted so far, in order.</summary>
    public IReadOnlyList<string> Events => _events.ToList();

    public void Note(string line) => _events.Enqueue($"{_clock.Elapsed.TotalSeconds,7:0.000} {line}");

    /// <summary>A user agent behind NAT A (side A) or NAT B, with its own SIP port.</summary>
    public SipUserAgent Agent(char side, string user)
    {
        var (ns, address) = side == 'A' ? (Lab.ClientA, NatLab.ClientAAddress) : (Lab.ClientB, NatLab.ClientBAddress);
        var port = side == 'A' ? _nextPortA++ : _nextPortB++;
        var socket = NatLab.SocketIn(ns, new IPEndPoint(address, port));
        var agent = new SipUserAgent(user, socket, Kamailio.Address, () => MediaPair(side, ns, address), Note);
        lock (_agents) _agents.Add(agent);
        return agent;
    }

    /// <summary>An even RTP port and the next one for RTCP, inside <paramref name="ns"/>; each side counts up from 40000.</summary>
    private MediaSockets MediaPair(char side, string ns, IPAddress address)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            int port;
            lock (_agents)
            {
                port = side == 'A' ? _nextMediaA : _nextMediaB;
                if (side == 'A') _nextMediaA += 2; else _nextMediaB += 2;
            }
            Socket? rtp = null;
            try
            {
                rtp = NatLab.SocketIn(ns, new IPEndPoint(address, port));
                return new MediaSockets(rtp, NatLab.SocketIn(ns, new IPEndPoint(address, port + 1)));
            }
            catch (InvalidOperationException e) when (e.InnerException is SocketException)
            {
                rtp?.Dispose();                                   // taken (by an ephemeral port): the next pair
            }
        }
        throw new InvalidOperationException($"no free media port pair in {ns}");
    }

    /// <summary>The user agents' events, the NG exchanges, the relay's and Kamailio's logs (last lines of each).</summary>
    public string Report(int lines = 400, int maxString = 60)
    {
        var sb = new StringBuilder();
        Section(sb, "user agents", _events, lines);
        Section(sb, "NG exchanges (through the tap)", Tap?.Exchanges.Select(e =>
            $"{Render(e.Request, maxString)}\n   => {(e.Reply is null ? "(no reply)" : Render(e.Reply, maxString))}") ?? [], lines);
        Section(sb, $"relay ({Relay.Name}) log", Relay.Log.Split('\n'), lines);
        Section(sb, "kamailio log", Kamailio?.Log.Split('\n') ?? [], lines);
        return sb.ToString();
    }

    private static string Render(NgMessage m, int maxString) => $"{m.Cookie} {Bencode.Render(m.Body, maxString)}";

    private static void Section(StringBuilder sb, string title, IEnumerable<string> lines, int last)
    {
        var all = lines.ToList();
        sb.Append("---- ").Append(title).Append(all.Count > last ? $" (last {last} of {all.Count})" : "").Append(" ----\n");
        foreach (var line in all.Skip(Math.Max(0, all.Count - last))) sb.Append(line).Append('\n');
    }

    public void Dispose()
    {
        lock (_agents) foreach (var a in _agents) a.Dispose();
        Kamailio?.Dispose();
        Tap?.Dispose();
        Ng?.Dispose();
        Relay.Dispose();
        Lab.Dispose();
    }
}
