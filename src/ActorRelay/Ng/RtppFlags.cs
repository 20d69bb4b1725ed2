namespace ActorRelay.Ng;

/// <summary>
/// The "rtpp-flags" key: the SIP proxy's raw flag string, parsed here instead of in the proxy (Kamailio sends it
/// when its offer/answer functions get a via-branch argument). Tokens are separated by spaces; a token is a flag
/// ("trust-address") or "key=value", where a value in brackets is a list ("rtcp-mux=[offer require]") or, when
/// its first item has an '=', a dictionary ("codec=[strip=[PCMA] offer=[opus]]"). As in rtpengine: the bare
/// transport tokens RTP, SRTP, AVP, AVPF, DTLS and RTP/AVP ... UDP/TLS/RTP/SAVPF make a transport-protocol;
/// "internal"/"external" and each "direction=x" fill the direction list; "to-tag=x" also sets the to-tag flag.
/// </summary>
internal static class RtppFlags
{
    private const int MaxBracketDepth = 8;

    // rtpengine's transport bits: 0x100 = given, 0x1 = SRTP, 0x2 = AVPF, 0x4 = DTLS.
    private static readonly string?[] TransportNames =
        ["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", null, "UDP/TLS/RTP/SAVPF", null];

    public static void Apply(string text, NgRequestReader reader)
    {
        var transport = 0;
        var position = 0;
        while (NextToken(text, ref position, reader) is { } token)
        {
            var (key, value) = token;
            if (value is null)
            {
                switch (key)
                {
                    case "RTP": transport = (transport | 0x100) & ~0x1; break;
                    case "AVP": transport = (transport | 0x100) & ~0x2; break;
                    case "SRTP": transport |= 0x101; break;
                    case "AVPF": transport |= 0x102; break;
                    case "DTLS": transport |= 0x104; break;
                    case "internal" or "external": reader.AddDirection(key); break;
                    default:
                        var index = Array.IndexOf(TransportNames, key);
                        if (index >= 0) transport = 0x100 | index;
                        else reader.ApplyFlag(key);
                        break;
                }
                continue;
            }
            switch (NgRequest.Normalise(key))
            {
                case "direction" when value is BString name: reader.AddDirection(name.Text); break;
                case "to tag" when value is BString tag: reader.SetToTag(tag.Text); break;
                default: reader.ApplyKey(key, value); break;
            }
        }
        if ((transport & 0x100) != 0)
        {
            if (TransportNames[transport & 0x7] is { } name) reader.SetTransport(name);
            else reader.NotUnderstood("rtpp-flags: impossible transport combination");
        }
    }

    // One "flag" (value null) or "key=value"; null at the end of the text.
    private static (string Key, BValue? Value)? NextToken(string text, ref int position, NgRequestReader reader)
    {
        while (position < text.Length && text[position] == ' ') position++;
        if (position >= text.Length) return null;
        var start = position;
        while (position < text.Length && text[position] is not (' ' or '=')) position++;
        var key = text[start..position];
        if (position >= text.Length || text[position] == ' ') return (key, null);
        position++; // '='
        if (position < text.Length && text[position] == '[')
            return (key, ReadBracket(text, ref position, 1, reader));
        start = position;
        while (position < text.Length && text[position] != ' ') position++;
        return position == start ? (key, null) : (key, new BString(text[start..position]));
    }

    // At '['; reads up to the matching ']' (or the end of the text, noted as unbalanced).
    private static BValue ReadBracket(string text, ref int position, int depth, NgRequestReader reader)
    {
        position++;
        var items = new List<(string? Key, BValue Value)>();
        while (true)
        {
            while (position < text.Length && text[position] == ' ') position++;
            if (position >= text.Length)
            {
                reader.NotUnderstood("rtpp-flags: unbalanced brackets");
                break;
            }
            if (text[position] == ']')
            {
                position++;
                break;
            }
            if (text[position] == '[')
            {
                items.Add((null, ReadNested(text, ref position, depth, reader)));
                continue;
            }
            var start = position;
            while (position < text.Length && text[position] is not (' ' or ']' or '=' or '[')) position++;
            var token = text[start..position];
            if (position < text.Length && text[position] == '=')
            {
                position++;
                if (position < text.Length && text[position] == '[')
                    items.Add((token, ReadNested(text, ref position, depth, reader)));
                else
                {
                    var valueStart = position;
                    while (position < text.Length && text[position] is not (' ' or ']')) position++;
                    items.Add((token, new BString(text[valueStart..position])));
                }
            }
            else
                items.Add((null, new BString(token))); // a following '[' starts the next item
        }
        if (items.Count > 0 && items[0].Key is not null)
        {
            foreach (var item in items.Where(i => i.Key is null))
                reader.NotUnderstood($"rtpp-flags: list item {item.Value} in a dictionary");
            return new BDictionary(items.Where(i => i.Key is not null).Select(i => KeyValuePair.Create(i.Key!, i.Value)));
        }
        return new BList(items.Select(i => i.Key is null ? i.Value : new BString($"{i.Key}={(i.Value as BString)?.Text}")));
    }

    private static BValue ReadNested(string text, ref int position, int depth, NgRequestReader reader)
    {
        if (depth < MaxBracketDepth) return ReadBracket(text, ref position, depth + 1, reader);
        reader.NotUnderstood("rtpp-flags: brackets nested too deep");
        // skip to the end of this nested value
        var level = 0;
        for (; position < text.Length; position++)
        {
            if (text[position] == '[') level++;
            else if (text[position] == ']' && --level == 0) { position++; break; }
        }
        return new BList();
    }
}
