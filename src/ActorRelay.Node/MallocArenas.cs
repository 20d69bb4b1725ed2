using System.Runtime.InteropServices;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Caps glibc malloc's arenas in the node process. glibc gives threads arenas of their own as they contend, up to eight
/// per core (16 on two cores), and returns to the system only what is free at the top of each; the runtime's threads
/// (JIT, thread pool, timers) each allocate and free native memory in theirs, so every arena keeps its high-water mark and
/// the resident set grows for an hour while the memory in use stays flat (measured in docs/soak.md: 15 arenas, 20 MB held
/// for 5 MB in use, about 0.5 MB more a minute). Two arenas hold the same memory in use with a flat resident set; the
/// relay's own per-packet path does not call malloc, so the threads sharing them do not contend on the data path.
/// </summary>
internal static partial class MallocArenas
{
    /// <summary>Arenas the node allows itself unless MALLOC_ARENA_MAX or GLIBC_TUNABLES say otherwise.</summary>
    public const int Max = 2;

    private const int MArenaMax = -8; // mallopt's M_ARENA_MAX

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    /// <summary>
    /// Sets M_ARENA_MAX to <see cref="Max"/> (before the process starts most of its threads, so few arenas exist yet);
    /// returns the cap set, or null when the user set one in the environment or this is not glibc on Linux.
    /// </summary>
    public static int? Limit()
    {
        if (!OperatingSystem.IsLinux()) return null;
        if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null) return null;
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("arena_max", StringComparison.Ordinal) == true) return null;
        try
        {
            return MallOpt(MArenaMax, Max) == 1 ? Max : null; // musl's mallopt does nothing and returns 0
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
