using ActorRelay.Settings;

namespace ActorRelay.Node;

/// <summary>
/// How many channels a node can hold: two sockets each within the open-file limit, after what the rest of the process
/// needs; relay.max-channels; and the pool's size.
/// </summary>
public static class NodeCapacity
{
    /// <summary>
    /// Descriptors kept free above what the process holds when the node starts. The runtime opens a pipe (two
    /// descriptors) for every thread it starts, and fails hard when it cannot ("Out of memory.", SIGABRT): the thread
    /// pool starts threads under load and while the node stops, supervisors' connections take a descriptor or two each,
    /// and stopping itself starts threads before any socket is closed. A node at its channel limit keeps this many free.
    /// </summary>
    public const int Headroom = 64;

    /// <summary>Channels the node holds at most: <see cref="ChannelLimit"/> and the port pool (two ports per channel).</summary>
    public static int Of(RelaySettings settings, long? openFileLimit = null, int? openDescriptors = null) =>
        Math.Min(ChannelLimit(settings, openFileLimit, openDescriptors), (settings.PortMax - settings.PortMin + 1) / 2);

    /// <summary>
    /// The limit beyond which an open is rejected with reason Capacity: two sockets per channel within the open-file
    /// limit after <see cref="Reserved"/>, and relay.max-channels when set. The pool's own limit is reported as
    /// PortsExhausted instead, when it runs out.
    /// </summary>
    /// <param name="openFileLimit">The soft open-file limit; read from the process when null.</param>
    /// <param name="openDescriptors">Descriptors the process holds now; counted when null (the node counts them as it starts,
    /// after the actor system and remoting are up).</param>
    public static int ChannelLimit(RelaySettings settings, long? openFileLimit = null, int? openDescriptors = null)
    {
        var limit = openFileLimit ?? FileLimits.Read()?.Soft;
        var byFiles = limit is { } l
            ? (int)Math.Clamp((l - Reserved(settings, openDescriptors ?? FileLimits.OpenDescriptors())) / 2, 0, int.MaxValue)
            : int.MaxValue;
        return settings.MaxChannels > 0 ? Math.Min(settings.MaxChannels, byFiles) : byFiles;
    }

    /// <summary>
    /// Descriptors kept for everything that is not a side socket: relay.file-descriptors-reserved, or what the process
    /// holds (<paramref name="openDescriptors"/>) plus <see cref="Headroom"/> when that is more. The setting alone cannot be
    /// trusted: a node process holds about 200 descriptors before its first channel (assemblies, remoting, the runtime's
    /// pipes and epoll), an application hosting the relay holds its own besides.
    /// </summary>
    public static long Reserved(RelaySettings settings, int? openDescriptors) =>
        Math.Max(settings.FileDescriptorsReserved, (openDescriptors ?? 0) + (long)Headroom);
}
