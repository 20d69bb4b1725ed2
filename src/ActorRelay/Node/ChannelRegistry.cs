using Akka.Actor;
using ActorRelay.Ports;
using ActorRelay.Protocol;

namespace ActorRelay.Node;

/// <summary>One channel as the node keeps it: its request, actor, owner, ports, state, who waits for its reply and who hears its events.</summary>
internal sealed class ChannelRecord(string id, OpenChannel request, IActorRef actor, Address owner)
{
    /// <summary>The system that opened it (the node's own address for a local opener).</summary>
    public Address Owner { get; set; } = owner;
    /// <summary>The owner system is gone (terminated or unreachable); the channel is an orphan while nobody listens to it.</summary>
    public bool OwnerGone { get; set; }
    /// <summary>Brought back from the journal at start (it is recorded already).</summary>
    public bool Restored { get; init; }
    public string Id { get; } = id;
    public OpenChannel Request { get; } = request;
    public IActorRef Actor { get; } = actor;
    public ChannelState State { get; set; } = ChannelState.Opening;
    public ChannelOpened? Opened { get; set; }
    /// <summary>The channel could not open: it is freeing what it bound; <see cref="Rejection"/> answers retries meanwhile.</summary>
    public OpenRejected? Rejection { get; set; }
    public bool Failed => Rejection is not null;
    public List<int> Ports { get; } = new(2);
    /// <summary>Whoever sent the open and waits for ChannelOpened or OpenRejected.</summary>
    public List<IActorRef> Waiting { get; } = new(1);
    /// <summary>Who hears this channel's events (the opener, unless it declined, and per-channel subscribers); created on first use.</summary>
    public HashSet<IActorRef>? Subscribers { get; set; }
}

/// <summary>
/// The node's book of channels: records by id and by actor, the port pool their ports come from, and the counts the
/// node reports (opened, closed by reason, rejected by reason). Plain and single-threaded: owned by the node actor.
/// </summary>
internal sealed class ChannelRegistry(PortPool pool)
{
    private readonly Dictionary<string, ChannelRecord> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, ChannelRecord> _byActor = new();
    private readonly Dictionary<CloseReason, long> _closed = new();
    private readonly Dictionary<RejectReason, long> _rejected = new();
    private long _opened;

    public int Count => _byId.Count;
    public IEnumerable<ChannelRecord> Records => _byId.Values;
    public int PortsFree => pool.FreeCount;
    public int PortsTotal => pool.Size;

    public bool TryGet(string? id, out ChannelRecord record)
    {
        if (id is not null && _byId.TryGetValue(id, out var r)) { record = r; return true; }
        record = null!;
        return false;
    }

    public bool TryGet(IActorRef actor, out ChannelRecord record) => _byActor.TryGetValue(actor, out record!);

    public void Add(ChannelRecord record)
    {
        _byId.Add(record.Id, record);
        _byActor.Add(record.Actor, record);
    }

    /// <summary>Removes the record and gives its ports back to the pool.</summary>
    public void Forget(ChannelRecord record)
    {
        _byId.Remove(record.Id);
        _byActor.Remove(record.Actor);
        foreach (var p in record.Ports) pool.Release(p);
        record.Ports.Clear();
    }

    /// <summary>Takes the side's named port, or the least recently freed (even, if asked) pool port; on failure the error says why.</summary>
    public bool TryTakePort(SideRequest? side, out int port, out (RejectReason Reason, string Message) error)
    {
        var fixedPort = side?.Port;
        error = default;
        if (fixedPort is { } p)
        {
            port = p;
            if (pool.TryReserve(p)) return true;
            error = (RejectReason.PortInUse, $"port {p} is used by another channel of this node");
            return false;
        }
        if (side?.EvenPort == true ? pool.TryAllocateEven(out port) : pool.TryAllocate(out port)) return true;
        error = (RejectReason.PortsExhausted, $"no free {(side?.EvenPort == true ? "even " : "")}port left in {pool.Min}-{pool.Max}");
        return false;
    }

    public void Release(int port) => pool.Release(port);

    /// <summary>
    /// Swaps a pool port of <paramref name="record"/> that another program holds for a fresh one; the busy port goes
    /// back to the end of the queue, so it is tried last. Returns the new port, or 0 when the pool is exhausted.
    /// </summary>
    public int ReplacePort(ChannelRecord record, int busy)
    {
        record.Ports.Remove(busy);
        pool.Release(busy);
        if (!pool.TryAllocate(out var port)) return 0;
        record.Ports.Add(port);
        return port;
    }

    public void CountOpened() => _opened++;
    public void CountClosed(CloseReason reason) => _closed[reason] = _closed.GetValueOrDefault(reason) + 1;
    public void CountRejected(RejectReason reason) => _rejected[reason] = _rejected.GetValueOrDefault(reason) + 1;

    public NodeStatus Status(int capacity, string transport) => new(
        Count, capacity, _opened, new Dictionary<CloseReason, long>(_closed), new Dictionary<RejectReason, long>(_rejected),
        pool.FreeCount, pool.Size, transport);
}
