using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>What one end of a stream has sent and heard so far.</summary>
public readonly record struct RtpCounts(long Sent, long Received, long Lost, long Duplicates, long Foreign)
{
    public static RtpCounts operator -(RtpCounts a, RtpCounts b) =>
        new(a.Sent - b.Sent, a.Received - b.Received, a.Lost - b.Lost, a.Duplicates - b.Duplicates, a.Foreign - b.Foreign);

    public override string ToString() => $"sent {Sent}, received {Received}, lost {Lost}, dup {Duplicates}, foreign {Foreign}";
}

/// <summary>
/// The test's RTP packets: a 12-byte header and 160 bytes of payload (PCMU, 20 ms) whose first eight bytes repeat
/// the sender's SSRC and the packet's sequence number, so a receiver can tell its peer's packets from anything
/// else (an attacker's, another call's) even if a relay rewrote the header.
/// </summary>
public static class RtpPacket
{
    public const int Size = 172;

    public static void Write(Span<byte> packet, ushort seq, uint ssrc, byte payloadType = 0)
    {
        packet[..Size].Clear();
        packet[0] = 0x80;
        packet[1] = payloadType;
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(packet[4..], seq * 160u);
        BinaryPrimitives.WriteUInt32BigEndian(packet[8..], ssrc);
        BinaryPrimitives.WriteUInt32BigEndian(packet[12..], ssrc);
        BinaryPrimitives.WriteUInt32BigEndian(packet[16..], seq);
        packet[20..Size].Fill(0xFF);                                  // PCMU silence
    }
}

/// <summary>
/// Counts one peer's RTP stream at a receiver: packets whose header and payload both carry the expected SSRC
/// are the peer's (received, with sequence tracking: lost, duplicates); everything else is foreign. Pure, for
/// one thread; reads only inside the datagram.
/// </summary>
public sealed class RtpReceiveCounter(uint peerSsrc)
{
    private readonly bool[] _seen = new bool[65536];
    private long _received, _duplicates, _foreign;
    private bool _started;
    private ushort _first;
    private long _highest;                  // extended sequence number, relative to the first packet

    public uint PeerSsrc { get; } = peerSsrc;

    public void Accept(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < 20 || (datagram[0] & 0xC0) != 0x80 ||
            BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]) != PeerSsrc ||
            BinaryPrimitives.ReadUInt32BigEndian(datagram[12..]) != PeerSsrc)
        {
            _foreign++;
            return;
        }
        var seq = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        if (!_started)
        {
            _started = true;
            _first = seq;
            _highest = 0;
        }
        // where this packet lies relative to the highest so far, within half the sequence space either way
        var ahead = (short)(ushort)(seq - (ushort)(_first + _highest));
        var extended = _highest + ahead;
        if (_seen[seq] && extended <= _highest)
        {
            _duplicates++;
            return;
        }
        _seen[seq] = true;
        _received++;
        if (extended > _highest)
        {
            // a stream that outran the bitmap's window forgets the sequence numbers it may meet again
            for (var s = _highest + 1; s < extended && s <= _highest + 65536; s++) _seen[(ushort)(_first + s)] = false;
            _highest = extended;
        }
    }

    /// <summary>Lost so far: the span of sequence numbers seen minus the packets received.</summary>
    public RtpCounts Counts(long sent) => new(sent, _received, _started ? Math.Max(0, _highest + 1 - _received) : 0, _duplicates, _foreign);
}

/// <summary>The two sockets of one stream end: RTP on an even port, RTCP on the next one (RFC 3550's default pairing).</summary>
public sealed record MediaSockets(Socket Rtp, Socket Rtcp) : IDisposable
{
    public int Port => ((IPEndPoint)Rtp.LocalEndPoint!).Port;

    public void Dispose()
    {
        Rtp.Dispose();
        Rtcp.Dispose();
    }
}

/// <summary>
/// One end of an RTP stream, inside a client's namespace: sends 50 packets/s with its own SSRC to where the
/// session description it received says (once <see cref="StartSending"/> was called), and an RTCP receiver report
/// from the next port at once and then every second, as phones do (a relay learns both of its ports from them);
/// counts what arrives from the expected peer, and anything else as foreign. One thread per stream; the sockets
/// can be swapped mid-call (a phone moving to new ports on a re-INVITE) and the destination changed.
/// </summary>
public sealed class RtpStream : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan RtcpInterval = TimeSpan.FromSeconds(1);
    private readonly object _gate = new();
    private readonly RtpReceiveCounter _counter;
    private readonly Thread _thread;
    private volatile bool _stop;
    private MediaSockets _sockets;
    private MediaSockets? _next;
    private IPEndPoint? _peer, _peerRtcp;
    private bool _sending;
    private long _sent, _rtcpSent, _rtcpReceived, _rtcpForeign;
    private ushort _seq;
    private DateTime _nextRtcp;

    public RtpStream(string name, MediaSockets sockets, uint ssrc, uint peerSsrc)
    {
        Name = name;
        _sockets = sockets;
        Ssrc = ssrc;
        _counter = new RtpReceiveCounter(peerSsrc);
        _seq = (ushort)Random.Shared.Next(0, 65536);
        _thread = new Thread(Run) { IsBackground = true, Name = $"rtp {name}" };
        _thread.Start();
    }

    public string Name { get; }
    public uint Ssrc { get; }
    public int LocalPort { get { lock (_gate) return (_next ?? _sockets).Port; } }
    public IPEndPoint? Peer { get { lock (_gate) return _peer; } }

    /// <summary>RTP counts; foreign includes RTCP that is not the peer's.</summary>
    public RtpCounts Counts { get { lock (_gate) { var c = _counter.Counts(_sent); return c with { Foreign = c.Foreign + _rtcpForeign }; } } }

    /// <summary>RTCP packets sent, and received from the peer.</summary>
    public (long Sent, long Received) Rtcp { get { lock (_gate) return (_rtcpSent, _rtcpReceived); } }

    /// <summary>Where to send RTP and RTCP from now on (from the SDP this end received).</summary>
    public void SendTo(IPEndPoint rtp, IPEndPoint rtcp)
    {
        lock (_gate)
        {
            _peer = rtp;
            _peerRtcp = rtcp;
        }
    }

    public void StartSending()
    {
        lock (_gate)
        {
            if (!_sending) _nextRtcp = DateTime.UtcNow;
            _sending = true;
        }
    }

    public void StopSending() { lock (_gate) _sending = false; }

    /// <summary>Continues the stream from <paramref name="sockets"/> (same SSRC, next sequence number); the old ones close.</summary>
    public void MoveTo(MediaSockets sockets) { lock (_gate) _next = sockets; }

    private void Run()
    {
        var packet = new byte[RtpPacket.Size];
        var rtcp = new byte[8];
        var buffer = new byte[2048];
        var nextSend = DateTime.UtcNow;
        var ready = new List<Socket>(2);
        while (!_stop)
        {
            MediaSockets sockets;
            lock (_gate)
            {
                if (_next is not null)
                {
                    _sockets.Dispose();
                    _sockets = _next;
                    _next = null;
                    _nextRtcp = DateTime.UtcNow;
                }
                sockets = _sockets;
                var now = DateTime.UtcNow;
                if (_sending && _peer is not null && now >= nextSend)
                {
                    RtpPacket.Write(packet, _seq++, Ssrc);
                    try { sockets.Rtp.SendTo(packet, _peer); }
                    catch (SocketException) { }                   // an ICMP error from an earlier packet; this one still counts
                    _sent++;
                    nextSend += Interval;
                    if (nextSend < now - Interval) nextSend = now + Interval; // fell far behind (a stalled machine): no burst
                }
                else if (!_sending) nextSend = now;
                if (_sending && _peer is not null && now >= _nextRtcp)
                {
                    WriteReceiverReport(rtcp, Ssrc);
                    try { sockets.Rtcp.SendTo(rtcp, _peerRtcp!); }
                    catch (SocketException) { }
                    _rtcpSent++;
                    _nextRtcp = now + RtcpInterval;
                }
            }
            var wait = nextSend - DateTime.UtcNow;
            var micros = (int)Math.Clamp(wait.TotalMicroseconds, 1000, 20_000);
            try
            {
                ready.Clear();
                ready.Add(sockets.Rtp);
                ready.Add(sockets.Rtcp);
                Socket.Select(ready, null, null, micros);
                while (sockets.Rtp.Available > 0)
                {
                    var n = sockets.Rtp.Receive(buffer);
                    lock (_gate) _counter.Accept(buffer.AsSpan(0, n));
                }
                while (sockets.Rtcp.Available > 0)
                {
                    var n = sockets.Rtcp.Receive(buffer);
                    lock (_gate)
                    {
                        if (n >= 8 && buffer[1] is >= 200 and <= 204 && BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(4)) == _counter.PeerSsrc) _rtcpReceived++;
                        else _rtcpForeign++;
                    }
                }
            }
            catch (SocketException) { }                           // ICMP port unreachable reported on the socket
            catch (ObjectDisposedException) { }
        }
    }

    /// <summary>An RTCP receiver report without report blocks (RFC 3550 6.4.2): 8 bytes.</summary>
    public static void WriteReceiverReport(Span<byte> packet, uint ssrc)
    {
        packet[0] = 0x80;
        packet[1] = 201;
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(packet[4..], ssrc);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        lock (_gate)
        {
            _sockets.Dispose();
            _next?.Dispose();
        }
    }

    public override string ToString() => $"{Name} ssrc {Ssrc:x8}: {Counts}";
}
