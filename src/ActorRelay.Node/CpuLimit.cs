using System.Globalization;

namespace ActorRelay.NodeProcess;

/// <summary>
/// The CPU share the node's control group allows it (CFS bandwidth control: a container's CPU limit), read from
/// <c>/proc/self/cgroup</c> and the group's <c>cpu.max</c> (cgroup v2) or <c>cpu.cfs_quota_us</c> /
/// <c>cpu.cfs_period_us</c> (v1), in cores; null when the process is not limited.
/// <para>
/// Why the node reads it (issue 13): under a quota every thread of the process spends one budget per period, and once
/// it is spent the kernel stops all of them, the relay loops too, until the next period. The node says its limit at
/// start, beside what the runtime makes of it (the processors it counts), so an operator sees what the node is held to.
/// Under a 30 % share the tiered JIT's background recompilation alone spent half of it for 20-30 s after the channels
/// opened; the node runs without tiered compilation (<see cref="JitTiering"/>).
/// </para>
/// </summary>
internal static class CpuLimit
{
    /// <summary>The limit of the process's own group in cores, or null (no limit, not Linux, or unreadable).</summary>
    public static double? OfThisProcess()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return Read(File.ReadAllText("/proc/self/cgroup"), path => File.Exists(path) ? File.ReadAllText(path) : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The limit from <paramref name="procSelfCgroup"/> (the text of /proc/self/cgroup) and the files
    /// <paramref name="readFile"/> returns (null where one does not exist). A v1 cpu controller wins over the unified
    /// hierarchy (on a hybrid host the v2 group does not hold the cpu controller). The mount points are the usual
    /// /sys/fs/cgroup (v2) and /sys/fs/cgroup/cpu (v1, cpu and cpuacct co-mounted).
    /// </summary>
    public static double? Read(string procSelfCgroup, Func<string, string?> readFile)
    {
        string? v2 = null;
        foreach (var line in procSelfCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            if (parts[0] == "0" && parts[1] == "") { v2 = parts[2]; continue; }
            if (!parts[1].Split(',').Contains("cpu")) continue;
            var dir = "/sys/fs/cgroup/cpu" + (parts[2] == "/" ? "" : parts[2]);
            return FromV1(readFile(dir + "/cpu.cfs_quota_us"), readFile(dir + "/cpu.cfs_period_us"));
        }
        return v2 is null ? null : FromCpuMax(readFile("/sys/fs/cgroup" + (v2 == "/" ? "" : v2) + "/cpu.max"));
    }

    /// <summary>cgroup v2 <c>cpu.max</c>: "QUOTA PERIOD" in µs, or "max PERIOD" for none.</summary>
    public static double? FromCpuMax(string? cpuMax)
    {
        var parts = cpuMax?.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts is not { Length: 2 } || parts[0] == "max") return null;
        return Cores(parts[0], parts[1]);
    }

    /// <summary>cgroup v1: <c>cpu.cfs_quota_us</c> (-1 for none) over <c>cpu.cfs_period_us</c>.</summary>
    public static double? FromV1(string? quota, string? period) =>
        quota is null || period is null || quota.Trim() == "-1" ? null : Cores(quota.Trim(), period.Trim());

    private static double? Cores(string quota, string period) =>
        long.TryParse(quota, NumberStyles.None, CultureInfo.InvariantCulture, out var q) &&
        long.TryParse(period, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && q > 0 && p > 0
            ? (double)q / p
            : null;
}
