using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Hands glibc malloc's free memory back to the system once a minute (malloc_trim). glibc gives threads arenas of their
/// own as they contend (up to eight per core: 16 on two cores) and returns to the system only what is free at the top of
/// an arena; the runtime's threads (JIT, thread pool, timers, sockets) allocate and free native memory in theirs, so each
/// arena keeps its high-water mark and the node's resident set grew by about 0.5 MB a minute for the first hour while the
/// memory in use stayed at 5 MB (docs/soak.md). Capping the arenas from inside the process comes too late (the runtime
/// has made several before Main) and did not help; trimming returns the free pages of every arena, whatever their number.
/// A trim takes well under a millisecond here; the relay's per-packet path does not call malloc, so it never waits for one.
/// </summary>
internal static partial class NativeHeap
{
    /// <summary>How often the node trims.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    private static bool _unavailable;

    /// <summary>True where this is glibc on Linux (the only malloc with malloc_trim).</summary>
    public static bool Supported => OperatingSystem.IsLinux() && !_unavailable && Trim() is not null;

    /// <summary>Returns free memory of every arena to the system; how long it took, or null where there is no malloc_trim.</summary>
    public static TimeSpan? Trim()
    {
        if (!OperatingSystem.IsLinux() || _unavailable) return null;
        try
        {
            var started = Stopwatch.GetTimestamp();
            MallocTrim(0);
            return Stopwatch.GetElapsedTime(started);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true; // musl has no malloc_trim
            return null;
        }
    }

    /// <summary>Trims every <see cref="Interval"/> on a timer thread until disposed; null where trimming is not supported.</summary>
    public static IDisposable? StartTrimming(Action<TimeSpan>? trimmed = null)
    {
        if (!Supported) return null;
        return new Timer(_ => { if (Trim() is { } took) trimmed?.Invoke(took); }, null, Interval, Interval);
    }
}
