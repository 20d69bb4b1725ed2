using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace ActorRelay.Bench;

/// <summary>
/// <c>--alloc-types</c>: what the process allocates, by type, from the runtime's allocation ticks (one event per
/// ~100 KB allocated, naming the type of the object that crossed the mark: a sample, good for the large shares).
/// Meaningful with <c>--in-process</c>, where the relay allocates in this process (the generator's own share, if
/// any, shows under its types).
/// </summary>
internal sealed class AllocationByType : EventListener
{
    private const long BytesPerTick = 100_000; // the runtime's AllocationTick interval
    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private volatile bool _on;

    public void Start()
    {
        _bytes.Clear();
        _on = true;
    }

    /// <summary>Stops sampling and prints the largest shares per unit (per packet, per open).</summary>
    public void StopAndPrint(long units, string unit, int top = 40)
    {
        _on = false;
        if (units <= 0) return;
        Console.WriteLine($"allocated by type (sampled every ~100 KB), per {unit}:");
        foreach (var (type, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(top))
            Console.WriteLine($"  {(double)bytes / units,9:F1} B  {type}");
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_on || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null) return;
        var type = e.Payload![e.PayloadNames.IndexOf("TypeName")]?.ToString() ?? "?";
        _bytes.AddOrUpdate(type, BytesPerTick, (_, v) => v + BytesPerTick);
    }
}
