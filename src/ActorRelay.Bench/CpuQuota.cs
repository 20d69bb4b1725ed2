namespace ActorRelay.Bench;

/// <summary>
/// Holds a relay process to a share of one core with the kernel's CPU bandwidth control (cgroup v2 <c>cpu.max</c>, or v1
/// <c>cpu.cfs_quota_us</c>), in 10 ms periods (<c>--relay-cpu-period</c> for others, e.g. a container's 100 ms): how the overload run makes a relay's sustainable load small enough for the
/// generator to offer twice of it on this 2-core machine. Needs root. Removed again when disposed.
/// </summary>
internal sealed class CpuQuota : IDisposable
{
    /// <summary>The bandwidth period unless --relay-cpu-period says otherwise: 10 ms (a container's default is 100 ms).</summary>
    public const int DefaultPeriodMicroseconds = 10_000;
    private readonly string _dir;
    private readonly bool _v2;

    private CpuQuota(string dir, bool v2) => (_dir, _v2) = (dir, v2);

    public static CpuQuota Apply(int pid, int percentOfOneCore, int periodMicroseconds = DefaultPeriodMicroseconds)
    {
        var quota = Create($"actorrelay-bench-{pid}", percentOfOneCore, periodMicroseconds);
        quota.Join(pid);
        return quota;
    }

    /// <summary>
    /// An empty group named <paramref name="name"/> with the quota; a relay started in it (<see cref="Directory"/>,
    /// <see cref="RelayUnderTest.LaunchGroup"/>) is held from its first instruction, as a container's process is.
    /// </summary>
    public static CpuQuota Create(string name, int percentOfOneCore, int periodMicroseconds = DefaultPeriodMicroseconds)
    {
        if (percentOfOneCore is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(percentOfOneCore), "1..100");
        if (periodMicroseconds is < 1_000 or > 1_000_000) throw new ArgumentOutOfRangeException(nameof(periodMicroseconds), "1000..1000000 µs");
        var quota = periodMicroseconds * percentOfOneCore / 100;
        string dir;
        var v2 = false;
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers") && File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Contains("cpu"))
        {
            File.WriteAllText("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
            dir = Path.Combine("/sys/fs/cgroup", name);
            System.IO.Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cpu.max"), $"{quota} {periodMicroseconds}");
            v2 = true;
        }
        else if (System.IO.Directory.Exists("/sys/fs/cgroup/cpu"))
        {
            dir = Path.Combine("/sys/fs/cgroup/cpu", name);
            System.IO.Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cpu.cfs_period_us"), periodMicroseconds.ToString());
            File.WriteAllText(Path.Combine(dir, "cpu.cfs_quota_us"), quota.ToString());
        }
        else throw new InvalidOperationException("no cgroup cpu controller found (/sys/fs/cgroup): --relay-cpu-quota needs one, and root");
        return new CpuQuota(dir, v2);
    }

    /// <summary>The group's directory (its cgroup.procs takes a process).</summary>
    public string Directory => _dir;

    /// <summary>Moves a running process (all its threads) into the group.</summary>
    public void Join(int pid) => File.WriteAllText(Path.Combine(_dir, "cgroup.procs"), pid.ToString());

    /// <summary>
    /// The group's bandwidth accounting so far (<c>cpu.stat</c>): periods with runnable threads, periods in which the
    /// group used its quota up and was stopped until the next one, and the time it spent stopped.
    /// </summary>
    public Throttling Stat()
    {
        long periods = 0, throttled = 0, throttledUs = 0;
        foreach (var line in File.ReadLines(Path.Combine(_dir, "cpu.stat")))
        {
            var kv = line.Split(' ');
            if (kv.Length != 2) continue;
            switch (kv[0])
            {
                case "nr_periods": periods = long.Parse(kv[1]); break;
                case "nr_throttled": throttled = long.Parse(kv[1]); break;
                case "throttled_usec": throttledUs = long.Parse(kv[1]); break;
                case "throttled_time" when !_v2: throttledUs = long.Parse(kv[1]) / 1000; break; // v1: nanoseconds
            }
        }
        return new Throttling(periods, throttled, throttledUs);
    }

    /// <summary>Removes the group once its process has exited (the relay is disposed first).</summary>
    public void Dispose()
    {
        for (var i = 0; i < 50; i++)
        {
            try { System.IO.Directory.Delete(_dir); return; }
            catch (IOException) { Thread.Sleep(100); } // the process is still leaving the group
        }
    }
}

/// <summary>cpu.stat's bandwidth counters at one moment; <see cref="Since"/> gives a window's.</summary>
internal sealed record Throttling(long Periods, long ThrottledPeriods, long ThrottledMicroseconds)
{
    public Throttling Since(Throttling before) =>
        new(Periods - before.Periods, ThrottledPeriods - before.ThrottledPeriods, ThrottledMicroseconds - before.ThrottledMicroseconds);

    /// <summary>Share of the window's periods in which the group was stopped, in %.</summary>
    public double ThrottledPercent => Periods == 0 ? 0 : Math.Round(100.0 * ThrottledPeriods / Periods, 1);

    public double ThrottledMilliseconds => Math.Round(ThrottledMicroseconds / 1000.0, 1);
}
