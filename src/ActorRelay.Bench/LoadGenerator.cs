using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HdrHistogram;

namespace ActorRelay.Bench;

/// <summary>What one measured window delivered.</summary>
internal sealed record StreamResult(
    int Channels, int PacketsPerSecondPerDirection, double Seconds,
    long Sent, long Received, long Reordered, double OfferedPps, double DeliveredPps, double LossPercent,
    double P50Ms, double P99Ms, double P999Ms, double MaxMs,
    double SendLagMaxMs, double SendLagP99Ms, bool GeneratorLimited);

/// <summary>
/// Two clients per channel, each one UDP socket that sends and receives on one port (as NATed clients do),
/// streaming RTP-like packets both ways at a fixed rate. Each packet carries a sequence number and the send
/// time; the receiver records one-way latency in an HdrHistogram. Sending and receiving allocate nothing.
/// </summary>
internal sealed class LoadGenerator : IDisposable
{
    private readonly Client[] _clients;
    private readonly int _size;
    private readonly LongHistogram _latency = new(TimeSpan.TicksPerSecond * 10, 3);
    private readonly LongHistogram _lag = new(TimeSpan.TicksPerSecond * 10, 3);
    private readonly object _gate = new();
    private volatile bool _recording;
    private long _received, _reordered;
    private readonly CancellationTokenSource _stop = new();

    public LoadGenerator(IReadOnlyList<(int Left, int Right)> channels, int clientPortMin, int size)
    {
        _size = Math.Max(size, 32);
        _clients = new Client[channels.Count * 2];
        for (var i = 0; i < channels.Count; i++)
        {
            _clients[2 * i] = new Client(clientPortMin + 2 * i, channels[i].Left, (uint)(2 * i + 1), _size);
            _clients[2 * i + 1] = new Client(clientPortMin + 2 * i + 1, channels[i].Right, (uint)(2 * i + 2), _size);
        }
        foreach (var c in _clients) _ = ReceiveLoop(c);
    }

    /// <summary>Latches every side: each client sends until its peer hears it (bounded).</summary>
    public void Latch()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var c in _clients) c.Send(Stopwatch.GetTimestamp());
            Thread.Sleep(50);
            if (_clients.All(c => Volatile.Read(ref c.Heard) > 0)) return;
        }
        throw new InvalidOperationException($"only {_clients.Count(c => c.Heard > 0)} of {_clients.Length} clients heard their peer");
    }

    /// <summary>
    /// Streams at <paramref name="pps"/> packets/s per client for <paramref name="seconds"/>, measuring the window after a
    /// warm-up. Clients are spread evenly over the packet interval (each has its own phase, as independent calls do),
    /// in 1 ms slots; the lag of each slot behind its schedule shows when the generator itself falls behind.
    /// </summary>
    public StreamResult Stream(int pps, double seconds, double warmupSeconds = 3)
    {
        var interval = Stopwatch.Frequency / pps;
        var slots = Math.Max(1, (int)(1000 / pps));           // 1 ms slots per interval (20 for 50 pps)
        var slotTicks = interval / slots;
        var perSlot = (_clients.Length + slots - 1) / slots;
        var start = Stopwatch.GetTimestamp();
        var warmEnd = start + (long)(warmupSeconds * Stopwatch.Frequency);
        var end = warmEnd + (long)(seconds * Stopwatch.Frequency);
        long sent = 0;
        var next = start;
        var slot = 0;
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (now >= end) break;
            if (now < next)
            {
                var ms = (next - now) * 1000 / Stopwatch.Frequency;
                if (ms >= 1) Thread.Sleep(1); else Thread.SpinWait(20);
                continue;
            }
            if (!_recording && now >= warmEnd) { Reset(); _recording = true; sent = 0; }
            if (_recording) lock (_gate) _lag.RecordValue(Math.Max(0, (now - next) * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
            var from = slot * perSlot;
            var to = Math.Min(_clients.Length, from + perSlot);
            for (var i = from; i < to; i++) _clients[i].Send(Stopwatch.GetTimestamp());
            if (_recording) sent += to - from;
            slot = (slot + 1) % slots;
            next += slotTicks;
        }
        // let the last packets arrive (a packet later than this counts as lost, as for a jitter buffer)
        Thread.Sleep(200);
        _recording = false;
        lock (_gate)
        {
            var received = Interlocked.Read(ref _received);
            double Ms(double percentile) => _latency.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
            var lagMax = _lag.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond;
            var lagP99 = _lag.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond;
            return new StreamResult(_clients.Length / 2, pps, seconds, sent, received, Interlocked.Read(ref _reordered),
                sent / seconds, received / seconds, sent == 0 ? 0 : Math.Max(0, 100.0 * (sent - received) / sent),
                Ms(50), Ms(99), Ms(99.9), _latency.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond,
                lagMax, lagP99, GeneratorLimited: lagP99 > 1000.0 / pps / 2);
        }
    }

    private void Reset()
    {
        lock (_gate)
        {
            _latency.Reset();
            _lag.Reset();
            Interlocked.Exchange(ref _received, 0);
            Interlocked.Exchange(ref _reordered, 0);
        }
    }

    private async Task ReceiveLoop(Client c)
    {
        var buffer = GC.AllocateArray<byte>(2048, pinned: true);
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (!_stop.IsCancellationRequested)
        {
            int n;
            try { n = await c.Socket.ReceiveFromAsync(buffer, SocketFlags.None, from); }
            catch (Exception) { return; }
            var now = Stopwatch.GetTimestamp();
            if (n < 24) continue;
            Interlocked.Increment(ref c.Heard);
            if (!_recording) continue;
            var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2));
            var sentAt = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(12));
            if (c.HaveSeq && (ushort)(seq - c.LastSeq) > 32768) Interlocked.Increment(ref _reordered);
            else { c.LastSeq = seq; c.HaveSeq = true; }
            Interlocked.Increment(ref _received);
            var ticks = (now - sentAt) * TimeSpan.TicksPerSecond / Stopwatch.Frequency;
            lock (_gate) _latency.RecordValue(Math.Max(0, ticks));
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var c in _clients) c.Socket.Dispose();
    }

    private sealed class Client
    {
        public readonly Socket Socket;
        private readonly SocketAddress _relay;
        private readonly byte[] _packet;
        private ushort _seq;
        public int Heard;
        public ushort LastSeq;
        public bool HaveSeq;

        public Client(int port, int relayPort, uint ssrc, int size)
        {
            Socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            Socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            Socket.Blocking = false;
            _relay = new IPEndPoint(IPAddress.Loopback, relayPort).Serialize();
            _packet = new byte[size];
            _packet[0] = 0x80;
            BinaryPrimitives.WriteUInt32BigEndian(_packet.AsSpan(8), ssrc);
        }

        public void Send(long timestamp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_packet.AsSpan(2), _seq++);
            BinaryPrimitives.WriteInt64LittleEndian(_packet.AsSpan(12), timestamp);
            try { Socket.SendTo(_packet, SocketFlags.None, _relay); }
            catch (SocketException) { /* counted as loss */ }
        }
    }
}
