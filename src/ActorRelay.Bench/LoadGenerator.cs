using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ActorRelay.Sides;
using HdrHistogram;
using static ActorRelay.RelayLoops.LinuxUdp;
using static ActorRelay.Bench.BenchSyscalls;

namespace ActorRelay.Bench;

/// <summary>What one measured window delivered.</summary>
internal sealed record StreamResult(
    int Channels, int PacketsPerSecondPerDirection, double Seconds,
    long Sent, long Received, long Reordered, long SendErrors, double OfferedPps, double DeliveredPps, double LossPercent,
    double P50Ms, double P99Ms, double P999Ms, double MaxMs,
    double ArrivalP50Ms, double ArrivalP99Ms, double ArrivalP999Ms, double ArrivalMaxMs,
    double SendLagMaxMs, double SendLagP99Ms, bool GeneratorLimited,
    double MeasuredSeconds, double GeneratorCpuMs, double RelayCpuMs);

/// <summary>
/// Two clients per channel, each one UDP socket that sends and receives on one port (as NATed clients do),
/// streaming RTP-like packets both ways at a fixed rate. Each packet carries a sequence number and its send
/// time; the receiver records one-way latency in an HdrHistogram, twice: until the generator read the packet, and until
/// the packet arrived in the client's socket (the kernel's receive time, SO_TIMESTAMPNS). The second is the relay's
/// path alone: a generator that was itself descheduled reads late, and the first counts that against the relay.
/// <para>One thread does everything, on the caller's thread: it sends each client's packets on schedule and,
/// between sends, waits on every client socket at once with epoll (a nanosecond timeout up to the next send),
/// reading with <c>recvmmsg</c>. No locks, no thread hand-offs, nothing allocated per packet: the generator uses
/// one core at most, leaves the other to the relay, and its own latency adds as little as possible. It measures
/// how late each send slot starts and flags a run where it fell behind.</para>
/// </summary>
internal sealed unsafe class LoadGenerator : IDisposable
{
    private const int Batch = 16, MaxEvents = 256, BufferSize = 2048;
    private readonly Socket[] _sockets;
    private readonly int[] _fds;
    private readonly int _size;
    private readonly byte* _memory;
    private readonly byte* _packets;   // per client: its packet
    private readonly byte* _targets;   // per client: the relay's sockaddr_in
    private readonly byte* _events;
    private readonly byte* _buffers;
    private readonly MMsgHdr* _rx;
    private readonly IoVec* _iov;
    private readonly byte* _controls;  // per receive slot: the kernel's receive time of the datagram
    private readonly ushort[] _seq, _lastSeq;
    private readonly bool[] _haveSeq;
    private readonly int[] _heard;
    private readonly int _epoll;
    private readonly bool _nanosecondWait;
    private readonly LongHistogram _latency = new(TimeSpan.TicksPerSecond * 10, 3);
    private readonly LongHistogram _arrival = new(TimeSpan.TicksPerSecond * 10, 3);
    private readonly LongHistogram _lag = new(TimeSpan.TicksPerSecond * 10, 3);
    private bool _recording;
    private long _received, _reordered, _sendErrors;
    private volatile bool _stopped;
    private long _resumeSince = long.MaxValue;
    private long[]? _resumedAt;

    /// <summary>Events whose data named no client of this generator (never seen; counted rather than trusted).</summary>
    public long ForeignEvents { get; private set; }

    /// <summary>
    /// Latencies or send lags beyond what the histograms hold (10 s), recorded as 10 s: a packet that waited in a client's
    /// socket while a long soak sampled a node on a loaded machine. HdrHistogram throws on a value past its range, which
    /// ended hour-long soaks after 15 to 20 minutes.
    /// </summary>
    public long OffScale { get; private set; }

    private void Record(LongHistogram histogram, long ticks)
    {
        if (ticks > histogram.HighestTrackableValue) { OffScale++; ticks = histogram.HighestTrackableValue; }
        histogram.RecordValue(Math.Max(0, ticks));
    }

    public LoadGenerator(IReadOnlyList<(int Left, int Right)> channels, int clientPortMin, int size)
    {
        if (!Supported) throw new PlatformNotSupportedException("the load generator needs Linux (epoll, recvmmsg)");
        _size = Math.Max(size, 32);
        var n = channels.Count * 2;
        _sockets = new Socket[n];
        _fds = new int[n];
        _seq = new ushort[n];
        _lastSeq = new ushort[n];
        _haveSeq = new bool[n];
        _heard = new int[n];
        _memory = (byte*)NativeMemory.AllocZeroed((nuint)(n * (_size + 16) + MaxEvents * 16 + Batch * (BufferSize + sizeof(MMsgHdr) + sizeof(IoVec) + TimestampControlSize) + 64));
        _packets = _memory;
        _targets = _packets + n * _size;
        _events = _targets + n * 16;
        _rx = (MMsgHdr*)(_events + MaxEvents * 16);
        _iov = (IoVec*)(_rx + Batch);
        _controls = (byte*)(_iov + Batch);
        _buffers = _controls + Batch * TimestampControlSize;
        for (var i = 0; i < Batch; i++)
        {
            _iov[i].Base = _buffers + i * BufferSize;
            _iov[i].Length = BufferSize;
            _rx[i].Header.Iov = &_iov[i];
            _rx[i].Header.IovLength = 1;
            _rx[i].Header.Control = _controls + i * TimestampControlSize;
        }
        _epoll = epoll_create1(EPOLL_CLOEXEC);
        if (_epoll < 0) throw new SocketException(Errno());
        for (var i = 0; i < n; i++)
        {
            var relayPort = i % 2 == 0 ? channels[i / 2].Left : channels[i / 2].Right;
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, clientPortMin + i));
            s.SetRawSocketOption(SOL_SOCKET, SO_TIMESTAMPNS, [1, 0, 0, 0]);
            _sockets[i] = s;
            _fds[i] = (int)s.SafeHandle.DangerousGetHandle();
            if (EpollControl(_epoll, EPOLL_CTL_ADD, _fds[i], (ulong)i) != 0) throw new SocketException(Errno());
            var target = new IPEndPoint(IPAddress.Loopback, relayPort).Serialize();
            target.Buffer.Span[..16].CopyTo(new Span<byte>(_targets + i * 16, 16));
            var packet = new Span<byte>(_packets + i * _size, _size);
            packet[0] = 0x80;                                                      // RTP version 2
            BinaryPrimitives.WriteUInt32BigEndian(packet[8..], (uint)i + 1);      // SSRC
        }
        try
        {
            var zero = new TimeSpec();
            _nanosecondWait = epoll_pwait2(_epoll, _events, MaxEvents, &zero, null) >= 0;
        }
        catch (EntryPointNotFoundException)
        {
            _nanosecondWait = false; // glibc before 2.35: millisecond waits
        }
    }

    /// <summary>Latches every side: each client sends every 50 ms until its peer hears it (bounded).</summary>
    public void Latch()
    {
        var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            for (var i = 0; i < _sockets.Length; i++) Send(i, Stopwatch.GetTimestamp());
            Poll(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20);
            if (_heard.All(h => h > 0)) return;
        }
        throw new InvalidOperationException($"only {_heard.Count(h => h > 0)} of {_sockets.Length} clients heard their peer");
    }

    /// <summary>
    /// Streams at <paramref name="pps"/> packets/s per client for <paramref name="seconds"/>, measuring the window after a
    /// warm-up. Clients are spread evenly over the packet interval (each has its own phase, as independent calls do),
    /// in 1 ms slots; the lag of each slot behind its schedule shows when the generator itself falls behind.
    /// <paramref name="relayCpuMilliseconds"/> reads the relay's CPU time: it is read when the measured window starts and
    /// again after its last packets had time to arrive, as is the generator's own thread's CPU time.
    /// </summary>
    public StreamResult Stream(int pps, double seconds, double warmupSeconds, Func<double> relayCpuMilliseconds)
    {
        var interval = Stopwatch.Frequency / pps;
        var slots = Math.Max(1, (int)(1000 / pps));           // 1 ms slots per interval (20 for 50 pps)
        var slotTicks = interval / slots;
        var perSlot = (_sockets.Length + slots - 1) / slots;
        var start = Stopwatch.GetTimestamp();
        var warmEnd = start + (long)(warmupSeconds * Stopwatch.Frequency);
        var end = warmEnd + (long)(seconds * Stopwatch.Frequency);
        long sent = 0;
        var next = start;
        var slot = 0;
        double cpu0 = 0, relay0 = 0;
        long recordingStarted = 0;
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (now >= end || _stopped) break;
            if (now < next)
            {
                Poll(next);
                continue;
            }
            if (!_recording && now >= warmEnd)
            {
                Reset();
                _recording = true;
                sent = 0;
                cpu0 = ThreadCpuMilliseconds();
                relay0 = relayCpuMilliseconds();
                recordingStarted = Stopwatch.GetTimestamp();
            }
            if (_recording) Record(_lag, (now - next) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
            var from = slot * perSlot;
            var to = Math.Min(_sockets.Length, from + perSlot);
            for (var i = from; i < to; i++) Send(i, Stopwatch.GetTimestamp());
            if (_recording) sent += to - from;
            slot = (slot + 1) % slots;
            next += slotTicks;
            // behind schedule (a starved generator), it still reads what arrived, or it would hear nothing until it caught up
            if (Stopwatch.GetTimestamp() >= next) PollOnce();
        }
        // let the last packets arrive (a packet later than this counts as lost, as for a jitter buffer)
        Poll(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5);
        var relayCpu = relayCpuMilliseconds() - relay0;
        var cpu = ThreadCpuMilliseconds() - cpu0;
        var measured = (Stopwatch.GetTimestamp() - recordingStarted) / (double)Stopwatch.Frequency;
        _recording = false;
        double Ms(double percentile) => _latency.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
        double ArrivalMs(double percentile) => _arrival.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;
        var lagMax = _lag.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond;
        var lagP99 = _lag.GetValueAtPercentile(99) / (double)TimeSpan.TicksPerMillisecond;
        return new StreamResult(_sockets.Length / 2, pps, seconds, sent, _received, _reordered, _sendErrors,
            sent / seconds, _received / seconds, sent == 0 ? 0 : Math.Max(0, 100.0 * (sent - _received) / sent),
            Ms(50), Ms(99), Ms(99.9), _latency.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond,
            ArrivalMs(50), ArrivalMs(99), ArrivalMs(99.9), _arrival.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond,
            lagMax, lagP99, GeneratorLimited: lagP99 > 1000.0 / pps / 2, measured, cpu, relayCpu);
    }

    /// <summary>Ends a <see cref="Stream"/> running on another thread at its next send slot.</summary>
    public void Stop() => _stopped = true;

    /// <summary>
    /// From now on, notes for each client when it first hears a packet its peer sent at or after <paramref name="since"/>
    /// (a Stopwatch timestamp): each entry of the array returned is 0 until then, then the time it arrived. Safe to
    /// call while <see cref="Stream"/> runs on another thread; read the entries with Volatile.Read.
    /// </summary>
    public long[] WatchResumption(long since)
    {
        var resumed = new long[_sockets.Length];
        Volatile.Write(ref _resumedAt, resumed);
        Volatile.Write(ref _resumeSince, since);
        return resumed;
    }

    private void Reset()
    {
        _latency.Reset();
        _arrival.Reset();
        _lag.Reset();
        _received = _reordered = _sendErrors = 0;
    }

    private void Send(int client, long timestamp)
    {
        var packet = _packets + client * _size;
        BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(packet + 2, 2), _seq[client]++);
        BinaryPrimitives.WriteInt64LittleEndian(new Span<byte>(packet + 12, 8), timestamp);
        BinaryPrimitives.WriteInt64LittleEndian(new Span<byte>(packet + 20, 8), RealtimeNs());
        if (sendto(_fds[client], packet, (nuint)_size, MSG_DONTWAIT, _targets + client * 16, 16) < 0 && _recording) _sendErrors++;
    }

    /// <summary>Receives whatever has arrived, without waiting.</summary>
    private void PollOnce()
    {
        var n = epoll_wait(_epoll, _events, MaxEvents, 0);
        for (var e = 0; e < n; e++)
        {
            var client = *(ulong*)(_events + e * EpollEventSize + EpollDataOffset);
            if (client < (ulong)_fds.Length) Receive((int)client);
            else ForeignEvents++;
        }
    }

    /// <summary>Receives whatever arrives until <paramref name="until"/> (a Stopwatch timestamp).</summary>
    private void Poll(long until)
    {
        while (true)
        {
            var left = until - Stopwatch.GetTimestamp();
            if (left <= 0) return;
            int n;
            if (_nanosecondWait)
            {
                var ns = left * 1_000_000_000 / Stopwatch.Frequency;
                var timeout = new TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
                n = epoll_pwait2(_epoll, _events, MaxEvents, &timeout, null);
            }
            else n = epoll_wait(_epoll, _events, MaxEvents, (int)(left * 1000 / Stopwatch.Frequency));
            for (var e = 0; e < n; e++)
            {
                var client = *(ulong*)(_events + e * EpollEventSize + EpollDataOffset);
                if (client < (ulong)_fds.Length) Receive((int)client);
                else ForeignEvents++;
            }
            if (n > 0) return; // back to the send schedule after each batch of events
        }
    }

    private void Receive(int client)
    {
        for (var i = 0; i < Batch; i++)
        {
            _rx[i].Header.Flags = 0;
            _rx[i].Header.ControlLength = TimestampControlSize;
        }
        var n = recvmmsg(_fds[client], _rx, Batch, MSG_DONTWAIT, null);
        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            if (_rx[i].Length < 28) continue;
            var data = new ReadOnlySpan<byte>(_buffers + i * BufferSize, 28);
            _heard[client]++;
            var sentAt = BinaryPrimitives.ReadInt64LittleEndian(data[12..]);
            if (sentAt >= Volatile.Read(ref _resumeSince) && _resumedAt is { } resumed && resumed[client] == 0) Volatile.Write(ref resumed[client], now);
            if (!_recording) continue;
            var seq = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            if (_haveSeq[client] && (ushort)(seq - _lastSeq[client]) > 32768) _reordered++;
            else { _lastSeq[client] = seq; _haveSeq[client] = true; }
            _received++;
            Record(_latency, (now - sentAt) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
            if (ArrivedAtNs(i) is var arrived and > 0)
                Record(_arrival, (arrived - BinaryPrimitives.ReadInt64LittleEndian(data[20..])) / 100);
        }
    }

    /// <summary>The wall clock in ns since the epoch: the clock of the kernel's receive times.</summary>
    private static long RealtimeNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    /// <summary>The kernel's receive time of datagram <paramref name="i"/> of the last recvmmsg, in ns since the epoch; 0 if absent.</summary>
    private long ArrivedAtNs(int i) => ReceivedAtNs(_rx[i].Header, _controls + i * TimestampControlSize);

    /// <summary>CPU time (user + system) of the calling thread, from /proc/thread-self/stat.</summary>
    private static double ThreadCpuMilliseconds()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) * 10.0; // USER_HZ = 100
    }

    public void Dispose()
    {
        foreach (var s in _sockets) s?.Dispose();
        close(_epoll);
        NativeMemory.Free(_memory);
    }
}
