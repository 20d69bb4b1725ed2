namespace ActorRelay.RelayLoops;

/// <summary>
/// The relay loops of one node, a service the node owns for its lifetime: started with the node, stopped after its
/// last channel (a loop closes the sockets still attached to it when it stops). Channels are spread over the loops
/// round-robin, both sides of a channel on one loop.
/// </summary>
internal sealed class RelayLoopPool : IDisposable
{
    private readonly RelayLoop[] _loops;
    private int _next = -1;

    public RelayLoopPool(int count, int maxDatagram, TimeSpan maxQueueDelay, string name = "relay-loop", Prometheus.Histogram? lag = null, int nice = 0,
        Prometheus.Histogram? queueDelay = null)
    {
        _loops = new RelayLoop[Math.Max(1, count)];
        try
        {
            for (var i = 0; i < _loops.Length; i++) _loops[i] = new RelayLoop($"{name}-{i}", maxDatagram, maxQueueDelay, lag: lag, nice: nice, queueDelay: queueDelay);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Count => _loops.Length;

    /// <summary>False when a loop's thread has ended (its epoll set failed): the node is not ready.</summary>
    public bool AllRunning => _loops.All(l => l.Running);
    public IReadOnlyList<RelayLoop> Loops => _loops;

    /// <summary>The loop for the next channel (any thread).</summary>
    public RelayLoop Next() => _loops[(int)((uint)Interlocked.Increment(ref _next) % (uint)_loops.Length)];

    public void Dispose()
    {
        foreach (var loop in _loops) loop?.Dispose();
    }

    /// <summary>Why the loops could not take their nice value (waits until each has tried), or null when they all did.</summary>
    public string? PriorityProblem()
    {
        foreach (var loop in _loops)
            if (loop.PriorityProblem() is { } why) return why;
        return null;
    }
}
