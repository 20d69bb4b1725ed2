namespace ActorRelay;

/// <summary>
/// Monotonic milliseconds for latch windows and timeouts, plus wall time for reports. Injected everywhere
/// time matters so tests can drive it by hand (<see cref="ManualRelayClock"/>).
/// </summary>
public abstract class RelayClock
{
    public abstract long NowMs { get; }
    public abstract DateTimeOffset WallNow { get; }
    /// <summary>Monotonic microseconds, for packet arrival times (jitter); a manual clock counts its milliseconds.</summary>
    public virtual long NowMicros => NowMs * 1000;

    /// <summary>Wall time of a monotonic reading taken earlier.</summary>
    public DateTimeOffset ToWall(long ms) => WallNow - TimeSpan.FromMilliseconds(NowMs - ms);

    public static readonly RelayClock System = new SystemRelayClock();

    private sealed class SystemRelayClock : RelayClock
    {
        public override long NowMs => Environment.TickCount64;
        public override DateTimeOffset WallNow => DateTimeOffset.UtcNow;
        public override long NowMicros => (long)(global::System.Diagnostics.Stopwatch.GetTimestamp() * MicrosPerTick);
        private static readonly double MicrosPerTick = 1_000_000.0 / global::System.Diagnostics.Stopwatch.Frequency;
    }
}

/// <summary>A clock that only moves when told to.</summary>
public sealed class ManualRelayClock(long startMs = 1_000_000) : RelayClock
{
    private long _now = startMs;
    private readonly DateTimeOffset _wallStart = DateTimeOffset.UnixEpoch.AddYears(56);
    private readonly long _start = startMs;

    public override long NowMs => Interlocked.Read(ref _now);
    public override DateTimeOffset WallNow => _wallStart + TimeSpan.FromMilliseconds(NowMs - _start);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _now, (long)by.TotalMilliseconds);
}
