using ActorRelay.Protocol;

namespace ActorRelay.Node;

/// <summary>The relay process as the runtime accounts for it (<see cref="GetRuntimeStats"/>).</summary>
internal static class RuntimeStatsReader
{
    /// <summary>Reads the process's figures; with <paramref name="collectGarbage"/> after a full, compacting collection (pauses the process).</summary>
    public static RuntimeStats Read(bool collectGarbage)
    {
        if (collectGarbage) GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return new RuntimeStats(self.TotalProcessorTime.TotalMilliseconds, GC.CollectionCount(0), GC.CollectionCount(1),
            GC.CollectionCount(2), GC.GetTotalPauseDuration().TotalMilliseconds, GC.GetTotalAllocatedBytes(),
            self.WorkingSet64, Environment.ProcessorCount, GC.GetTotalMemory(forceFullCollection: false));
    }
}
