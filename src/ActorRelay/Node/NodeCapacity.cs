using ActorRelay.Settings;

namespace ActorRelay.Node;

/// <summary>How many channels a node can hold: two sockets each within the open-file limit, and the pool's size.</summary>
public static class NodeCapacity
{
    public static int Of(RelaySettings settings, long? openFileLimit = null)
    {
        var byPool = (settings.PortMax - settings.PortMin + 1) / 2;
        var limit = openFileLimit ?? FileLimits.Read()?.Soft;
        var byFiles = limit is { } l ? (int)Math.Max(0, (l - settings.FileDescriptorsReserved) / 2) : int.MaxValue;
        var capacity = Math.Min(byPool, byFiles);
        return settings.MaxChannels > 0 ? Math.Min(settings.MaxChannels, capacity) : capacity;
    }
}
