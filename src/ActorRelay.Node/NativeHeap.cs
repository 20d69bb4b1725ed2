using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Keeps glibc malloc from holding memory the node no longer uses. glibc gives threads arenas of their own as they contend
/// (up to eight per core: 16 on two cores) and returns to the system only what is free at the top of an arena; the
/// runtime's threads (JIT, thread pool, timers, sockets) allocate and free native memory in theirs, so each arena keeps
/// its high-water mark and the node's resident set grew by 0.5-1 MB a minute while the memory in use stayed at 5 MB
/// (docs/soak.md). The node therefore runs with two arenas (<see cref="RestartWithStartupEnvironment"/>) and hands free pages back
/// once a minute (<see cref="StartTrimming"/>, malloc_trim: under a millisecond). The relay's per-packet path does not
/// call malloc, so the threads sharing two arenas do not contend on it.
/// </summary>
internal static partial class NativeHeap
{
    /// <summary>glibc's malloc arenas the node runs with (MALLOC_ARENA_MAX) unless the environment sets it.</summary>
    public const int ArenaMax = 2;

    private const string ArenaMaxVariable = "MALLOC_ARENA_MAX";

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static unsafe partial int Execve(byte* path, byte** argv, byte** envp);

    /// <summary>
    /// Starts the process again in place (execve: same process id, descriptors, limits and arguments) with what must be
    /// in its environment before the runtime starts: MALLOC_ARENA_MAX=<see cref="ArenaMax"/> unless it is set already
    /// (by the user, or by this): glibc reads it when the process starts, before the runtime's first threads take arenas
    /// of their own, and mallopt from Main comes too late (six arenas exist by then). Does nothing on other systems.
    /// Returns only when it did not restart.
    /// </summary>
    public static unsafe void RestartWithStartupEnvironment()
    {
        if (!OperatingSystem.IsLinux()) return;
        var add = new List<string>();
        if (Environment.GetEnvironmentVariable(ArenaMaxVariable) is null &&
            Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("arena_max", StringComparison.Ordinal) != true)
            add.Add($"{ArenaMaxVariable}={ArenaMax}");
        if (add.Count == 0) return;
        string[] argv;
        try
        {
            argv = File.ReadAllText("/proc/self/cmdline").Split('\0')[..^1];
        }
        catch (IOException) { return; }
        if (argv.Length == 0) return;
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}").Concat(add).ToArray();
        var strings = new List<nint>();
        nint Utf8(string text) { var p = Marshal.StringToCoTaskMemUTF8(text); strings.Add(p); return p; }
        try
        {
            var args = argv.Select(Utf8).Append(0).ToArray();
            var envp = env.Select(Utf8).Append(0).ToArray();
            var path = Utf8("/proc/self/exe");
            RemoveDiagnosticsSocket();
            fixed (nint* a = args, e = envp)
                Execve((byte*)path, (byte**)a, (byte**)e); // returns only when it failed: run on as we are
        }
        finally
        {
            foreach (var p in strings) Marshal.FreeCoTaskMem(p);
        }
    }

    /// <summary>
    /// Removes this runtime's diagnostics socket (<c>$TMPDIR/dotnet-diagnostic-PID-START-socket</c>, what dotnet-counters,
    /// dotnet-trace and dotnet-dump connect to). The runtime started by execve has the same process id and start time, so
    /// it names its socket the same; it could not bind it while the old file stayed, and the node was unreachable to
    /// those tools. (Should execve fail, the node runs on without that socket.)
    /// </summary>
    private static void RemoveDiagnosticsSocket()
    {
        try
        {
            foreach (var socket in Directory.EnumerateFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
                File.Delete(socket);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the tools will not attach; the node runs all the same
    }

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
