using ActorRelay.Protocol;

namespace ActorRelay.Counters;

/// <summary>
/// Counters of one side. Written only by that side's data path (one writer, no locks, no allocation);
/// read by its channel from any thread for snapshots and timeouts.
/// </summary>
public sealed class SideCounters
{
    private static readonly int ReasonCount = Enum.GetValues<DropReason>().Length;

    private long _packetsReceived, _bytesReceived, _packetsForwarded, _bytesForwarded, _latchChanges;
    private long _lastPacketMs = long.MinValue;
    private readonly long[] _dropped = new long[ReasonCount];
    private int _dropsPending;

    public long PacketsReceived => Volatile.Read(ref _packetsReceived);
    public long BytesReceived => Volatile.Read(ref _bytesReceived);
    public long PacketsForwarded => Volatile.Read(ref _packetsForwarded);
    public long BytesForwarded => Volatile.Read(ref _bytesForwarded);
    public long LatchChanges => Volatile.Read(ref _latchChanges);

    /// <summary>Monotonic ms of the last datagram received (any verdict), or null if none yet.</summary>
    public long? LastPacketMs { get { var v = Volatile.Read(ref _lastPacketMs); return v == long.MinValue ? null : v; } }

    public long Dropped(DropReason reason) => Volatile.Read(ref _dropped[(int)reason]);

    public void OnReceived(int bytes, long nowMs)
    {
        Volatile.Write(ref _packetsReceived, _packetsReceived + 1);
        Volatile.Write(ref _bytesReceived, _bytesReceived + bytes);
        Volatile.Write(ref _lastPacketMs, nowMs);
    }

    public void OnForwarded(int bytes)
    {
        Volatile.Write(ref _packetsForwarded, _packetsForwarded + 1);
        Volatile.Write(ref _bytesForwarded, _bytesForwarded + bytes);
    }

    public void OnLatchChanged() => Volatile.Write(ref _latchChanges, _latchChanges + 1);

    /// <summary>Counts a drop; true when this is the first drop since the channel last took a summary
    /// (the caller then tells the channel once, so a flood costs one message per stats interval).</summary>
    public bool OnDropped(DropReason reason)
    {
        ref var slot = ref _dropped[(int)reason];
        Volatile.Write(ref slot, slot + 1);
        return Volatile.Read(ref _dropsPending) == 0 && Interlocked.Exchange(ref _dropsPending, 1) == 0;
    }

    /// <summary>Called by the channel after it published a drop summary.</summary>
    public void ClearDropsPending() => Volatile.Write(ref _dropsPending, 0);

    private static readonly DropReason[] Reasons = Enum.GetValues<DropReason>(); // not a new array per summary

    public Dictionary<DropReason, long> DroppedByReason()
    {
        var d = new Dictionary<DropReason, long>();
        foreach (var r in Reasons)
        {
            var n = Dropped(r);
            if (n != 0) d[r] = n;
        }
        return d;
    }
}
