using ActorRelay.Settings;

namespace ActorRelay.Node;

/// <summary>How many channels a node can hold: two sockets each within the open-file limit, relay.max-channels, and the pool's size.</summary>
public static class NodeCapacity
{
    /// <summary>Channels the node holds at most: <see cref="ChannelLimit"/> and the port pool (two ports per channel).</summary>
    public static int Of(RelaySettings settings, long? openFileLimit = null) =>
        Math.Min(ChannelLimit(settings, openFileLimit), (settings.PortMax - settings.PortMin + 1) / 2);

    /// <summary>
    /// The limit beyond which an open is rejected with reason Capacity: two sockets per channel within the open-file
    /// limit (after relay.file-descriptors-reserved), and relay.max-channels when set. The pool's own limit is
    /// reported as PortsExhausted instead, when it runs out.
    /// </summary>
    public static int ChannelLimit(RelaySettings settings, long? openFileLimit = null)
    {
        var limit = openFileLimit ?? FileLimits.Read()?.Soft;
        var byFiles = limit is { } l ? (int)Math.Clamp((l - settings.FileDescriptorsReserved) / 2, 0, int.MaxValue) : int.MaxValue;
        return settings.MaxChannels > 0 ? Math.Min(settings.MaxChannels, byFiles) : byFiles;
    }
}
