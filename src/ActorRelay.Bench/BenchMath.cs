namespace ActorRelay.Bench;

/// <summary>Figures the benchmark's tables report.</summary>
internal static class BenchMath
{
    /// <summary>The median (the mean of the middle two for an even count); NaN when there is nothing.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
