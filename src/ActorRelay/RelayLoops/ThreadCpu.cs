using System.Globalization;

namespace ActorRelay.RelayLoops;

/// <summary>A thread's CPU time as Linux accounts it (/proc/self/task/TID/stat: utime + stime, in clock ticks).</summary>
internal static class ThreadCpu
{
    private static readonly long TicksPerSecond = TicksPerSecondOf();

    /// <summary>The CPU time of thread <paramref name="tid"/> of this process, or null when it cannot be read (gone, not Linux).</summary>
    public static TimeSpan? Read(int tid)
    {
        try
        {
            return Parse(File.ReadAllText($"/proc/self/task/{tid}/stat"), TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// utime + stime of a stat line ("TID (NAME) STATE PPID ..."; fields 14 and 15, counted after the name, which may
    /// hold spaces and parentheses), or null when the line is not one.
    /// </summary>
    public static TimeSpan? Parse(string stat, long ticksPerSecond)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0 || ticksPerSecond <= 0) return null;
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (state): utime is field 14, stime 15
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var user)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var system)) return null;
        return TimeSpan.FromSeconds((double)(user + system) / ticksPerSecond);
    }

    private static long TicksPerSecondOf()
    {
        try
        {
            return OperatingSystem.IsLinux() && LinuxUdp.sysconf(LinuxUdp._SC_CLK_TCK) is > 0 and var t ? t : 100;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100;
        }
    }
}
