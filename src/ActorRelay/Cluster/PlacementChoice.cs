using ActorRelay.Protocol;

namespace ActorRelay.Cluster;

/// <summary>
/// Where the next channel goes: the relay node with the most room. A node's room is what its last published load says
/// (<see cref="NodeLoad.Room"/>: none while draining) less the channels this entry point has placed there since that
/// load was read, or is placing now. Nodes without a load yet, draining nodes, full nodes and the nodes that already
/// refused this channel are never chosen. Ties go to the lowest address, so a choice is deterministic. Pure: the
/// entry point's actor feeds it.
/// </summary>
public sealed class PlacementChoice
{
    private readonly Dictionary<string, NodeLoad> _loads = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DateTimeOffset>> _placed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    /// <summary>A node's newer load: placements it already counts (made before it was read) are no longer added.</summary>
    public void Update(NodeLoad load)
    {
        if (_loads.TryGetValue(load.Node, out var known) && known.At > load.At) return;
        _loads[load.Node] = load;
        if (_placed.TryGetValue(load.Node, out var placed)) placed.RemoveAll(t => t <= load.At);
    }

    /// <summary>The node left the cluster: forget it.</summary>
    public void Forget(string node)
    {
        _loads.Remove(node);
        _placed.Remove(node);
        _inFlight.Remove(node);
    }

    public IReadOnlyDictionary<string, NodeLoad> Loads => _loads;

    /// <summary>The room the entry point counts on for <paramref name="node"/>, or null when no load is known.</summary>
    public int? Room(string node) =>
        _loads.TryGetValue(node, out var load)
            ? load.Room() - (_placed.TryGetValue(node, out var p) ? p.Count : 0) - _inFlight.GetValueOrDefault(node)
            : null;

    /// <summary>The node with the most room among <paramref name="members"/>, skipping <paramref name="refused"/>; null when none has room.</summary>
    public string? Choose(IEnumerable<string> members, IReadOnlySet<string>? refused = null)
    {
        string? best = null;
        var bestRoom = 0;
        foreach (var node in members.OrderBy(m => m, StringComparer.Ordinal))
        {
            if (refused?.Contains(node) == true || Room(node) is not { } room || room <= 0) continue;
            if (best is null || room > bestRoom) (best, bestRoom) = (node, room);
        }
        return best;
    }

    /// <summary>An open was sent to <paramref name="node"/>: it counts against the node's room until it is answered.</summary>
    public void Started(string node) => _inFlight[node] = _inFlight.GetValueOrDefault(node) + 1;

    /// <summary>The open sent to <paramref name="node"/> was answered at <paramref name="at"/>; an opened channel counts until a load read after it.</summary>
    public void Ended(string node, bool opened, DateTimeOffset at)
    {
        if (_inFlight.TryGetValue(node, out var n)) { if (n <= 1) _inFlight.Remove(node); else _inFlight[node] = n - 1; }
        if (!opened) return;
        if (_loads.TryGetValue(node, out var load) && load.At >= at) return;
        (_placed.TryGetValue(node, out var list) ? list : _placed[node] = new List<DateTimeOffset>()).Add(at);
    }
}
