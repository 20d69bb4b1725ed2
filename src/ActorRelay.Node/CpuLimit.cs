using System.Globalization;

namespace ActorRelay.NodeProcess;

/// <summary>
/// The CPU share the node's control group allows it (CFS bandwidth control: a container's CPU limit), read from
/// <c>/proc/self/cgroup</c> and the group's <c>cpu.max</c> (cgroup v2) or <c>cpu.cfs_quota_us</c> /
/// <c>cpu.cfs_period_us</c> (v1), in cores; null when the process is not limited.
/// <para>
/// Why the node reads it (issue 13): under a quota every thread of the process spends one budget per period, and once
/// it is spent the kernel stops all of them, the relay loops too, until the next period. At a limit below one core the
/// tiered JIT's background recompilation (tier 1 and dynamic PGO of about a thousand methods, 2-3 s of CPU after the
/// channels open and the packets flow) used half of a 30 % share for 20-30 s while the loops needed the other half,
/// and the node was stopped in 80-99 % of the periods. <see cref="TieredCompilationOff"/> says when the node starts
/// without tiering instead: every method is compiled once, fully optimised, when first called (before "All set." for
/// the most part), and nothing recompiles in the background afterwards.
/// </para>
/// </summary>
internal static class CpuLimit
{
    /// <summary>Below this many cores the node runs without tiered compilation (<see cref="TieredCompilationOff"/>).</summary>
    public const double TieringOffBelowCores = 1.0;

    /// <summary>The runtime's own switch; set by the user, it wins over the node's choice.</summary>
    public const string TieredCompilationVariable = "DOTNET_TieredCompilation";

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

    /// <summary>
    /// True when the node should start without tiered compilation: a limit below <see cref="TieringOffBelowCores"/>,
    /// and the user has not set <see cref="TieredCompilationVariable"/> themselves (either way).
    /// </summary>
    public static bool TieredCompilationOff(double? cores, string? tieredCompilationVariable) =>
        tieredCompilationVariable is null && cores is { } c && c < TieringOffBelowCores;
}
