using ActorRelay.Protocol;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Ng;

/// <summary>
/// Error reasons, worded as rtpengine words them: SIP proxies match some of them (Kamailio and OpenSIPS try the
/// next media relay on <see cref="SessionLimit"/> and <see cref="RanOutOfPorts"/>).
/// </summary>
public static class NgErrors
{
    public const string NoPayload = "Invalid data (no payload)";
    public const string BadBencode = "Could not decode bencode dictionary";
    public const string JsonNotSupported = "JSON NG messages are not supported";
    public const string InvalidFormat = "Invalid NG data format";
    public const string NoCommand = "Dictionary contains no key \"command\"";
    public const string UnrecognizedCommand = "Unrecognized command";
    public const string NoSdp = "No SDP body in message";
    public const string NoCallId = "No call-id in message";
    public const string NoFromTag = "No from-tag in message";
    public const string NoToTag = "No to-tag in message";
    public const string InvalidLimit = "invalid limit, must be >= 0";
    public const string UnknownCallId = "Unknown call-id";
    /// <summary>delete of an unknown call: a warning, or the error with the "fatal" flag.</summary>
    public const string CallNotFound = "Call-ID not found or tags didn't match";
    public const string FailedToParseSdp = "Failed to parse SDP";
    public const string RewriteFailed = "Error rewriting SDP";
    public const string RanOutOfPorts = "Ran out of ports";
    public const string SessionLimit = "Parallel session limit reached";
}

// ---- reports: what query and delete replies carry, filled by the endpoint from the relay's channel snapshots ----

/// <summary>Packet counters of one stream direction: rtpengine's {packets, bytes, errors}.</summary>
public sealed record NgCounters(long Packets, long Bytes, long Errors)
{
    public static readonly NgCounters Zero = new(0, 0, 0);
    public NgCounters Add(NgCounters other) => new(Packets + other.Packets, Bytes + other.Bytes, Errors + other.Errors);
}

/// <summary>
/// One packet stream (one local port: RTP, or RTCP unless multiplexed). <paramref name="Endpoint"/> is where the
/// relay sends (its latched address), <paramref name="Advertised"/> what the SDP said; <paramref name="Received"/>
/// counts what arrived on <paramref name="LocalPort"/> (errors: dropped), <paramref name="Sent"/> what left
/// through it towards the endpoint. <paramref name="Flags"/> are rtpengine's stream flags beyond "RTP"/"RTCP"
/// (which follow from <paramref name="Rtcp"/>), e.g. "filled" (endpoint known), "confirmed" (a packet came from it).
/// </summary>
public sealed record NgStreamReport(
    bool Rtcp,
    int? LocalPort,
    IPAddress? LocalAddress,
    IPEndPoint? Endpoint,
    IPEndPoint? Advertised,
    DateTimeOffset? LastPacket,
    NgCounters Received,
    NgCounters Sent,
    IReadOnlyList<string>? Flags = null,
    StreamQuality? Quality = null);

/// <summary>One SDP media section of a party: 1-based index, type ("audio"), protocol ("RTP/AVP"), flags (e.g. "initialized", "rtcp-mux").</summary>
public sealed record NgMediaReport(int Index, string Type, string? Protocol, IReadOnlyList<NgStreamReport> Streams, IReadOnlyList<string>? Flags = null);

/// <summary>One party (SIP tag) of the call: "" for a party that has not signalled its tag yet.</summary>
public sealed record NgTagReport(
    string Tag,
    DateTimeOffset Created,
    IReadOnlyList<NgMediaReport> Medias,
    string? Label = null,
    string? InDialogueWith = null,
    string? ViaBranch = null);

/// <summary>A call as query and delete report it. Totals are summed from the streams, as rtpengine sums them.</summary>
public sealed record NgCallReport(DateTimeOffset Created, DateTimeOffset LastSignal, IReadOnlyList<NgTagReport> Tags);

/// <summary>statistics → currentstatistics: the calls running now and the current rates (per second).</summary>
public sealed record NgCurrentStatistics(long SessionsOwn, long SessionsTotal, long PacketRate, long ByteRate, long ErrorRate, long SessionsForeign = 0, long TranscodedMedia = 0);

/// <summary>statistics → totalstatistics: totals over finished calls since start.</summary>
public sealed record NgTotalStatistics(
    TimeSpan Uptime,
    long ManagedSessions,
    long RejectedSessions,
    long TimeoutSessions,
    long RegularTerminatedSessions,
    long ForcedTerminatedSessions,
    long RelayedPackets,
    long RelayedPacketErrors,
    long RelayedBytes,
    long ZeroWayStreams,
    long OneWayStreams,
    TimeSpan AverageCallDuration,
    long SilentTimeoutSessions = 0,
    long FinalTimeoutSessions = 0,
    long OfferTimeoutSessions = 0);

public sealed record NgStatisticsReport(NgCurrentStatistics Current, NgTotalStatistics Total);

/// <summary>
/// Reply dictionaries, each with the keys rtpengine sends (documented per key in docs/ng.md). Frame them with
/// <see cref="NgFraming.Frame"/>; encoding is canonical (keys sorted), which no client depends on either way.
/// </summary>
public static class NgReplies
{
    /// <summary>ping: {"result": "pong"}.</summary>
    public static BDictionary Pong() => BDictionary.Of(("result", "pong"));

    /// <summary>{"result": "error", "error-reason": reason}; rtpengine puts no other key in an error.</summary>
    public static BDictionary Error(string reason) => BDictionary.Of(("result", "error"), ("error-reason", reason));

    /// <summary>Refusal for load to a client that "supports" ["load limit"]: it tries another relay instead of failing.</summary>
    public static BDictionary LoadLimit(string? message = null) =>
        BDictionary.Of(("result", "load limit"), ("message", message is null ? null : (BValue)message));

    /// <summary>{"result": "ok"}, with "sdp" (offer/answer: the rewritten body) and "warning" (a non-fatal problem) when given.</summary>
    public static BDictionary Ok(ReadOnlyMemory<byte>? sdp = null, string? warning = null) => BDictionary.Of(
        ("result", "ok"),
        ("sdp", sdp is { } body ? new BString(body.Span) : null),
        ("warning", warning is null ? null : (BValue)warning));

    /// <summary>list: {"result": "ok", "calls": [call-id, ...]}.</summary>
    public static BDictionary List(IEnumerable<string> callIds) =>
        BDictionary.Of(("result", "ok"), ("calls", new BList(callIds.Select(id => (BValue)id))));

    /// <summary>query, and delete without the "fast" flag: "ok" with the call's statistics.</summary>
    public static BDictionary CallStatistics(NgCallReport report, string? warning = null)
    {
        var rtp = NgCounters.Zero;
        var rtcp = NgCounters.Zero;
        foreach (var stream in report.Tags.SelectMany(t => t.Medias).SelectMany(m => m.Streams))
        {
            if (stream.Rtcp) rtcp = rtcp.Add(stream.Received);
            else rtp = rtp.Add(stream.Received);
        }
        var createdUs = (report.Created.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        return BDictionary.Of(
            ("result", "ok"),
            ("warning", warning is null ? null : (BValue)warning),
            ("created", report.Created.ToUnixTimeSeconds()),
            ("created_us", createdUs % 1_000_000),
            ("last signal", report.LastSignal.ToUnixTimeSeconds()),
            ("tags", new BDictionary(report.Tags.Select(t => KeyValuePair.Create(t.Tag, (BValue)Tag(t))))),
            ("totals", BDictionary.Of(("RTP", Counters(rtp)), ("RTCP", Counters(rtcp)))),
            ("SSRC", Ssrcs(report)));
    }

    /// <summary>
    /// Per RTP stream, as rtpengine's "SSRC" dictionary keys it (the SSRC in decimal): the quality the relay measured
    /// from what that party sent (RFC 3550 loss and jitter, the E-model MOS of docs/quality.md). rtpengine's scales:
    /// MOS × 10, jitter in milliseconds, packet loss in percent, all integers; ActorRelay adds the counts.
    /// </summary>
    private static BDictionary Ssrcs(NgCallReport report)
    {
        var entries = new SortedDictionary<string, BValue>(StringComparer.Ordinal);
        foreach (var q in report.Tags.SelectMany(t => t.Medias).SelectMany(m => m.Streams).Select(s => s.Quality))
        {
            if (q is null || q.PacketsExpected == 0) continue;
            var average = BDictionary.Of(
                ("MOS", (long)Math.Round(q.Mos * 10)),
                ("jitter", (long)Math.Round(q.JitterSeconds * 1000)),
                ("packet loss", (long)Math.Round(q.LossRatio * 100)));
            entries[q.Ssrc.ToString(CultureInfo.InvariantCulture)] = BDictionary.Of(
                ("average MOS", average),
                ("packets expected", q.PacketsExpected),
                ("packets lost", q.PacketsLost),
                ("duplicates", q.Duplicates),
                ("payload type", q.PayloadType),
                ("clock rate", q.ClockRate));
        }
        return new BDictionary(entries);
    }

    /// <summary>statistics: {"result": "ok", "statistics": {"currentstatistics": {...}, "totalstatistics": {...}}}.</summary>
    public static BDictionary Statistics(NgStatisticsReport report)
    {
        var c = report.Current;
        var t = report.Total;
        return BDictionary.Of(
            ("result", "ok"),
            ("statistics", BDictionary.Of(
                ("currentstatistics", BDictionary.Of(
                    ("sessionsown", c.SessionsOwn),
                    ("sessionsforeign", c.SessionsForeign),
                    ("sessionstotal", c.SessionsTotal),
                    ("transcodedmedia", c.TranscodedMedia),
                    ("packetrate", c.PacketRate),
                    ("byterate", c.ByteRate),
                    ("errorrate", c.ErrorRate))),
                ("totalstatistics", BDictionary.Of(
                    // rtpengine sends these two as strings: whole seconds, and seconds with six decimals
                    ("uptime", ((long)t.Uptime.TotalSeconds).ToString(CultureInfo.InvariantCulture)),
                    ("managedsessions", t.ManagedSessions),
                    ("rejectedsessions", t.RejectedSessions),
                    ("timeoutsessions", t.TimeoutSessions),
                    ("silenttimeoutsessions", t.SilentTimeoutSessions),
                    ("finaltimeoutsessions", t.FinalTimeoutSessions),
                    ("offertimeoutsessions", t.OfferTimeoutSessions),
                    ("regularterminatedsessions", t.RegularTerminatedSessions),
                    ("forcedterminatedsessions", t.ForcedTerminatedSessions),
                    ("relayedpackets", t.RelayedPackets),
                    ("relayedpacketerrors", t.RelayedPacketErrors),
                    ("relayedbytes", t.RelayedBytes),
                    ("zerowaystreams", t.ZeroWayStreams),
                    ("onewaystreams", t.OneWayStreams),
                    ("avgcallduration", t.AverageCallDuration.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture)))))));
    }

    /// <summary>The warning text for keys and flags a request carried that were not acted on (null when none).</summary>
    public static string? NotUnderstoodWarning(IReadOnlyList<string> notUnderstood) =>
        notUnderstood.Count == 0 ? null : "Ignored unsupported keys/flags: " + string.Join(", ", notUnderstood.Distinct());

    private static BDictionary Tag(NgTagReport tag) => BDictionary.Of(
        ("tag", tag.Tag),
        ("label", tag.Label is null ? null : (BValue)tag.Label),
        ("created", tag.Created.ToUnixTimeSeconds()),
        ("in dialogue with", tag.InDialogueWith is null ? null : (BValue)tag.InDialogueWith),
        ("via-branch", tag.ViaBranch is null ? null : (BValue)tag.ViaBranch),
        ("medias", new BList(tag.Medias.Select(m => (BValue)Media(m)))));

    private static BDictionary Media(NgMediaReport media) => BDictionary.Of(
        ("index", media.Index),
        ("type", media.Type),
        ("protocol", media.Protocol is null ? null : (BValue)media.Protocol),
        ("streams", new BList(media.Streams.Select(s => (BValue)Stream(s)))),
        ("flags", new BList((media.Flags ?? []).Select(f => (BValue)f))));

    private static BDictionary Stream(NgStreamReport s) => BDictionary.Of(
        ("local port", s.LocalPort is { } port ? port : null),
        ("local address", s.LocalAddress is { } local ? (BValue)Text(local) : null),
        ("family", s.LocalAddress is { } l ? (BValue)Family(l) : null),
        ("endpoint", Endpoint(s.Endpoint)),
        ("advertised endpoint", Endpoint(s.Advertised)),
        ("last packet", s.LastPacket?.ToUnixTimeSeconds() ?? 0),
        ("flags", new BList(new[] { s.Rtcp ? "RTCP" : "RTP" }.Concat(s.Flags ?? []).Select(f => (BValue)f))),
        ("stats", Counters(s.Received)),
        ("stats_out", Counters(s.Sent)));

    // rtpengine writes an empty dictionary for an unknown endpoint.
    private static BDictionary Endpoint(IPEndPoint? ep) => ep is null
        ? BDictionary.Of()
        : BDictionary.Of(("family", Family(ep.Address)), ("address", Text(ep.Address)), ("port", ep.Port));

    private static BDictionary Counters(NgCounters c) =>
        BDictionary.Of(("packets", c.Packets), ("bytes", c.Bytes), ("errors", c.Errors));

    private static string Family(IPAddress a) =>
        a.AddressFamily == AddressFamily.InterNetworkV6 && !a.IsIPv4MappedToIPv6 ? "IPv6" : "IPv4";

    private static string Text(IPAddress a) => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString();
}
