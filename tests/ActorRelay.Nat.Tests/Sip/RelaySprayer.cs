using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// The attacker beside the relay (in the lab's attacker namespace): sends a well-formed RTP stream (one SSRC,
/// consecutive sequence numbers) to every port of the relay's media range, round after round, and counts every
/// datagram that comes back. Bounded: it stops by itself after <see cref="MaxDuration"/>.
/// </summary>
public sealed class RelaySprayer : IDisposable
{
    public const uint Ssrc = 0xBAD0BAD0;
    public static readonly TimeSpan MaxDuration = TimeSpan.FromSeconds(60);
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _spray, _listen;
    private readonly int _portMin, _portMax;
    private long _sent, _bled, _rounds;

    public RelaySprayer(NatLab lab, int portMin, int portMax)
    {
        _portMin = portMin;
        _portMax = portMax;
        _socket = NatLab.SocketIn(lab.Attacker, new IPEndPoint(NatLab.AttackerAddress, 0));
        _spray = new Thread(Spray) { IsBackground = true, Name = "attacker spray" };
        _listen = new Thread(Listen) { IsBackground = true, Name = "attacker listen" };
        _spray.Start();
        _listen.Start();
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long Bled => Interlocked.Read(ref _bled);
    /// <summary>Complete passes over the whole range.</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    private void Spray()
    {
        var packet = new byte[RtpPacket.Size];
        ushort seq = 1;
        var until = DateTime.UtcNow + MaxDuration;
        while (!_stop.IsCancellationRequested && DateTime.UtcNow < until)
        {
            RtpPacket.Write(packet, seq++, Ssrc);
            for (var port = _portMin; port <= _portMax; port++)
            {
                try { _socket.SendTo(packet, new IPEndPoint(NatLab.RelayAddress, port)); Interlocked.Increment(ref _sent); }
                catch (SocketException) { }                     // ICMP from a closed port, reported on a later send
            }
            Interlocked.Increment(ref _rounds);
            // one packet per port every 20 ms, like the media it competes with: ~10,000 packets/s over 200 ports
            _stop.Token.WaitHandle.WaitOne(20);
        }
    }

    /// <summary>Where what the attacker received came from (relay port), with the SSRC it carried, and how many.</summary>
    public IReadOnlyDictionary<string, int> BledFrom { get { lock (_from) return new Dictionary<string, int>(_from); } }

    private readonly Dictionary<string, int> _from = new();

    private void Listen()
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (!_socket.Poll(20_000, SelectMode.SelectRead)) continue;
                var n = _socket.ReceiveFrom(buffer, ref from);
                Interlocked.Increment(ref _bled);
                var ssrc = n >= 12 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(8)) : 0;
                var key = $"{from} ssrc {ssrc:x8}";
                lock (_from)
                    if (_from.Count < 64 || _from.ContainsKey(key)) _from[key] = _from.GetValueOrDefault(key) + 1;
            }
            catch (SocketException) { }
            catch (ObjectDisposedException) { return; }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _spray.Join(TimeSpan.FromSeconds(2));
        _listen.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }
}
