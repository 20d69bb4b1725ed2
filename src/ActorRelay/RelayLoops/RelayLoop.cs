using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Akka.Actor;
using ActorRelay.Protocol;
using ActorRelay.Sides;
using ActorRelay.Sides.Epoll;
using static ActorRelay.RelayLoops.LinuxUdp;

namespace ActorRelay.RelayLoops;

/// <summary>
/// One relay thread for many side sockets (the <c>socket</c> transport on Linux): it waits on all of them with
/// epoll, reads what arrived (one <c>recvfrom</c> for an ordinary socket, <c>recvmmsg</c> batches of up to <see cref="Batch"/>
/// datagrams that drain a busy one),
/// decides each datagram with the side's latch policy and sends the admitted ones out of the sibling's socket
/// with one <c>sendmmsg</c>. Buffers are native and owned by the loop, so a socket costs no receive buffer and
/// no async state of its own, and nothing is allocated per packet. Both sides of a channel live on the same
/// loop, so a side's socket is only ever used by one thread.
/// <para>Sockets attached to a loop are closed by the loop (<see cref="Close"/>), never by another thread: the
/// loop holds a reference on each socket's handle while it may use its descriptor, so a descriptor number can
/// never be reused under it. Control (attach, close) reaches the loop as commands through an eventfd.</para>
/// </summary>
internal sealed unsafe class RelayLoop : IDisposable
{
    /// <summary>Datagrams read from one socket per wake-up: a flood on one port gets this many, then the others get their turn.</summary>
    public const int Batch = 32;
    /// <summary>Batches a busy socket is drained by in one visit at most: then the other ready sockets get their turn.</summary>
    public const int BatchesPerVisit = 4;
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;

    private readonly int _epoll, _wake;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Command> _commands = new();
    private readonly object _gate = new();
    private bool _stopped;                  // under _gate: commands now run on the caller's thread
    private volatile bool _stopping;

    // loop thread only
    private EpollSide?[] _slots = new EpollSide?[64];
    private readonly Stack<int> _freeSlots = new();
    private int _slotsUsed;
    private uint _generation;
    private int _attached;
    private int _rxDirty = Batch;           // receive headers whose name length the last recvmmsg overwrote
    private uint _round;                    // epoll wake-ups so far (written by the loop thread only)
    private int _fullRounds;                // epoll_waits in a row that filled their event array
    private bool _behind;                   // so many in a row that the loop has a backlog, not a burst: more sockets stay ready than a round serves
    private const int FullRoundsBehind = 8;

    // native memory, loop thread only
    private readonly int _stride;
    private readonly byte* _memory;
    private readonly byte* _events;
    private readonly byte* _buffers;
    private readonly byte* _names;
    private readonly byte* _controls;       // per receive slot: room for the datagram's kernel receive time
    private readonly MMsgHdr* _rx;
    private readonly IoVec* _rxIov;
    private readonly MMsgHdr* _tx;
    private readonly IoVec* _txIov;
    private readonly int* _txLength;

    private readonly long _maxQueueDelayNs;
    private readonly Func<long> _realtimeNs;
    private readonly Prometheus.Histogram? _lag;      // observed once per wake-up, when the node exports metrics
    private readonly Prometheus.Histogram? _queueDelay; // observed for one datagram in QueueDelaySampling, when the node exports metrics
    private uint _sampled;                  // datagrams counted for the queue delay's sampling (loop thread only)
    /// <summary>One datagram in this many has its queue delay observed (a power of two).</summary>
    public const int QueueDelaySampling = 16;
    private readonly int _nice;
    private readonly ManualResetEventSlim _prioritySet = new();
    private volatile int _tid;                       // the loop thread's kernel id, once it runs
    private volatile int _priorityError;             // errno of the loop thread's setpriority, 0: done (or not asked)

    /// <param name="maxDatagram">The largest datagram relayed; buffers hold one byte more, so a full buffer means oversize.</param>
    /// <param name="maxQueueDelay">A datagram of a busy socket that waited longer than this in the kernel's queue is dropped
    /// (<see cref="DropReason.Late"/>) instead of relayed late; zero: never.</param>
    /// <param name="realtimeNs">The wall clock the kernel's receive times are compared with, in ns since the epoch (tests inject one).</param>
    /// <param name="lag">Where the loop reports how late it served each wake-up's sockets (null: it does not measure).</param>
    /// <param name="nice">The nice value the loop's thread asks for (0: the process's own); see <see cref="PriorityProblem"/>.</param>
    /// <param name="queueDelay">Where the loop reports how long datagrams waited in their socket's queue before it read them
    /// (the kernel's receive time to the read; one datagram in <see cref="QueueDelaySampling"/>); null: it does not measure.</param>
    public RelayLoop(string name, int maxDatagram, TimeSpan maxQueueDelay = default, Func<long>? realtimeNs = null, Prometheus.Histogram? lag = null,
        int nice = 0, Prometheus.Histogram? queueDelay = null)
    {
        _lag = lag;
        _queueDelay = queueDelay;
        _nice = nice;
        if (!Supported) throw new PlatformNotSupportedException("the relay loop needs Linux on x64 or arm64");
        _stride = (maxDatagram + 1 + 7) & ~7;
        _maxQueueDelayNs = (long)(maxQueueDelay.TotalMilliseconds * 1_000_000);
        _realtimeNs = realtimeNs ?? (() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100);
        var size = (nuint)(MaxEvents * 16 + Batch * _stride + Batch * SockaddrSize + Batch * TimestampControlSize +
                           Batch * (sizeof(MMsgHdr) + sizeof(IoVec)) * 2 + Batch * sizeof(int) + 64);
        _memory = (byte*)NativeMemory.AllocZeroed(size);
        var p = _memory;
        _events = p; p += MaxEvents * 16;
        _rx = (MMsgHdr*)p; p += Batch * sizeof(MMsgHdr);
        _tx = (MMsgHdr*)p; p += Batch * sizeof(MMsgHdr);
        _rxIov = (IoVec*)p; p += Batch * sizeof(IoVec);
        _txIov = (IoVec*)p; p += Batch * sizeof(IoVec);
        _txLength = (int*)p; p += Batch * sizeof(int);
        _names = p; p += Batch * SockaddrSize;
        _controls = p; p += Batch * TimestampControlSize;
        _buffers = (byte*)(((nuint)p + 7) & ~(nuint)7);
        for (var i = 0; i < Batch; i++)
        {
            _rxIov[i].Base = _buffers + i * _stride;
            _rxIov[i].Length = (nuint)_stride;
            _rx[i].Header.Iov = &_rxIov[i];
            _rx[i].Header.IovLength = 1;
            _rx[i].Header.Name = _names + i * SockaddrSize;
            if (Stamps) _rx[i].Header.Control = _controls + i * TimestampControlSize;
            _tx[i].Header.Iov = &_txIov[i];
            _tx[i].Header.IovLength = 1;
        }

        _epoll = epoll_create1(EPOLL_CLOEXEC);
        if (_epoll < 0) { var e = Errno(); NativeMemory.Free(_memory); throw new SocketException(e); }
        _wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (_wake < 0 || EpollControl(_epoll, EPOLL_CTL_ADD, _wake, WakeToken) != 0)
        {
            var e = Errno();
            if (_wake >= 0) close(_wake);
            close(_epoll);
            NativeMemory.Free(_memory);
            throw new SocketException(e);
        }
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>The loop's thread is serving (read from any thread).</summary>
    public bool Running => _thread.IsAlive && !_stopping;

    /// <summary>Sockets attached now (read from any thread; for diagnostics and tests).</summary>
    public int Attached => Volatile.Read(ref _attached);

    /// <summary>epoll wake-ups so far (read from any thread; for diagnostics and tests).</summary>
    public long Rounds => Volatile.Read(ref _round);

    /// <summary>Batched reads (recvmmsg) of busy sockets so far (for diagnostics and tests).</summary>
    public long BatchedReads => Volatile.Read(ref _batchedReads);
    private long _batchedReads;

    /// <summary>Starts relaying <paramref name="socket"/> for <paramref name="side"/> (any thread).</summary>
    public void Attach(EpollSide side, Socket socket) => Post(new Command(side, socket, null, attach: true));

    /// <summary>
    /// Closes <paramref name="socket"/> of <paramref name="side"/>, attached or not, on the loop thread (or at once when
    /// the loop has stopped); then calls <paramref name="closed"/>, from that thread. Any thread.
    /// </summary>
    public void Close(EpollSide side, Socket socket, Action? closed) => Post(new Command(side, socket, closed, attach: false));

    private void Post(Command command)
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                _commands.Enqueue(command);
                Wake();
                return;
            }
        }
        if (!command.IsAttach) CloseNow(command.Side, command.Socket, command.Closed); // the loop is gone: nobody else uses the socket
    }

    private void Wake()
    {
        ulong one = 1;
        write(_wake, &one, 8);
    }

    // ---- the loop thread ---------------------------------------------------------------------

    /// <summary>
    /// Why the loop's thread could not take its nice value (waits up to a second for the thread to try), or null when
    /// it did or was not asked to.
    /// </summary>
    public string? PriorityProblem()
    {
        _prioritySet.Wait(TimeSpan.FromSeconds(1));
        var error = _priorityError;
        return error == 0 ? null : $"relay loop {_thread.Name} could not take nice {_nice} ({new SocketException(error).Message}): it runs at the node's priority";
    }

    /// <summary>The CPU time the loop's thread has used (user + system, from /proc), or null when it cannot be read.</summary>
    public TimeSpan? CpuTime => _tid == 0 ? null : ThreadCpu.Read(_tid);

    private void Run()
    {
        // The loop is the node's only latency-critical thread: a lower nice gives it a larger share of a busy core
        // than the control plane, the JIT compiler, the collector and other processes, and wakes it ahead of them
        // (issue 13). On Linux, setpriority(PRIO_PROCESS, 0) sets the calling thread's nice only.
        _tid = gettid();
        if (_nice != 0 && setpriority(PRIO_PROCESS, 0, _nice) != 0) _priorityError = Errno();
        _prioritySet.Set();
        try
        {
            while (!_stopping)
            {
                var n = epoll_wait(_epoll, _events, MaxEvents, -1);
                if (n < 0)
                {
                    if (Errno() == EINTR) continue;
                    break; // the epoll set itself failed: nothing sensible is left to do but stop
                }
                var woke = _lag is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
                _round++;
                _fullRounds = n == MaxEvents ? _fullRounds + 1 : 0;
                _behind = _fullRounds >= FullRoundsBehind;
                for (var i = 0; i < n; i++)
                {
                    var ev = _events + i * EpollEventSize;
                    var token = *(ulong*)(ev + EpollDataOffset);
                    if (token == WakeToken) { RunCommands(); continue; }
                    var slot = (int)(uint)token;
                    if ((uint)slot >= (uint)_slotsUsed) continue;
                    var side = _slots[slot];
                    if (side is null || side.LoopToken != token) continue; // closed earlier in this batch
                    Receive(side);
                }
                if (_lag is not null) _lag.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(woke).TotalSeconds);
            }
        }
        finally
        {
            lock (_gate) _stopped = true;
            RunCommands();
            for (var i = 0; i < _slotsUsed; i++)
                if (_slots[i] is { } side) CloseNow(side, side.LoopSocket!, null);
            close(_wake);
            close(_epoll);
            NativeMemory.Free(_memory);
        }
    }

    private void RunCommands()
    {
        ulong count;
        read(_wake, &count, 8);
        while (_commands.TryDequeue(out var c))
        {
            try
            {
                if (c.IsAttach) AttachNow(c.Side, c.Socket);
                else CloseNow(c.Side, c.Socket, c.Closed);
            }
            catch (Exception e)
            {
                c.Side.SideActor.Tell(new SocketFault(c.Socket, e));
            }
        }
    }

    private void AttachNow(EpollSide side, Socket socket)
    {
        if (side.LoopToken != 0) Detach(side);         // a re-bind replaces the side's socket
        // The kernel stamps each datagram of the socket on arrival (SO_TIMESTAMPNS), for the late check of batched reads
        // and the queue delay's samples.
        // Once, here: no setsockopt on the data path (issue 13; it used to be switched on and off as sockets turned busy
        // and calm, and the first stamping socket of the host flips the kernel's global timestamping switch).
        if (Stamps) socket.SetRawSocketOption(SOL_SOCKET, SO_TIMESTAMPNS, [1, 0, 0, 0]);
        // A non-blocking descriptor (O_NONBLOCK), as the loop's every call is (MSG_DONTWAIT): for a blocking UDP socket
        // the kernel's poll of a readable socket, which epoll runs for every ready socket at every wait, also takes the
        // receive queue's lock to look at its first datagram (udp_poll's check for checksum errors). Measured against
        // the C reference, whose sockets are non-blocking: docs/benchmarks.md, "Where the node's CPU per packet goes".
        socket.Blocking = false;
        var added = false;
        socket.SafeHandle.DangerousAddRef(ref added);   // throws ObjectDisposedException for a closed socket
        int slot;
        if (_freeSlots.Count > 0) slot = _freeSlots.Pop();
        else
        {
            if (_slotsUsed == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
            slot = _slotsUsed++;
        }
        if (++_generation == uint.MaxValue) _generation = 1;
        var token = (ulong)_generation << 32 | (uint)slot;
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        if (EpollControl(_epoll, EPOLL_CTL_ADD, fd, token) != 0)
        {
            var error = Errno();
            socket.SafeHandle.DangerousRelease();
            _freeSlots.Push(slot);
            throw new SocketException(error);
        }
        _slots[slot] = side;
        side.LoopToken = token;
        side.LoopFd = fd;
        side.LoopSocket = socket;
        Interlocked.Increment(ref _attached);
    }

    private void Detach(EpollSide side)
    {
        var socket = side.LoopSocket!;
        EpollControl(_epoll, EPOLL_CTL_DEL, side.LoopFd, 0);
        var slot = (int)(uint)side.LoopToken;
        _slots[slot] = null;
        _freeSlots.Push(slot);
        side.LoopToken = 0;
        side.LoopFd = -1;
        side.LoopSocket = null;
        socket.SafeHandle.DangerousRelease();
        Interlocked.Decrement(ref _attached);
    }

    private void CloseNow(EpollSide side, Socket socket, Action? closed)
    {
        if (side.LoopToken != 0 && ReferenceEquals(side.LoopSocket, socket)) Detach(side);
        socket.Dispose();
        closed?.Invoke();
    }

    /// <summary>
    /// Reads from one ready socket and relays what its latch admits. A socket that was ready in the previous round
    /// too is busy (a fast stream, a flood, or a queue left by a stall: the loop was descheduled, throttled by a CPU
    /// quota or frozen by a garbage collection), and so is every socket while the loop is behind (epoll_wait has filled
    /// its event array round after round: more sockets stay ready than one round serves, so a socket is not seen in
    /// consecutive rounds). A busy socket is drained: read in batches of up to <see cref="Batch"/> with recvmmsg until
    /// its queue is empty or <see cref="BatchesPerVisit"/> batches were read (a flood on one port then waits for the next
    /// round, the other sockets get their turn), and each datagram that waited in the kernel's queue longer than the
    /// maximum queue delay is shed (<see cref="DropReason.Late"/>): under overload the relay drops stale packets cheaply
    /// instead of relaying them hundreds of milliseconds late, and catches up at once when the load drops. An ordinary
    /// media socket (a packet every 20 ms) gets one recvfrom, which costs less than a recvmmsg of one; whatever else is
    /// queued makes epoll report it again in the next round, where it is busy.
    /// <para>Why drain (issue 13): reading one batch per readiness served a queue of k batches in k rounds, each behind
    /// every other ready socket's turn and each paying an epoll round trip; after a stall the backlog drained at the
    /// pace of the rounds, not of the reads. Draining serves each socket's queue in one visit, as the C reference does
    /// (it reads until EAGAIN), while the per-visit cap keeps one flooded port from holding the loop.</para>
    /// </summary>
    private void Receive(EpollSide side)
    {
        var busy = _behind || side.LoopLastRound == _round - 1;
        side.LoopLastRound = _round;
        if (!busy && _queueDelay is not null && (_sampled++ & (QueueDelaySampling - 1)) == 0)
        {
            // this read is the sample: one datagram with its kernel receive time (a recvmmsg of one, which costs a little
            // more than the recvfrom below, one read in QueueDelaySampling)
            _rx[0].Header.NameLength = SockaddrSize;
            _rx[0].Header.ControlLength = TimestampControlSize;
            var read = recvmmsg(side.LoopFd, _rx, 1, MSG_DONTWAIT, null);
            if (read <= 0) { if (read < 0) ReceiveFailed(side, Errno()); return; }
            _rxDirty = Math.Max(_rxDirty, 1);
            ObserveQueueDelay(0);
            Relay(side, 1, long.MinValue);
            return;
        }
        if (!busy)
        {
            var nameLength = (uint)SockaddrSize;
            var got = recvfrom(side.LoopFd, _buffers, (nuint)_stride, MSG_DONTWAIT, _names, &nameLength);
            if (got < 0) { ReceiveFailed(side, Errno()); return; }
            _rx[0].Length = (uint)got;
            _rx[0].Header.NameLength = nameLength;
            _rxDirty = Math.Max(_rxDirty, 1);
            Relay(side, 1, long.MinValue);
            return;
        }
        for (var batch = 0; batch < BatchesPerVisit; batch++)
        {
            for (var i = 0; i < _rxDirty; i++)
            {
                _rx[i].Header.NameLength = SockaddrSize;
                if (Stamps) _rx[i].Header.ControlLength = TimestampControlSize;
            }
            var n = recvmmsg(side.LoopFd, _rx, Batch, MSG_DONTWAIT, null);
            _rxDirty = Math.Max(n, 0);
            if (n <= 0)
            {
                if (n < 0) ReceiveFailed(side, Errno());
                return;
            }
            _batchedReads++;
            if (_queueDelay is not null)
                for (var i = 0; i < n; i++)
                    if ((_sampled++ & (QueueDelaySampling - 1)) == 0) ObserveQueueDelay(i);
            Relay(side, n, _maxQueueDelayNs > 0 ? _realtimeNs() - _maxQueueDelayNs : long.MinValue);
            if (n < Batch || side.LoopToken == 0) return; // drained (or the socket failed and was closed while relaying)
        }
    }

    /// <summary>Decides the <paramref name="n"/> datagrams just read and sends the admitted ones; datagrams the kernel
    /// stamped before <paramref name="staleBefore"/> (ns since the epoch; <see cref="long.MinValue"/>: none) are shed as late.</summary>
    private void Relay(EpollSide side, int n, long staleBefore)
    {
        LatchedTarget? target = null;
        var count = 0;
        for (var i = 0; i < n; i++)
        {
            var length = (int)_rx[i].Length;
            if (staleBefore != long.MinValue && ReceivedAtNs(i) is var at && at != 0 && at < staleBefore)
            {
                side.DropReceived(length, DropReason.Late);
                continue;
            }
            var datagram = new ReadOnlySpan<byte>(_buffers + i * _stride, length);
            var name = new ReadOnlySpan<byte>(_names + i * SockaddrSize, (int)Math.Min(_rx[i].Header.NameLength, SockaddrSize));
            var admitted = side.Admit(datagram, FamilyOf(name), name);
            if (admitted is null) continue;
            target = admitted;  // one sibling, one latched target for the whole batch
            _txIov[count].Base = _buffers + i * _stride;
            _txIov[count].Length = (nuint)length;
            _txLength[count] = length;
            count++;
        }
        if (count > 0) Send(side.Sibling!, target!, count, side);
    }

    /// <summary>Sends the admitted datagrams out of the sibling's socket to its latched source.</summary>
    private void Send(EpollSide sibling, LatchedTarget target, int count, EpollSide from)
    {
        if (sibling.LoopToken == 0)
        {
            for (var j = 0; j < count; j++) from.Drop(DropReason.SendFailed); // the sibling is closing
            return;
        }
        var native = target.Native;
        var name = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(native)); // pinned: on the pinned object heap
        if (count == 1)
        {
            // The common case (each client sends every 20 ms): sendto skips sendmmsg's header and vector copies.
            while (true)
            {
                if (sendto(sibling.LoopFd, _txIov[0].Base, _txIov[0].Length, MSG_DONTWAIT, name, (uint)native.Length) >= 0)
                {
                    from.Forwarded(_txLength[0]);
                    return;
                }
                if (Errno() != EINTR) break;
            }
            from.Drop(DropReason.SendFailed);
            return;
        }
        for (var j = 0; j < count; j++)
        {
            _tx[j].Header.Name = name;
            _tx[j].Header.NameLength = (uint)native.Length;
        }
        var done = 0;
        while (done < count)
        {
            var sent = sendmmsg(sibling.LoopFd, _tx + done, (uint)(count - done), MSG_DONTWAIT);
            if (sent > 0)
            {
                for (var j = done; j < done + sent; j++) from.Forwarded(_txLength[j]);
                done += sent;
                continue;
            }
            var error = Errno();
            if (sent < 0 && error == EINTR) continue;
            if (sent == 0 || error is EAGAIN or ENOBUFS or ENOMEM)
            {
                // the send buffer is full: shed the rest of the batch rather than wait (a late packet is worthless)
                for (; done < count; done++) from.Drop(DropReason.SendFailed);
                return;
            }
            from.Drop(DropReason.SendFailed); // this datagram could not go (unreachable, refused by a firewall): skip it
            done++;
        }
    }

    private void ReceiveFailed(EpollSide side, int error)
    {
        switch (error)
        {
            case EAGAIN or EINTR:                                   // woken for nothing
            case ECONNREFUSED or ECONNRESET or EHOSTUNREACH or ENETUNREACH: // an ICMP error queued on the socket
            case ENOMEM or ENOBUFS:                                 // transient
                return;
        }
        // The socket is unusable: close it here (it is attached) and let its actor bind the port again.
        var socket = side.LoopSocket!;
        CloseNow(side, socket, null);
        side.SideActor.Tell(new SocketFault(socket, new SocketException(error)));
    }

    /// <summary>Whether the sockets carry the kernel's receive time of each datagram (the late check, or the queue delay's measure).</summary>
    private bool Stamps => _maxQueueDelayNs > 0 || _queueDelay is not null;

    /// <summary>How long datagram <paramref name="i"/> of the last recvmmsg waited in its socket's queue, into the histogram.</summary>
    private void ObserveQueueDelay(int i)
    {
        var at = ReceivedAtNs(i);
        if (at != 0) _queueDelay!.Observe(Math.Max(0, _realtimeNs() - at) / 1e9);
    }

    /// <summary>The kernel's receive time of datagram <paramref name="i"/> of the last recvmmsg, in ns since the epoch; 0 if absent.</summary>
    private long ReceivedAtNs(int i) => LinuxUdp.ReceivedAtNs(_rx[i].Header, _controls + i * TimestampControlSize);

    // ---- stop --------------------------------------------------------------------------------

    /// <summary>Stops the thread; sockets still attached, and any close still queued, are closed first.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopped || _stopping) return;
            _stopping = true;
            Wake();
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(10));
    }

    private sealed class Command(EpollSide side, Socket socket, Action? closed, bool attach)
    {
        public EpollSide Side { get; } = side;
        public Socket Socket { get; } = socket;
        public Action? Closed { get; } = closed;
        public bool IsAttach { get; } = attach;
    }
}
