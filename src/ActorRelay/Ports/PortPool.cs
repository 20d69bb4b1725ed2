namespace ActorRelay.Ports;

/// <summary>
/// The node's UDP ports: a range handed out least-recently-freed first (a port just released is the last to be
/// reused, so stale packets of a closed call rarely reach a new one). A side may ask for an even port, whose odd
/// neighbour then usually stays free for a companion channel (RTCP on the RTP port + 1, as SIP endpoints expect).
/// Ports outside the range may be reserved too (fixed ports named by a request, like the seed's LEFT:RIGHT); they
/// are tracked so two channels never share one. Single-threaded: owned by the node actor.
/// </summary>
public sealed class PortPool
{
    // Free ports by parity, each queue in the order the ports became free (stamp = when); a port taken by
    // TryReserve keeps its stale queue entry, skipped lazily when it comes up.
    private readonly Queue<(int Port, long Stamp)>[] _free = [new(), new()];
    private readonly HashSet<int> _taken = new();
    private readonly bool[] _inQueue;
    private long _stamp;

    public PortPool(int min, int max)
    {
        if (min < 1 || max > 65535 || min > max)
            throw new ArgumentOutOfRangeException(nameof(min), $"port range must satisfy 1 <= min <= max <= 65535, got {min}-{max}");
        Min = min;
        Max = max;
        _inQueue = new bool[max - min + 1];
        for (var p = min; p <= max; p++) Enqueue(p);
        FreeCount = Size;
    }

    public int Min { get; }
    public int Max { get; }
    public int Size => Max - Min + 1;
    /// <summary>Pool ports not taken.</summary>
    public int FreeCount { get; private set; }
    /// <summary>All ports taken, in the range or outside it.</summary>
    public int TakenCount => _taken.Count;

    public bool InRange(int port) => port >= Min && port <= Max;
    public bool IsTaken(int port) => _taken.Contains(port);

    /// <summary>Takes the least recently freed port; false when the pool is exhausted.</summary>
    public bool TryAllocate(out int port)
    {
        while (true)
        {
            var even = _free[0];
            var odd = _free[1];
            Queue<(int Port, long Stamp)> from;
            if (even.Count == 0 && odd.Count == 0) { port = 0; return false; }
            if (even.Count == 0) from = odd;
            else if (odd.Count == 0) from = even;
            else from = even.Peek().Stamp <= odd.Peek().Stamp ? even : odd;
            if (Take(from, out port)) return true;
        }
    }

    /// <summary>Takes the least recently freed even port; false when no even port is free.</summary>
    public bool TryAllocateEven(out int port)
    {
        while (_free[0].Count > 0)
            if (Take(_free[0], out port)) return true;
        port = 0;
        return false;
    }

    /// <summary>Takes a named port (in the range or not); false when another channel has it.</summary>
    public bool TryReserve(int port)
    {
        if (port < 1 || port > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "port must be in 1..65535");
        if (!_taken.Add(port)) return false;
        if (InRange(port)) FreeCount--;   // its queue entry is skipped lazily when it comes up
        return true;
    }

    /// <summary>Gives a port back. Releasing a port that is not taken is a no-op (returns false).</summary>
    public bool Release(int port)
    {
        if (!_taken.Remove(port)) return false;
        if (InRange(port))
        {
            FreeCount++;
            if (!_inQueue[port - Min]) Enqueue(port);
        }
        return true;
    }

    private void Enqueue(int port)
    {
        _free[port & 1].Enqueue((port, _stamp++));
        _inQueue[port - Min] = true;
    }

    /// <summary>Dequeues one entry; true when it was a free port (now taken), false for a stale entry of a reserved one.</summary>
    private bool Take(Queue<(int Port, long Stamp)> queue, out int port)
    {
        port = queue.Dequeue().Port;
        _inQueue[port - Min] = false;
        if (_taken.Add(port)) { FreeCount--; return true; }
        return false;
    }
}
