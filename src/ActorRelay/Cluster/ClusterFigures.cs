using ActorRelay.Control;
using ActorRelay.Protocol;

namespace ActorRelay.Cluster;

/// <summary>The cluster's figures from its nodes' own: statuses summed, channel lists merged. Pure.</summary>
public static class ClusterFigures
{
    /// <summary>Counts and capacities summed; draining only when every node drains; the view is the answering entry point's.</summary>
    public static NodeStatus Sum(IReadOnlyCollection<NodeStatus> nodes, NodeClusterView? view)
    {
        static Dictionary<TKey, long> Add<TKey>(IEnumerable<IReadOnlyDictionary<TKey, long>> maps) where TKey : notnull
        {
            var sum = new Dictionary<TKey, long>();
            foreach (var map in maps)
                foreach (var (k, v) in map) sum[k] = sum.GetValueOrDefault(k) + v;
            return sum;
        }
        return new NodeStatus(
            nodes.Sum(n => n.ChannelsOpen), nodes.Sum(n => n.Capacity), nodes.Sum(n => n.ChannelsOpened),
            Add(nodes.Select(n => n.ClosedByReason)), Add(nodes.Select(n => n.RejectionsByReason)),
            nodes.Sum(n => n.PortsFree), nodes.Sum(n => n.PortsTotal),
            string.Join(",", nodes.Select(n => n.Transport).Distinct(StringComparer.Ordinal)),
            nodes.Sum(n => n.ForeignEventsRefused), nodes.Sum(n => n.JournalBacklog),
            nodes.Count > 0 && nodes.All(n => n.Draining), view,
            nodes.Sum(n => n.PacketsRelayed),
            nodes.Any(n => n.RelayLoopCpuMilliseconds is not null) ? nodes.SelectMany(n => n.RelayLoopCpuMilliseconds ?? []).ToList() : null);
    }

    /// <summary>The view with each member's last known load (by address); members without one keep none.</summary>
    public static NodeClusterView? WithLoads(NodeClusterView? view, IReadOnlyCollection<NodeLoad> loads)
    {
        if (view is null || loads.Count == 0) return view;
        var byNode = loads.ToDictionary(l => l.Node, StringComparer.Ordinal);
        return view with { Members = view.Members.Select(m => m with { Load = byNode.GetValueOrDefault(m.Address) }).ToList() };
    }

    /// <summary>The nodes' pages after one cursor as the cluster's page of at most <paramref name="limit"/> channels, by id (<see cref="ChannelPaging.Merge"/>).</summary>
    public static ChannelList Merge(IEnumerable<ChannelList> pages, int limit) => ChannelPaging.Merge(pages, limit);
}
