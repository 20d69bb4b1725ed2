using Akka.Actor;

namespace ActorRelay.Settings;

/// <summary>
/// The relay's reference configuration (hocon/relay.conf) as an ActorSystem extension, the way Akka's own modules
/// bring theirs: the first time the relay is used in a system, its defaults join the system's configuration as a
/// fallback (what the system sets wins), so channel mailboxes and the relay's other Akka settings are there even in a
/// system that was not given relay.conf.
/// </summary>
public sealed class RelayReferenceConfig : IExtension
{
    private RelayReferenceConfig(ExtendedActorSystem system)
    {
        if (!system.Settings.Config.HasPath(Channels.CompactMailbox.ConfigPath + ".mailbox-type"))
            system.Settings.InjectTopLevelFallback(RelaySettings.DefaultConfig());
    }

    /// <summary>Makes sure <paramref name="system"/> has the relay's defaults as a fallback (once per system).</summary>
    public static void EnsureIn(ActorSystem system) => system.WithExtension<RelayReferenceConfig, Provider>();

    private sealed class Provider : ExtensionIdProvider<RelayReferenceConfig>
    {
        public override RelayReferenceConfig CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
