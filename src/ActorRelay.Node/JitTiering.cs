using System.Globalization;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Whether the runtime compiles this process in tiers. The node is built without tiered compilation (its project file:
/// <c>TieredCompilation</c> false in its runtimeconfig.json, for the relay loops' sake, issue 13); the runtime's own
/// environment variable, read as the process starts, wins over that, either way.
/// </summary>
internal static class JitTiering
{
    /// <summary>The runtime's switch (also read with the older COMPlus_ prefix).</summary>
    public const string Variable = "DOTNET_TieredCompilation";

    private const string LegacyVariable = "COMPlus_TieredCompilation";
    private const string RuntimeConfigSwitch = "System.Runtime.TieredCompilation";

    /// <summary>Whether tiered compilation is on in this process.</summary>
    public static bool OnInThisProcess() =>
        On(Environment.GetEnvironmentVariable(Variable), Environment.GetEnvironmentVariable(LegacyVariable), AppContext.GetData(RuntimeConfigSwitch));

    /// <summary>
    /// Whether tiered compilation is on, as the runtime decides it: the DOTNET_ variable, else the COMPlus_ one (a number
    /// in hexadecimal, 0 for off; a value that is not a number is ignored), else the runtimeconfig.json switch, else on.
    /// </summary>
    public static bool On(string? variable, string? legacyVariable, object? runtimeConfig)
    {
        foreach (var value in new[] { variable, legacyVariable })
            if (value is not null && uint.TryParse(value.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var number))
                return number != 0;
        return runtimeConfig switch
        {
            bool on => on,
            string text when bool.TryParse(text, out var on) => on,
            _ => true,
        };
    }
}
