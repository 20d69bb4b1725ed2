using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// The test's own NG control client (loopback UDP): asks the relay under test what it knows (ping, query,
/// list). Each command is retransmitted with the same cookie until its reply arrives or the deadline passes.
/// Thread-safe: commands from concurrent tests steps take turns on the one socket.
/// </summary>
public sealed class NgClient(IPEndPoint relay) : IDisposable
{
    private readonly Socket _socket = Bound();

    private static Socket Bound()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.ReceiveTimeout = 1000;                                  // a safety net: reads follow a Poll that saw data
        return s;
    }

    public NgMessage Command(IReadOnlyDictionary<string, object> body, TimeSpan within)
    {
        lock (_socket) return CommandAlone(body, within);
    }

    private NgMessage CommandAlone(IReadOnlyDictionary<string, object> body, TimeSpan within)
    {
        var request = new NgMessage(Guid.NewGuid().ToString("N")[..12], body);
        var bytes = request.ToBytes();
        var buffer = new byte[65_535];
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            _socket.SendTo(bytes, relay);
            var retry = DateTime.UtcNow + TimeSpan.FromMilliseconds(500);
            while (DateTime.UtcNow < retry && DateTime.UtcNow < deadline)
            {
                var micros = (int)Math.Max(1000, (Min(retry, deadline) - DateTime.UtcNow).TotalMicroseconds);
                if (!_socket.Poll(micros, SelectMode.SelectRead)) continue;
                int n;
                try { n = _socket.Receive(buffer); }
                catch (SocketException) { continue; }          // ICMP: nobody listens (yet); or the safety net
                NgMessage reply;
                try { reply = NgMessage.Parse(buffer.AsSpan(0, n)); }
                catch (BencodeException) { continue; }
                if (reply.Cookie == request.Cookie) return reply;
            }
        }
        throw new TimeoutException($"no NG reply from {relay} to {Bencode.Render(body)} within {within.TotalSeconds:0.#} s");
    }

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;

    public bool Ping(TimeSpan within)
    {
        try { return Command(new Dictionary<string, object> { ["command"] = "ping" }, within).Str("result") == "pong"; }
        catch (TimeoutException) { return false; }
    }

    /// <summary>"query" for a call: the relay's reply (result "ok" while it knows the call, "error" after it forgot it).</summary>
    public NgMessage Query(string callId, TimeSpan within) =>
        Command(new Dictionary<string, object> { ["command"] = "query", ["call-id"] = callId }, within);

    /// <summary>"list": the call-ids the relay knows.</summary>
    public IReadOnlyList<string> List(TimeSpan within)
    {
        var reply = Command(new Dictionary<string, object> { ["command"] = "list", ["limit"] = 1000L }, within);
        return reply.Body.TryGetValue("calls", out var calls) && calls is List<object> list ? list.OfType<string>().ToList() : [];
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>One NG request the SIP proxy sent through the tap, with the relay's reply (null until it came).</summary>
public sealed record NgExchange(DateTime At, NgMessage Request, NgMessage? Reply)
{
    public string Command => Request.Str("command") ?? "?";
}

/// <summary>
/// A logging UDP proxy between the SIP proxy's NG client and the relay: the SIP proxy is pointed at the tap,
/// the tap forwards each datagram to the relay and each reply back to whoever sent the request with that cookie,
/// and keeps every exchange (decoded) so the tests can assert on what the SIP proxy asked and show it.
/// </summary>
public sealed class NgTap : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _relay;
    private readonly Thread _thread;
    private readonly ConcurrentDictionary<string, IPEndPoint> _askers = new();
    private readonly ConcurrentDictionary<string, int> _index = new();
    private readonly List<NgExchange> _exchanges = new();
    private volatile bool _stop;

    public NgTap(IPEndPoint relay)
    {
        _relay = relay;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Address = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Run) { IsBackground = true, Name = "ng tap" };
        _thread.Start();
    }

    public IPEndPoint Address { get; }

    public IReadOnlyList<NgExchange> Exchanges { get { lock (_exchanges) return _exchanges.ToList(); } }

    private void Run()
    {
        var buffer = new byte[65_535];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop)
        {
            int n;
            try
            {
                if (!_socket.Poll(20_000, SelectMode.SelectRead)) continue;
                n = _socket.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException) { continue; }
            catch (ObjectDisposedException) { return; }
            var source = (IPEndPoint)from;
            var datagram = buffer.AsSpan(0, n);
            NgMessage? msg = null;
            try { msg = NgMessage.Parse(datagram); }
            catch (BencodeException) { }
            if (source.Equals(_relay))
            {
                if (msg is null || !_askers.TryGetValue(msg.Cookie, out var asker)) continue;
                lock (_exchanges)
                    if (_index.TryGetValue(msg.Cookie, out var i) && _exchanges[i].Reply is null)
                        _exchanges[i] = _exchanges[i] with { Reply = msg };
                Forward(datagram, asker);
            }
            else
            {
                if (msg is not null)
                {
                    _askers[msg.Cookie] = source;
                    lock (_exchanges)
                        if (!_index.ContainsKey(msg.Cookie))          // a retransmission is the same exchange
                        {
                            _index[msg.Cookie] = _exchanges.Count;
                            _exchanges.Add(new NgExchange(DateTime.UtcNow, msg, null));
                        }
                }
                Forward(datagram, _relay);
            }
        }
    }

    private void Forward(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        try { _socket.SendTo(datagram, to); }
        catch (SocketException) { }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }
}
