using System.Runtime.InteropServices;

namespace ActorRelay.Node;

/// <summary>The process's open-file limit (RLIMIT_NOFILE): read it, raise the soft limit to the hard one; count the descriptors it holds.</summary>
public static partial class FileLimits
{
    private const int RlimitNofileLinux = 7;
    private const int RlimitNofileMac = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit { public ulong Current; public ulong Max; }

    [LibraryImport("libc", SetLastError = true, EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true, EntryPoint = "setrlimit")]
    private static partial int SetRLimit(int resource, in RLimit limit);

    private static int Resource => OperatingSystem.IsMacOS() ? RlimitNofileMac : RlimitNofileLinux;

    /// <summary>(soft, hard), or null where the platform has no rlimit (Windows).</summary>
    public static (long Soft, long Hard)? Read()
    {
        if (OperatingSystem.IsWindows()) return null;
        if (GetRLimit(Resource, out var l) != 0) return null;
        return (Clamp(l.Current), Clamp(l.Max));
    }

    /// <summary>Raises the soft limit to the hard limit; returns the limits in force afterwards.</summary>
    public static (long Soft, long Hard)? RaiseSoftToHard()
    {
        if (OperatingSystem.IsWindows()) return null;
        if (GetRLimit(Resource, out var l) != 0) return null;
        if (l.Current < l.Max)
        {
            var raised = new RLimit { Current = l.Max, Max = l.Max };
            SetRLimit(Resource, raised);
        }
        return Read();
    }

    /// <summary>Descriptors the process holds now (/proc/self/fd, /dev/fd on macOS), or null where that cannot be counted.</summary>
    public static int? OpenDescriptors()
    {
        var dir = OperatingSystem.IsLinux() ? "/proc/self/fd" : OperatingSystem.IsMacOS() ? "/dev/fd" : null;
        if (dir is null) return null;
        try
        {
            return Math.Max(0, Directory.EnumerateFileSystemEntries(dir).Count() - 1); // less the one this listing opens
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static long Clamp(ulong v) => v > int.MaxValue ? int.MaxValue : (long)v;
}
