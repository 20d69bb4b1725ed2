namespace ActorRelay.Bench;

/// <summary>
/// Holds a relay process to a share of one core with the kernel's CPU bandwidth control (cgroup v2 <c>cpu.max</c>, or v1
/// <c>cpu.cfs_quota_us</c>), in 10 ms periods: how the overload run makes a relay's sustainable load small enough for the
/// generator to offer twice of it on this 2-core machine. Needs root. Removed again when disposed.
/// </summary>
internal sealed class CpuQuota : IDisposable
{
    private const int PeriodMicroseconds = 10_000;
    private readonly string _dir;

    private CpuQuota(string dir) => _dir = dir;

    public static CpuQuota Apply(int pid, int percentOfOneCore)
    {
        if (percentOfOneCore is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(percentOfOneCore), "1..100");
        var quota = PeriodMicroseconds * percentOfOneCore / 100;
        string dir;
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers") && File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Contains("cpu"))
        {
            File.WriteAllText("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
            dir = Path.Combine("/sys/fs/cgroup", $"actorrelay-bench-{pid}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cpu.max"), $"{quota} {PeriodMicroseconds}");
        }
        else if (Directory.Exists("/sys/fs/cgroup/cpu"))
        {
            dir = Path.Combine("/sys/fs/cgroup/cpu", $"actorrelay-bench-{pid}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cpu.cfs_period_us"), PeriodMicroseconds.ToString());
            File.WriteAllText(Path.Combine(dir, "cpu.cfs_quota_us"), quota.ToString());
        }
        else throw new InvalidOperationException("no cgroup cpu controller found (/sys/fs/cgroup): --relay-cpu-quota needs one, and root");
        File.WriteAllText(Path.Combine(dir, "cgroup.procs"), pid.ToString());
        return new CpuQuota(dir);
    }

    /// <summary>Removes the group once its process has exited (the relay is disposed first).</summary>
    public void Dispose()
    {
        for (var i = 0; i < 50; i++)
        {
            try { Directory.Delete(_dir); return; }
            catch (IOException) { Thread.Sleep(100); } // the process is still leaving the group
        }
    }
}
