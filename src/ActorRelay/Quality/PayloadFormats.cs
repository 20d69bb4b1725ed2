using System.Globalization;

namespace ActorRelay.Quality;

/// <summary>What the quality figures need to know about one RTP payload type.</summary>
/// <param name="ClockRate">RTP timestamp rate in Hz; 0 when unknown.</param>
/// <param name="Codec">E-model figures, or null when the codec has none here.</param>
/// <param name="IsEvent">telephone-event (RFC 4733): every packet of an event repeats the event's start timestamp,
/// so these packets are counted for sequence and loss but never feed the jitter estimate.</param>
public readonly record struct PayloadFormat(int ClockRate, CodecImpairment? Codec, bool IsEvent);

/// <summary>
/// RTP payload type → clock rate (and codec figures) for one stream: the static payload types of RFC 3551 §6
/// (Table 4 and 5), plus dynamic ones registered from signalling (an SDP <c>a=rtpmap</c>). A payload type that is
/// neither is taken as 8 kHz, and the figures computed with it say the rate was assumed.
/// <para>Threading: lookups (the data path, every packet) read an immutable table through one volatile reference,
/// no lock. Registrations may come from any thread: they copy the table under a private lock (never taken by the
/// data path) and publish the copy; a packet sees either the old table or the new one.</para>
/// </summary>
public sealed class PayloadFormats
{
    /// <summary>The rate used for a payload type that is neither static nor registered (RFC 3551's narrowband audio rate).</summary>
    public const int AssumedClockRate = 8000;

    private static readonly PayloadFormat[] StaticTable = BuildStaticTable();
    private readonly object _registering = new();
    private volatile PayloadFormat[] _table = StaticTable;

    /// <summary>The RFC 3551 clock rate of a static payload type, or 0 (unassigned, reserved, or dynamic 96..127).</summary>
    public static int StaticClockRate(byte payloadType) => payloadType < 128 ? StaticTable[payloadType].ClockRate : 0;

    /// <summary>The format of <paramref name="payloadType"/> (0..127): static or registered; a ClockRate of 0 means unknown.</summary>
    public PayloadFormat Lookup(byte payloadType) => _table[payloadType & 0x7F];

    /// <summary>
    /// Registers (or replaces) a payload type's clock rate, e.g. from <c>a=rtpmap:96 opus/48000/2</c>; the encoding
    /// name, when given, selects the codec's E-model figures and marks telephone-event.
    /// </summary>
    public void Register(byte payloadType, int clockRate, string? encodingName = null)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadType, (byte)127);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clockRate);
        var format = new PayloadFormat(
            clockRate,
            CodecImpairment.ForEncodingName(encodingName),
            string.Equals(encodingName, "telephone-event", StringComparison.OrdinalIgnoreCase));
        lock (_registering)
        {
            var copy = (PayloadFormat[])_table.Clone();
            copy[payloadType] = format;
            _table = copy;
        }
    }

    /// <summary>
    /// Registers the value of an SDP rtpmap attribute, <c>"&lt;payload type&gt; &lt;encoding name&gt;/&lt;clock rate&gt;[/&lt;parameters&gt;]"</c>
    /// (RFC 8866 §6.6), e.g. <c>"101 telephone-event/8000"</c>. Returns false, registering nothing, when it does not parse.
    /// </summary>
    public bool TryRegisterRtpmap(string? rtpmap)
    {
        if (rtpmap is null || rtpmap.Length > 256) return false;
        var text = rtpmap.AsSpan().Trim();
        var space = text.IndexOf(' ');
        if (space <= 0) return false;
        if (!byte.TryParse(text[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var pt) || pt > 127) return false;
        var rest = text[(space + 1)..].Trim();
        var slash = rest.IndexOf('/');
        if (slash <= 0) return false;
        var name = rest[..slash];
        var rateText = rest[(slash + 1)..];
        var next = rateText.IndexOf('/');
        if (next >= 0) rateText = rateText[..next];
        if (!int.TryParse(rateText, NumberStyles.None, CultureInfo.InvariantCulture, out var rate) || rate <= 0) return false;
        Register(pt, rate, name.ToString());
        return true;
    }

    private static PayloadFormat[] BuildStaticTable()
    {
        var t = new PayloadFormat[128];
        void Audio(int pt, int rate, CodecImpairment? codec = null) => t[pt] = new PayloadFormat(rate, codec, false);
        // RFC 3551 Table 4 (audio)
        Audio(0, 8000, CodecImpairment.G711);   // PCMU
        Audio(3, 8000);                         // GSM (full rate: no Bpl in the planning values)
        Audio(4, 8000, CodecImpairment.G7231);  // G723
        Audio(5, 8000);                         // DVI4
        Audio(6, 16000);                        // DVI4
        Audio(7, 8000);                         // LPC
        Audio(8, 8000, CodecImpairment.G711);   // PCMA
        Audio(9, 8000);                         // G722: 8000 by RFC 3551's historical error, the samples are 16 kHz
        Audio(10, 44100);                       // L16 stereo
        Audio(11, 44100);                       // L16 mono
        Audio(12, 8000);                        // QCELP
        Audio(13, 8000);                        // CN
        Audio(14, 90000);                       // MPA
        Audio(15, 8000);                        // G728
        Audio(16, 11025);                       // DVI4
        Audio(17, 22050);                       // DVI4
        Audio(18, 8000, CodecImpairment.G729A); // G729
        // RFC 3551 Table 5 (video)
        foreach (var pt in new[] { 25, 26, 28, 31, 32, 33, 34 }) Audio(pt, 90000); // CelB, JPEG, nv, H261, MPV, MP2T, H263
        return t;
    }
}
