using System.Globalization;

namespace ActorRelay.Bench;

/// <summary>
/// The node's relay loop lag histogram (<c>actorrelay_relay_loop_lag_seconds</c>, Prometheus text format): cumulative
/// counts per upper bound, summed over the loops. <see cref="Since"/> takes the window between two scrapes; the
/// quantiles are the upper bound of the bucket the quantile falls in (the histogram's resolution: factors of 2).
/// </summary>
internal sealed record LoopLag(double[] UpperBounds, long[] Cumulative)
{
    private const string Name = "actorrelay_relay_loop_lag_seconds_bucket";
    /// <summary>The node's queue delay histogram (one datagram in 16: kernel receive time to the loop's read).</summary>
    public const string QueueDelayName = "actorrelay_relay_queue_delay_seconds_bucket";

    public static LoopLag? Parse(string text, string name = Name)
    {
        var buckets = new SortedDictionary<double, long>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
            var le = line.IndexOf("le=\"", StringComparison.Ordinal);
            if (le < 0) continue;
            var end = line.IndexOf('"', le + 4);
            var bound = line[(le + 4)..end] == "+Inf" ? double.PositiveInfinity : double.Parse(line[(le + 4)..end], CultureInfo.InvariantCulture);
            var count = (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            buckets[bound] = buckets.GetValueOrDefault(bound) + count; // one series per loop: summed
        }
        return buckets.Count == 0 ? null : new LoopLag(buckets.Keys.ToArray(), buckets.Values.ToArray());
    }

    public long Count => Cumulative.Length == 0 ? 0 : Cumulative[^1];

    public LoopLag Since(LoopLag? before) =>
        before is null || before.UpperBounds.Length != UpperBounds.Length ? this
            : this with { Cumulative = Cumulative.Select((c, i) => c - before.Cumulative[i]).ToArray() };

    /// <summary>The upper bound (ms) of the bucket holding quantile <paramref name="q"/>; NaN when empty; beyond the last finite
    /// bound, twice that bound (JSON has no infinity: read it as "more than the last bound").</summary>
    public double QuantileMs(double q)
    {
        if (Count == 0) return double.NaN;
        var rank = (long)Math.Ceiling(q * Count);
        for (var i = 0; i < Cumulative.Length; i++)
            if (Cumulative[i] >= rank) return (double.IsInfinity(UpperBounds[i]) ? UpperBounds[^2] * 2 : UpperBounds[i]) * 1000;
        return UpperBounds[^2] * 2000;
    }

    /// <summary>Wake-ups that took longer than <paramref name="ms"/> (counted at the nearest bucket bound at or above it).</summary>
    public long Above(double ms)
    {
        var i = Array.FindIndex(UpperBounds, b => b * 1000 >= ms);
        return i < 0 ? 0 : Count - Cumulative[i];
    }
}
