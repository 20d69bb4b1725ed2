using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Ng;

public enum NgCommand { Unknown, Ping, Offer, Answer, Delete, Query, List, Statistics }

public enum NgAddressFamily { IP4, IP6 }

/// <summary>The "ICE" key: what to do with ICE attributes (rtpengine's default, key absent, behaves as <see cref="Default"/>).</summary>
public enum NgIceOption { Default, Remove, Force, ForceRelay, Optional }

/// <summary>The "replace" list: which parts of the SDP besides the media addresses and ports to rewrite.</summary>
[Flags]
public enum NgReplace
{
    None = 0,
    /// <summary>"origin": the address in the o= line.</summary>
    Origin = 1,
    /// <summary>"session-connection": the session-level c= even when every media section has its own (rtpengine dropped it and always decides by itself).</summary>
    SessionConnection = 2,
    /// <summary>"zero-address": a 0.0.0.0 / :: (hold) address is replaced by the relay's instead of passed through.</summary>
    ZeroAddress = 4,
}

/// <summary>The "rtcp-mux" list (RFC 5761 RTP/RTCP multiplexing on one port).</summary>
[Flags]
public enum NgRtcpMux { None = 0, Offer = 1, Require = 2, Demux = 4, Accept = 8, Reject = 16 }

/// <summary>The "flags" list entries this endpoint understands (rtpengine spellings in the comments).</summary>
[Flags]
public enum NgFlags : long
{
    None = 0,
    /// <summary>"trust-address": SDP addresses are the endpoints (rtpengine's default).</summary>
    TrustAddress = 1 << 0,
    /// <summary>"SIP-source-address": ignore SDP addresses, use received-from (rtpengine --sip-source).</summary>
    SipSourceAddress = 1 << 1,
    /// <summary>"symmetric": learn endpoints from packets (rtpengine's default; rtpproxy's w flag).</summary>
    Symmetric = 1 << 2,
    /// <summary>"asymmetric": never learn, send to the SDP address (rtpproxy's a flag).</summary>
    Asymmetric = 1 << 3,
    /// <summary>"strict-source": after learning, drop packets from any other source.</summary>
    StrictSource = 1 << 4,
    /// <summary>"media-handover": re-learn the endpoint from any new source (hijackable).</summary>
    MediaHandover = 1 << 5,
    /// <summary>"port-latching": keep local ports when the remote port changes in a re-offer.</summary>
    PortLatching = 1 << 6,
    /// <summary>"no-port-latching": change local ports when the remote port changes (ICE restart).</summary>
    NoPortLatching = 1 << 7,
    /// <summary>"original-sendrecv": keep direction attributes as received (no hold rewriting).</summary>
    OriginalSendrecv = 1 << 8,
    /// <summary>"full-rtcp-attribute": write a=rtcp with its address.</summary>
    FullRtcpAttribute = 1 << 9,
    /// <summary>"no-rtcp-attribute": omit a=rtcp.</summary>
    NoRtcpAttribute = 1 << 10,
    /// <summary>"reject-ICE": strip ICE from an offer (like ICE=remove in the answer).</summary>
    RejectIce = 1 << 11,
    /// <summary>"fatal" (delete): an unknown call is an error, not a warning.</summary>
    Fatal = 1 << 12,
    /// <summary>"fast" (delete): reply without statistics.</summary>
    Fast = 1 << 13,
    /// <summary>"to-tag" (delete): honour the to-tag (delete one dialogue only).</summary>
    ToTag = 1 << 14,
    /// <summary>"debug": full debug logging for this call.</summary>
    Debug = 1 << 15,
    /// <summary>"no-redis-update": do not persist to Redis (nothing to do here: no Redis).</summary>
    NoRedisUpdate = 1 << 16,
    /// <summary>"unidirectional": kernelize one-way streams too (nothing to do here: no kernel forwarding).</summary>
    Unidirectional = 1 << 17,
}

public enum NgSipMessageType { Request, Reply }

/// <summary>A request the endpoint refuses, with rtpengine's error-reason wording.</summary>
public sealed record NgError(string Reason);

/// <summary>
/// The typed view of one NG request dictionary. Key and flag spellings are normalised the way rtpengine accepts
/// them ("address family", "address-family", "address_family" and any letter case are one key). Everything the
/// view does not represent is listed in <see cref="NotUnderstood"/> (as received, e.g. "codec", "SDES-off",
/// "ICE=lite-both") so the endpoint can warn about it instead of silently ignoring it. When a key occurs twice
/// the last one wins (rtpengine applies entries in order).
/// </summary>
public sealed record NgRequest
{
    public required NgCommand Command { get; init; }
    /// <summary>The command as received ("offer", "start recording", ...).</summary>
    public required string CommandName { get; init; }
    public string? CallId { get; init; }
    public string? FromTag { get; init; }
    public string? ToTag { get; init; }
    public string? ViaBranch { get; init; }
    /// <summary>"label" / "from-label": a name for this party, echoed in query/delete statistics.</summary>
    public string? Label { get; init; }
    /// <summary>The SDP body, raw bytes.</summary>
    public ReadOnlyMemory<byte>? Sdp { get; init; }
    public NgFlags Flags { get; init; }
    public NgReplace Replace { get; init; }
    public NgIceOption? Ice { get; init; }
    /// <summary>"direction" (or from-interface / to-interface): logical interface names, originator's first.</summary>
    public IReadOnlyList<string> Direction { get; init; } = [];
    /// <summary>"received-from": the SIP message's source address.</summary>
    public IPAddress? ReceivedFrom { get; init; }
    /// <summary>"media-address": overrides the SDP's and the received-from address.</summary>
    public IPAddress? MediaAddress { get; init; }
    /// <summary>"address-family": the family the recipient of the rewritten SDP needs.</summary>
    public NgAddressFamily? AddressFamily { get; init; }
    public NgRtcpMux RtcpMux { get; init; }
    /// <summary>"transport-protocol" as received (RTP/AVP, RTP/SAVPF, accept, ...).</summary>
    public string? TransportProtocol { get; init; }
    /// <summary>"delete-delay" in seconds (delete; 0 = at once).</summary>
    public int? DeleteDelay { get; init; }
    /// <summary>"limit" (list): most call-ids to return; null = rtpengine's default 32.</summary>
    public int? Limit { get; init; }
    /// <summary>"supports" contains "load limit": a refusal for load may be answered with result "load limit".</summary>
    public bool SupportsLoadLimit { get; init; }
    public NgSipMessageType? SipMessageType { get; init; }
    /// <summary>"sip-code": the SIP response code that triggered the message.</summary>
    public int? SipCode { get; init; }
    public IReadOnlyList<string> NotUnderstood { get; init; } = [];

    public bool Has(NgFlags flag) => (Flags & flag) == flag;

    /// <summary>The list command's default limit (rtpengine's).</summary>
    public const int DefaultListLimit = 32;

    /// <summary>
    /// Reads a request dictionary; false with an rtpengine-worded error when the command or a key the command requires
    /// is missing (the request is filled either way, for the log). Never throws on any dictionary.
    /// </summary>
    public static bool TryParse(BDictionary body, out NgRequest request, out NgError? error)
    {
        var reader = new NgRequestReader();
        foreach (var (key, value) in body.Entries) reader.ApplyKey(key, value);
        request = reader.Build();
        error = Validate(request, reader.HasCommand);
        return error is null;
    }

    private static NgError? Validate(NgRequest r, bool hasCommand)
    {
        if (!hasCommand) return new NgError(NgErrors.NoCommand);
        switch (r.Command)
        {
            case NgCommand.Offer or NgCommand.Answer:
                if (r.Sdp is not { Length: > 0 }) return new NgError(NgErrors.NoSdp);
                if (string.IsNullOrEmpty(r.CallId)) return new NgError(NgErrors.NoCallId);
                if (string.IsNullOrEmpty(r.FromTag)) return new NgError(NgErrors.NoFromTag);
                if (r.Command == NgCommand.Answer && string.IsNullOrEmpty(r.ToTag)) return new NgError(NgErrors.NoToTag);
                break;
            case NgCommand.Delete or NgCommand.Query:
                if (string.IsNullOrEmpty(r.CallId)) return new NgError(NgErrors.NoCallId);
                break;
            case NgCommand.List:
                if (r.Limit < 0) return new NgError(NgErrors.InvalidLimit);
                break;
        }
        return null;
    }

    /// <summary>
    /// rtpengine's spelling rule made one: ASCII lower case, '-' and '_' as spaces ("SIP-source-address",
    /// "sip source address" and "SIP_source_address" are one flag).
    /// </summary>
    public static string Normalise(string name)
    {
        Span<char> buffer = name.Length <= 128 ? stackalloc char[name.Length] : new char[name.Length];
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            buffer[i] = c is '-' or '_' ? ' ' : c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
        }
        return new string(buffer);
    }
}

/// <summary>Accumulates one request's keys and flags (from the dictionary and from an "rtpp-flags" string).</summary>
internal sealed class NgRequestReader
{
    private NgCommand _command;
    private string _commandName = "";
    private string? _callId, _fromTag, _toTag, _viaBranch, _label, _transport;
    private ReadOnlyMemory<byte>? _sdp;
    private NgFlags _flags;
    private NgReplace _replace;
    private NgIceOption? _ice;
    private string?[] _direction = [];
    private IPAddress? _receivedFrom, _mediaAddress;
    private NgAddressFamily? _family;
    private NgRtcpMux _rtcpMux;
    private int? _deleteDelay, _limit, _sipCode;
    private bool _loadLimit;
    private NgSipMessageType? _sipType;
    private readonly List<string> _notUnderstood = [];
    public bool HasCommand;

    public NgRequest Build() => new()
    {
        Command = _command, CommandName = _commandName, CallId = _callId, FromTag = _fromTag, ToTag = _toTag,
        ViaBranch = _viaBranch, Label = _label, Sdp = _sdp, Flags = _flags, Replace = _replace, Ice = _ice,
        Direction = _direction.Where(d => d is not null).Select(d => d!).ToArray(), ReceivedFrom = _receivedFrom,
        MediaAddress = _mediaAddress, AddressFamily = _family, RtcpMux = _rtcpMux, TransportProtocol = _transport,
        DeleteDelay = _deleteDelay, Limit = _limit, SupportsLoadLimit = _loadLimit, SipMessageType = _sipType,
        SipCode = _sipCode, NotUnderstood = _notUnderstood.ToArray(),
    };

    public void NotUnderstood(string what) => _notUnderstood.Add(what);

    public void ApplyKey(string key, BValue value)
    {
        switch (NgRequest.Normalise(key))
        {
            case "command":
                if (Text(value) is not { } name) { NotUnderstood(key); return; }
                HasCommand = true;
                _commandName = name;
                _command = NgRequest.Normalise(name) switch
                {
                    "ping" => NgCommand.Ping, "offer" => NgCommand.Offer, "answer" => NgCommand.Answer,
                    "delete" => NgCommand.Delete, "query" => NgCommand.Query, "list" => NgCommand.List,
                    "statistics" => NgCommand.Statistics, _ => NgCommand.Unknown,
                };
                return;
            case "call id": _callId = TextOrNote(key, value); return;
            case "from tag": _fromTag = TextOrNote(key, value); return;
            case "to tag": _toTag = TextOrNote(key, value); return;
            case "via branch": _viaBranch = TextOrNote(key, value); return;
            case "label" or "from label": _label = TextOrNote(key, value); return;
            case "sdp":
                if (value is BString sdp) _sdp = sdp.Bytes;
                else NotUnderstood(key);
                return;
            case "flags": ForEachString(key, value, ApplyFlag); return;
            case "replace": ForEachString(key, value, r => ApplyReplace(r, key)); return;
            case "rtcp mux": ForEachString(key, value, m => ApplyRtcpMux(m, key)); return;
            case "ice": ForEachString(key, value, i => ApplyIce(i, key)); return;
            case "direction":
                if (value is BList list)
                {
                    _direction = list.Items.Take(2).Select(Text).ToArray();
                    if (list.Items.Count > 2 || _direction.Contains(null)) NotUnderstood($"{key}={Describe(value)}");
                }
                else NotUnderstood(key);
                return;
            case "from interface": SetDirection(0, TextOrNote(key, value)); return;
            case "to interface": SetDirection(1, TextOrNote(key, value)); return;
            case "received from":
                // rtpengine: a list [family, address] or just the address
                var address = value is BList { Items.Count: 2 } pair ? Text(pair.Items[1]) : Text(value);
                _receivedFrom = ParseAddress(address, key, value) ?? _receivedFrom;
                return;
            case "media address": _mediaAddress = ParseAddress(Text(value), key, value) ?? _mediaAddress; return;
            case "address family":
                switch (Text(value)?.ToUpperInvariant())
                {
                    case "IP4": _family = NgAddressFamily.IP4; break;
                    case "IP6": _family = NgAddressFamily.IP6; break;
                    default: NotUnderstood($"{key}={Describe(value)}"); break;
                }
                return;
            case "transport protocol": _transport = TextOrNote(key, value); return;
            case "delete delay":
                if (Integer(value) is { } delay and >= 0 and <= int.MaxValue) _deleteDelay = (int)delay;
                else NotUnderstood($"{key}={Describe(value)}");
                return;
            case "limit":
                if (Integer(value) is { } limit) _limit = (int)Math.Clamp(limit, int.MinValue, int.MaxValue);
                else NotUnderstood($"{key}={Describe(value)}");
                return;
            case "supports":
                ForEachString(key, value, s =>
                {
                    if (NgRequest.Normalise(s) == "load limit") _loadLimit = true;
                    else NotUnderstood($"{key}={s}");
                });
                return;
            case "sip message type":
                switch (Text(value) is { } t ? NgRequest.Normalise(t) : null)
                {
                    case "request" or "sip request": _sipType = NgSipMessageType.Request; break;
                    case "reply" or "response" or "sip reply" or "sip response": _sipType = NgSipMessageType.Reply; break;
                    default: NotUnderstood($"{key}={Describe(value)}"); break;
                }
                return;
            case "sip code" or "sip response code":
                if (Integer(value) is { } code and >= 100 and <= 699) _sipCode = (int)code;
                else NotUnderstood($"{key}={Describe(value)}");
                return;
            case "rtpp flags":
                if (Text(value) is { } flags) RtppFlags.Apply(flags, this);
                else NotUnderstood(key);
                return;
            default:
                NotUnderstood(key);
                return;
        }
    }

    public void ApplyFlag(string flag)
    {
        var n = NgRequest.Normalise(flag);
        var known = n switch
        {
            "trust address" => NgFlags.TrustAddress,
            "sip source address" => NgFlags.SipSourceAddress,
            "symmetric" => NgFlags.Symmetric,
            "asymmetric" => NgFlags.Asymmetric,
            "strict source" => NgFlags.StrictSource,
            "media handover" => NgFlags.MediaHandover,
            "port latching" => NgFlags.PortLatching,
            "no port latching" => NgFlags.NoPortLatching,
            "original sendrecv" => NgFlags.OriginalSendrecv,
            "full rtcp attribute" => NgFlags.FullRtcpAttribute,
            "no rtcp attribute" => NgFlags.NoRtcpAttribute,
            "reject ice" or "ice reject" => NgFlags.RejectIce,
            "fatal" => NgFlags.Fatal,
            "fast" => NgFlags.Fast,
            "to tag" => NgFlags.ToTag,
            "debug" or "debugging" => NgFlags.Debug,
            "no redis update" => NgFlags.NoRedisUpdate,
            "unidirectional" => NgFlags.Unidirectional,
            _ => NgFlags.None,
        };
        if (known != NgFlags.None) _flags |= known;
        else if (n.StartsWith("replace ", StringComparison.Ordinal)) ApplyReplace(flag["replace-".Length..], null);
        else if (n.StartsWith("rtcp mux ", StringComparison.Ordinal)) ApplyRtcpMux(flag["rtcp-mux-".Length..], null);
        else NotUnderstood(flag);
    }

    public void SetToTag(string tag)
    {
        _toTag = tag;
        _flags |= NgFlags.ToTag;
    }

    public void SetTransport(string protocol) => _transport = protocol;

    public void AddDirection(string name)
    {
        var free = Array.IndexOf(_direction, null);
        if (free >= 0) _direction[free] = name;
        else if (_direction.Length < 2) _direction = [.. _direction, name];
        else NotUnderstood($"direction={name}");
    }

    private void SetDirection(int index, string? name)
    {
        if (name is null) return;
        if (_direction.Length < 2) Array.Resize(ref _direction, 2);
        _direction[index] = name;
    }

    private void ApplyReplace(string option, string? key)
    {
        switch (NgRequest.Normalise(option))
        {
            case "origin": _replace |= NgReplace.Origin; break;
            case "session connection": _replace |= NgReplace.SessionConnection; break;
            case "zero address": _replace |= NgReplace.ZeroAddress; break;
            default: NotUnderstood(key is null ? $"replace-{option}" : $"{key}={option}"); break;
        }
    }

    private void ApplyRtcpMux(string option, string? key)
    {
        switch (NgRequest.Normalise(option))
        {
            case "offer": _rtcpMux |= NgRtcpMux.Offer; break;
            case "require": _rtcpMux |= NgRtcpMux.Require | NgRtcpMux.Offer; break;
            case "demux": _rtcpMux |= NgRtcpMux.Demux; break;
            case "accept": _rtcpMux |= NgRtcpMux.Accept; break;
            case "reject": _rtcpMux |= NgRtcpMux.Reject; break;
            default: NotUnderstood(key is null ? $"rtcp-mux-{option}" : $"{key}={option}"); break;
        }
    }

    private void ApplyIce(string option, string key)
    {
        NgIceOption? ice = NgRequest.Normalise(option) switch
        {
            "remove" => NgIceOption.Remove,
            "force" => NgIceOption.Force,
            "default" => NgIceOption.Default,
            "optional" => NgIceOption.Optional,
            "force relay" => NgIceOption.ForceRelay,
            _ => null,
        };
        if (ice is null) NotUnderstood($"{key}={option}");
        else _ice = ice;
    }

    // rtpengine accepts a list of strings or one string of comma-separated items wherever it expects a list.
    private void ForEachString(string key, BValue value, Action<string> apply)
    {
        switch (value)
        {
            case BList list:
                foreach (var item in list.Items)
                {
                    if (item is BString s) apply(s.Text);
                    else NotUnderstood($"{key}={Describe(item)}");
                }
                break;
            case BString s:
                foreach (var part in s.Text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    apply(part);
                break;
            default:
                NotUnderstood($"{key}={Describe(value)}");
                break;
        }
    }

    private IPAddress? ParseAddress(string? text, string key, BValue value)
    {
        if (text is not null && IPAddress.TryParse(text, out var address)
            && address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        NotUnderstood($"{key}={Describe(value)}");
        return null;
    }

    private string? TextOrNote(string key, BValue value)
    {
        var text = Text(value);
        if (text is null) NotUnderstood(key);
        return text;
    }

    private static string? Text(BValue value) => value is BString s ? s.Text : null;

    // rtpengine reads integers from integers or from decimal strings.
    private static long? Integer(BValue value) => value switch
    {
        BInteger i => i.Value,
        BString s when long.TryParse(s.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) => v,
        _ => null,
    };

    private static string Describe(BValue value)
    {
        var text = value switch
        {
            BString s => s.Text,
            BInteger i => i.Value.ToString(CultureInfo.InvariantCulture),
            BList l => "[" + string.Join(" ", l.Items.Select(Describe)) + "]",
            _ => value.ToString(),
        };
        return text.Length <= 64 ? text : text[..64] + "...";
    }
}
