using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using ActorRelay.Protocol;

namespace ActorRelay.Cluster;

/// <summary>
/// What a relay node reads of Akka.Cluster: whether its system is clustered, whether a sender is a relay peer (a
/// member with the relay role, or the node's own process), the relay members placement may use, and the node's view
/// for its status. Reads the cluster's current state only; never on the data path.
/// </summary>
public static class RelayMembership
{
    public static bool IsClustered(ActorSystem system) => ((ExtendedActorSystem)system).Provider is ClusterActorRefProvider;

    /// <summary>True for the node's own process and for a cluster member (joining, up or leaving) with <paramref name="role"/>.</summary>
    public static bool IsRelayPeer(ActorSystem system, Address address, string role)
    {
        if (address.HasLocalScope) return true;
        if (!IsClustered(system)) return false;
        var cluster = Akka.Cluster.Cluster.Get(system);
        if (address.Equals(cluster.SelfAddress)) return true;
        return cluster.State.Members.Any(m => m.Address.Equals(address) && m.HasRole(role) &&
            m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving);
    }

    /// <summary>The relay members that can take requests now: up (or weakly up) and reachable from here.</summary>
    public static IReadOnlyList<Address> UsableRelayNodes(ActorSystem system, string role)
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        return state.Members.Where(m => m.HasRole(role) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp && !unreachable.Contains(m.Address))
            .Select(m => m.Address).ToList();
    }

    /// <summary>
    /// The relay members that may hold channels, whatever their progress through the membership (joining, weakly up, up,
    /// leaving, exiting) but reachable: where a channel is looked for, so a member this node has not yet seen as up still
    /// answers whether it holds a channel another entry point placed there.
    /// </summary>
    public static IReadOnlyList<Address> RelayNodesHoldingChannels(ActorSystem system, string role)
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        return state.Members.Where(m => m.HasRole(role) && m.Status is not (MemberStatus.Down or MemberStatus.Removed) && !unreachable.Contains(m.Address))
            .Select(m => m.Address).ToList();
    }

    /// <summary>The node's place in the cluster for its status, or null when it runs alone.</summary>
    public static NodeClusterView? View(ActorSystem system, string role)
    {
        if (!IsClustered(system)) return null;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        return new NodeClusterView(cluster.SelfAddress.ToString(), role, state.Members
            .Select(m => new ClusterMemberView(m.Address.ToString(), m.Status.ToString(), !unreachable.Contains(m.Address), m.Roles.OrderBy(r => r, StringComparer.Ordinal).ToList()))
            .ToList());
    }

    /// <summary>
    /// The Akka settings that make a system a relay cluster member: the cluster provider, its seed nodes (each "HOST:PORT"
    /// becomes akka.tcp://<paramref name="systemName"/>@HOST:PORT) and the relay role. Empty when <paramref name="seeds"/> is.
    /// </summary>
    public static Config Hocon(string systemName, IReadOnlyList<string> seeds, string role)
    {
        if (seeds.Count == 0) return Config.Empty;
        var addresses = seeds.Select(s => SeedAddress(systemName, s)).ToList();
        return ConfigurationFactory.ParseString($$"""
            akka.cluster.seed-nodes = [{{string.Join(", ", addresses.Select(a => "\"" + a + "\""))}}]
            """).WithFallback(MemberHocon(role));
    }

    /// <summary>
    /// The Akka settings of a relay cluster member that names no seed nodes, because something else makes it join (Akka.Management's
    /// Cluster Bootstrap, relay.cluster.bootstrap): the cluster provider and the relay role.
    /// </summary>
    public static Config MemberHocon(string role) => ConfigurationFactory.ParseString($$"""
        akka.actor.provider = cluster
        akka.cluster.roles = ["{{role}}"]
        akka.cluster.distributed-data.role = "{{role}}"
        """);

    /// <summary>"HOST:PORT" → akka.tcp://SYSTEM@HOST:PORT; a full address stays as it is.</summary>
    public static string SeedAddress(string systemName, string seed)
    {
        var text = seed.Trim();
        if (text.Contains("://", StringComparison.Ordinal)) return Address.Parse(text).ToString();
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new ConfigurationException($"relay.cluster.seed-nodes: \"{seed}\" is not HOST:PORT or an Akka address");
        var host = text[..colon].Trim('[', ']');
        return new Address("akka.tcp", systemName, host, port).ToString();
    }
}
