namespace ActorRelay.Cluster;

/// <summary>
/// The rates a node's load carries, from two successive readings of its totals: relayed packets per second, and its
/// busiest relay loop's CPU in percent of one core. The first reading gives zeros (nothing to compare with); a total
/// that went down (a relay loop replaced) counts from zero. Pure: the load publisher feeds it.
/// </summary>
public sealed class NodeLoadRates
{
    private long? _lastMs;
    private long _lastRelayed;
    private IReadOnlyList<double> _lastLoopCpuMs = [];

    /// <summary>The rates since the previous reading, at <paramref name="nowMs"/> (a monotonic clock in milliseconds).</summary>
    /// <param name="relayed">Datagrams relayed since the node started.</param>
    /// <param name="loopCpuMs">The CPU milliseconds each relay loop has used (null or empty without relay loops).</param>
    public (double PacketsPerSecond, double RelayLoopCpuPercent) Next(long nowMs, long relayed, IReadOnlyList<double>? loopCpuMs)
    {
        loopCpuMs ??= [];
        var rates = (0.0, 0.0);
        if (_lastMs is { } last && nowMs > last)
        {
            var seconds = (nowMs - last) / 1000.0;
            var packets = relayed >= _lastRelayed ? relayed - _lastRelayed : relayed;
            var busiest = 0.0;
            for (var i = 0; i < loopCpuMs.Count; i++)
            {
                var before = i < _lastLoopCpuMs.Count && _lastLoopCpuMs[i] <= loopCpuMs[i] ? _lastLoopCpuMs[i] : 0;
                busiest = Math.Max(busiest, loopCpuMs[i] - before);
            }
            rates = (packets / seconds, Math.Min(100, busiest / (seconds * 1000) * 100));
        }
        _lastMs = nowMs;
        _lastRelayed = relayed;
        _lastLoopCpuMs = loopCpuMs.ToArray();
        return rates;
    }
}
