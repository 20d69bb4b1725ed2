using System.Net;
using System.Net.Sockets;
using Akka.TestKit.Xunit2;
using ActorRelay.Protocol;
using ActorRelay.RelayLoops;
using ActorRelay.Settings;
using ActorRelay.Sides;
using ActorRelay.Sides.Epoll;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.RelayLoops;

/// <summary>The relay loop on its own: batches, ordering, closing on its thread, stopping with sockets attached.</summary>
public sealed class RelayLoopSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly (int Min, int Max) _ports = TestPorts.Block(6);

    private EpollSide Side(RelayLoop loop, Side side, int port, int maxDatagram = 1500)
    {
        var settings = RelaySettings.Default with { MaxDatagram = maxDatagram };
        var channel = CreateTestProbe();
        return new EpollSide(new SideSpec("loop", side, new IPEndPoint(IPAddress.Loopback, port), settings.Latch, settings, RelayClock.System, loop),
            SideSockets.Bind(new IPEndPoint(IPAddress.Loopback, port), 0, 0), loop, channel.Ref, channel.Ref);
    }

    private (EpollSide Left, EpollSide Right) Channel(RelayLoop loop, int leftPort, int maxDatagram = 1500, bool start = true)
    {
        var l = Side(loop, ActorRelay.Protocol.Side.Left, leftPort, maxDatagram);
        var r = Side(loop, ActorRelay.Protocol.Side.Right, leftPort + 1, maxDatagram);
        l.ConnectSibling(r);
        r.ConnectSibling(l);
        if (start)
        {
            l.Start();
            r.Start();
        }
        return (l, r);
    }

    private static async Task LatchAsync(EpollSide l, EpollSide r, UdpPeer a, UdpPeer b)
    {
        a.SendTo(new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port), [1]);
        b.SendTo(new RelayEndpoint("127.0.0.1", r.LocalEndPoint.Port), [2]);
        Assert.Equal([2], await a.ExpectAsync(Wait)); // b's packet reached a: both latched
    }

    [Fact]
    public async Task A_burst_is_relayed_complete_and_in_order_in_batches()
    {
        using var loop = new RelayLoop("spec-loop", 1500);
        var (l, r) = Channel(loop, _ports.Min);
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchAsync(l, r, a, b);

        const int burst = 100; // more than a batch (the loop reads up to 32 at a time) and within the default socket buffers
        for (var i = 0; i < burst; i++) a.SendTo(new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port), BitConverter.GetBytes(i));
        for (var i = 0; i < burst; i++) Assert.Equal(i, BitConverter.ToInt32(await b.ExpectAsync(Wait)));
        Assert.Equal(burst + 1, l.Counters.PacketsReceived);
        Assert.Equal(burst, l.Counters.PacketsForwarded);   // a's first packet came before b latched
        Assert.Equal(1, l.Counters.Dropped(DropReason.PeerNotLatched));
    }

    [Fact]
    public async Task A_socket_joins_the_loop_as_a_non_blocking_descriptor()
    {
        using var loop = new RelayLoop("spec-loop", 1500);
        var (l, r) = Channel(loop, _ports.Min, start: false);
        Assert.True(l.Socket.Blocking); // as SideSockets made it
        l.Start();
        r.Start();
        // attached on the loop's thread: the descriptor is O_NONBLOCK from then on (the kernel's poll of a blocking UDP
        // socket takes its receive queue's lock at every epoll wait)
        await AwaitAssertAsync(() => Assert.False(l.Socket.Blocking), Wait);
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchAsync(l, r, a, b);
        a.SendTo(new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port), [7]);
        Assert.Equal([7], await b.ExpectAsync(Wait));
    }

    /// <summary>Queues datagrams on the left port before the loop sees it, then starts both sides and waits until all are read.</summary>
    private async Task QueueThenStartAsync(EpollSide l, EpollSide r, int queued)
    {
        using var a = new UdpPeer();
        for (var i = 0; i < queued; i++) a.SendTo(new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port), BitConverter.GetBytes(i));
        l.Start();
        r.Start();
        await AwaitAssertAsync(() => Assert.Equal(queued, l.Counters.PacketsReceived), Wait);
    }

    [Fact]
    public async Task A_busy_socket_is_read_in_batches_and_nothing_is_lost()
    {
        using var loop = new RelayLoop("spec-loop", 1500);
        var (l, r) = Channel(loop, _ports.Min, start: false);
        using var a = new UdpPeer();
        const int queued = 100; // queued in the kernel before the loop sees the socket: it is busy from the second read on
        for (var i = 0; i < queued; i++) a.SendTo(new RelayEndpoint("127.0.0.1", _ports.Min), BitConverter.GetBytes(i));
        l.Start();
        r.Start();
        await AwaitAssertAsync(() => Assert.Equal(queued, l.Counters.PacketsReceived), Wait);
        Assert.True(loop.BatchedReads >= (queued - 1) / RelayLoop.Batch, $"{loop.BatchedReads} batched reads");
        Assert.Equal(queued, l.Counters.Dropped(DropReason.PeerNotLatched)); // b never latched: counted, not sent
        Assert.Equal(0, l.Counters.PacketsForwarded);
    }

    [Fact]
    public async Task Datagrams_that_waited_longer_than_the_maximum_queue_delay_are_shed_as_late()
    {
        // the loop's wall clock runs 10 s ahead of the kernel's: every datagram read in a batch looks stale
        var ahead = TimeSpan.FromSeconds(10).Ticks;
        using var loop = new RelayLoop("spec-loop", 1500, TimeSpan.FromMilliseconds(100),
            () => (DateTime.UtcNow.Ticks + ahead - DateTime.UnixEpoch.Ticks) * 100);
        var (l, r) = Channel(loop, _ports.Min, start: false);
        const int queued = 60;
        await QueueThenStartAsync(l, r, queued);
        // the first read of a socket is a plain recvfrom (an ordinary media socket is never judged late); from the
        // second read on the socket is busy and read in batches, where each datagram's queueing time is checked
        Assert.Equal(1, l.Counters.Dropped(DropReason.PeerNotLatched));
        Assert.Equal(queued - 1, l.Counters.Dropped(DropReason.Late));
    }

    [Fact]
    public async Task After_shedding_the_loop_relays_fresh_datagrams_at_once()
    {
        // the loop's wall clock first runs 10 s ahead of the kernel's (every batched datagram looks stale), then agrees
        var ahead = TimeSpan.FromSeconds(10).Ticks;
        using var loop = new RelayLoop("spec-loop", 1500, TimeSpan.FromMilliseconds(100),
            () => (DateTime.UtcNow.Ticks + Volatile.Read(ref ahead) - DateTime.UnixEpoch.Ticks) * 100);
        var (l, r) = Channel(loop, _ports.Min);
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchAsync(l, r, a, b);
        var left = new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port);
        for (var i = 0; i < 60; i++) a.SendTo(left, BitConverter.GetBytes(i)); // a backlog: read in batches, shed as late
        await AwaitAssertAsync(() => Assert.True(l.Counters.Dropped(DropReason.Late) > 0), Wait);
        await AwaitAssertAsync(() => Assert.Equal(61, l.Counters.PacketsReceived), Wait);
        Volatile.Write(ref ahead, 0); // the overload is over
        a.SendTo(left, BitConverter.GetBytes(1000));
        byte[] got;
        do { got = await b.ExpectAsync(Wait); } while (BitConverter.ToInt32(got) != 1000); // relayed, not shed
        Assert.Equal(62, l.Counters.PacketsReceived);
    }

    [Fact]
    public async Task One_datagram_in_sixteen_has_its_queue_delay_observed_from_the_kernels_receive_time()
    {
        // the loop's wall clock runs 2 s ahead of the kernel's: each observed delay is 2 s plus the real wait
        var ahead = TimeSpan.FromSeconds(2).Ticks;
        var queueDelay = Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry())
            .CreateHistogram("spec_queue_delay_seconds", "spec");
        using var loop = new RelayLoop("spec-loop", 1500, maxQueueDelay: TimeSpan.Zero, // no late check: the histogram alone asks for receive times
            realtimeNs: () => (DateTime.UtcNow.Ticks + ahead - DateTime.UnixEpoch.Ticks) * 100, queueDelay: queueDelay);
        var (l, r) = Channel(loop, _ports.Min, start: false);
        const int queued = 4 * RelayLoop.QueueDelaySampling;
        await QueueThenStartAsync(l, r, queued);
        // the first read (an ordinary socket's single read) is a sample, then every sixteenth datagram of the batches
        Assert.Equal(queued / RelayLoop.QueueDelaySampling, queueDelay.Count);
        Assert.InRange(queueDelay.Sum, 2.0 * queueDelay.Count, 2.0 * queueDelay.Count + 1.0 * queueDelay.Count);
        Assert.Equal(0, l.Counters.Dropped(DropReason.Late));
    }

    [Fact]
    public async Task With_a_wall_clock_that_agrees_a_busy_socket_sheds_nothing()
    {
        using var loop = new RelayLoop("spec-loop", 1500, TimeSpan.FromSeconds(5));
        var (l, r) = Channel(loop, _ports.Min, start: false);
        const int queued = 60;
        await QueueThenStartAsync(l, r, queued);
        Assert.True(loop.BatchedReads > 0);
        Assert.Equal(0, l.Counters.Dropped(DropReason.Late));
        Assert.Equal(queued, l.Counters.Dropped(DropReason.PeerNotLatched));
    }

    [Fact]
    public async Task Close_runs_on_the_loop_and_frees_the_port_before_it_calls_back()
    {
        using var loop = new RelayLoop("spec-loop", 1500);
        var (l, r) = Channel(loop, _ports.Min);
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchAsync(l, r, a, b);
        await AwaitAssertAsync(() => Assert.Equal(2, loop.Attached), Wait);
        var freed = new TaskCompletionSource<bool>();
        l.CloseSocket(() => freed.SetResult(TestPorts.Bindable(_ports.Min)));
        Assert.True(await freed.Task.WaitAsync(Wait));
        Assert.Equal(1, loop.Attached);

        // the open side still receives; what it would relay out of its closed sibling's socket to a is dropped
        // (SendFailed), never sent from another socket
        b.SendTo(new RelayEndpoint("127.0.0.1", r.LocalEndPoint.Port), [9]);
        await AwaitAssertAsync(() => Assert.Equal(2, r.Counters.PacketsReceived), Wait);
        Assert.Equal(1, r.Counters.Dropped(DropReason.SendFailed));
        Assert.Equal(1, r.Counters.PacketsForwarded); // only the latching packet, before the close
        a.AssertNothingQueued();
    }

    [Fact]
    public async Task Stopping_the_loop_closes_every_socket_still_attached()
    {
        var loop = new RelayLoop("spec-loop", 1500);
        Channel(loop, _ports.Min);
        Channel(loop, _ports.Min + 2);
        await AwaitAssertAsync(() => Assert.Equal(4, loop.Attached), Wait);
        loop.Dispose();
        for (var p = _ports.Min; p < _ports.Min + 4; p++) Assert.True(TestPorts.Bindable(p), $"port {p} still bound after the loop stopped");
    }

    [Fact]
    public async Task A_close_after_the_loop_stopped_closes_at_once()
    {
        var loop = new RelayLoop("spec-loop", 1500);
        var side = Side(loop, ActorRelay.Protocol.Side.Left, _ports.Min);
        loop.Dispose();
        var closed = new TaskCompletionSource();
        side.CloseSocket(closed.SetResult);
        await closed.Task.WaitAsync(Wait);
        Assert.True(TestPorts.Bindable(_ports.Min));
    }

    [Fact]
    public async Task Oversize_datagrams_are_dropped_and_counted_never_truncated()
    {
        using var loop = new RelayLoop("spec-loop", 200);
        var (l, r) = Channel(loop, _ports.Min, maxDatagram: 200);
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        await LatchAsync(l, r, a, b);
        a.SendTo(new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port), new byte[201]);
        a.SendTo(new RelayEndpoint("127.0.0.1", l.LocalEndPoint.Port), new byte[200]);
        Assert.Equal(200, (await b.ExpectAsync(Wait)).Length);
        Assert.Equal(1, l.Counters.Dropped(DropReason.Oversize));
    }

    [Fact]
    public async Task A_busy_socket_is_drained_in_one_visit_not_one_batch_per_round()
    {
        using var loop = new RelayLoop("spec-loop", 1500);
        var (l, r) = Channel(loop, _ports.Min, start: false);
        const int queued = 1 + 3 * RelayLoop.Batch + 3; // one plain read, then three full batches and a short one
        await QueueThenStartAsync(l, r, queued);
        // wake-ups: the attach commands, the first (plain) read, the drain; one batch per round took 4 more rounds
        Assert.True(loop.Rounds <= 4, $"{loop.Rounds} rounds");
        Assert.Equal(4, loop.BatchedReads);
        Assert.Equal(queued, l.Counters.Dropped(DropReason.PeerNotLatched));
    }

    [Fact]
    public async Task A_flooded_socket_gets_at_most_the_per_visit_batches_then_the_next_round()
    {
        using var loop = new RelayLoop("spec-loop", 1500);
        var (l, r) = Channel(loop, _ports.Min, start: false);
        const int queued = 1 + (RelayLoop.BatchesPerVisit + 1) * RelayLoop.Batch; // more than one visit drains
        await QueueThenStartAsync(l, r, queued);
        Assert.Equal(RelayLoop.BatchesPerVisit + 1, loop.BatchedReads);    // reads that got datagrams
        Assert.True(loop.Rounds >= 4, $"{loop.Rounds} rounds");              // the fifth batch waited for the next round
    }

    [Fact]
    public void The_loop_thread_takes_its_nice_value()
    {
        using var loop = new RelayLoop("nice-loop", 1500, nice: 5); // raising one's nice needs no privilege
        Assert.Null(loop.PriorityProblem());
        // other threads of the test host come and go while the tasks are listed: a vanished one has no comm to read
        static string? Comm(string task)
        {
            try { return File.ReadAllText(Path.Combine(task, "comm")).Trim(); }
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException) { return null; }
        }
        var task = Directory.GetDirectories("/proc/self/task").Single(t => Comm(t) == "nice-loop");
        var stat = File.ReadAllText(Path.Combine(task, "stat"));
        Assert.Equal("5", stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16]); // field 19 of stat: nice
    }
}
