namespace ActorRelay.Ports;

/// <summary>
/// The node's UDP ports: a range handed out least-recently-freed first (a port just released is the
/// last to be reused, so stale packets of a closed call rarely reach a new one). Single-threaded:
/// owned by the node actor. Ports outside the range may be reserved too (fixed ports named by a
/// request, like the seed's LEFT:RIGHT); they are tracked so two channels never share one.
/// </summary>
public sealed class PortPool
{
    private readonly Queue<int> _free = new();
    private readonly HashSet<int> _taken = new();
    private readonly bool[] _inQueue;

    public PortPool(int min, int max)
    {
        if (min < 1 || max > 65535 || min > max)
            throw new ArgumentOutOfRangeException(nameof(min), $"port range must satisfy 1 <= min <= max <= 65535, got {min}-{max}");
        Min = min;
        Max = max;
        _inQueue = new bool[max - min + 1];
        for (var p = min; p <= max; p++) { _free.Enqueue(p); _inQueue[p - min] = true; }
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
        while (_free.TryDequeue(out port))
        {
            _inQueue[port - Min] = false;
            if (_taken.Add(port)) { FreeCount--; return true; }
        }
        port = 0;
        return false;
    }

    /// <summary>Takes a named port (in the range or not); false when another channel has it.</summary>
    public bool TryReserve(int port)
    {
        if (port < 1 || port > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "port must be in 1..65535");
        if (!_taken.Add(port)) return false;
        if (InRange(port)) FreeCount--;   // its queue entry is skipped lazily by TryAllocate
        return true;
    }

    /// <summary>Gives a port back. Releasing a port that is not taken is a no-op (returns false).</summary>
    public bool Release(int port)
    {
        if (!_taken.Remove(port)) return false;
        if (InRange(port))
        {
            FreeCount++;
            if (!_inQueue[port - Min]) { _free.Enqueue(port); _inQueue[port - Min] = true; }
        }
        return true;
    }
}
