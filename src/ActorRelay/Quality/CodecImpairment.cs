namespace ActorRelay.Quality;

/// <summary>
/// A codec's E-model figures (ITU-T G.113 Appendix I, provisional planning values, random packet loss):
/// <see cref="Ie"/>, the equipment impairment factor at zero loss, and <see cref="Bpl"/>, the packet-loss robustness
/// factor (higher = more robust). Both feed <see cref="EModel.EffectiveEquipmentImpairment"/>.
/// </summary>
public readonly record struct CodecImpairment(string Name, double Ie, double Bpl)
{
    /// <summary>G.711 (PCMU/PCMA) with packet loss concealment (G.711 Appendix I): Ie 0, Bpl 25.1. The default.</summary>
    public static readonly CodecImpairment G711 = new("G.711 with PLC", 0, 25.1);
    /// <summary>G.711 without packet loss concealment: Ie 0, Bpl 4.3.</summary>
    public static readonly CodecImpairment G711WithoutPlc = new("G.711 without PLC", 0, 4.3);
    /// <summary>G.729A with VAD: Ie 11, Bpl 19.0.</summary>
    public static readonly CodecImpairment G729A = new("G.729A+VAD", 11, 19.0);
    /// <summary>G.723.1 at 6.3 kbit/s with VAD: Ie 15, Bpl 16.1.</summary>
    public static readonly CodecImpairment G7231 = new("G.723.1+VAD 6.3 kbit/s", 15, 16.1);
    /// <summary>GSM-EFR: Ie 5, Bpl 10.0.</summary>
    public static readonly CodecImpairment GsmEfr = new("GSM-EFR", 5, 10.0);

    /// <summary>The figures for an SDP encoding name (rtpmap, case-insensitive), or null for a codec without planning values here.</summary>
    public static CodecImpairment? ForEncodingName(string? encodingName)
    {
        if (encodingName is null) return null;
        if (encodingName.Equals("PCMU", StringComparison.OrdinalIgnoreCase) ||
            encodingName.Equals("PCMA", StringComparison.OrdinalIgnoreCase)) return G711;
        if (encodingName.Equals("G729", StringComparison.OrdinalIgnoreCase) ||
            encodingName.Equals("G729A", StringComparison.OrdinalIgnoreCase)) return G729A;
        if (encodingName.Equals("G723", StringComparison.OrdinalIgnoreCase)) return G7231;
        if (encodingName.Equals("GSM-EFR", StringComparison.OrdinalIgnoreCase)) return GsmEfr;
        return null;
    }
}
