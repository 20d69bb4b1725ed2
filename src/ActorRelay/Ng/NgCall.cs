using System.Net;
using ActorRelay.Protocol;

namespace ActorRelay.Ng;

/// <summary>
/// What one party's SDP said about one media section: its type and protocol, the address its c= gave (media level
/// over session level; null when none or not an IP), the RTP port (0: disabled), the RTCP port (a=rtcp, else RTP + 1)
/// and whether it offers or accepts rtcp-mux.
/// </summary>
public sealed record NgMediaSdp(string Type, string Protocol, IPAddress? Address, int Port, int RtcpPort, bool RtcpMux, bool HasIce)
{
    public bool Disabled => Port == 0;
    public IPEndPoint? RtpEndPoint => Address is { } a && Port > 0 ? new(a, Port) : null;
    public IPEndPoint? RtcpEndPoint => Address is { } a && Port > 0 ? new(a, RtcpMux ? Port : RtcpPort) : null;

    public static IReadOnlyList<NgMediaSdp> Of(SdpBody sdp) => sdp.Medias.Select(m =>
    {
        var connection = m.Connection ?? sdp.Session.Connection;
        var rtcp = m.Rtcp.Count > 0 ? m.Rtcp[0].Port : m.Port + 1;
        var ice = m.Attributes.Any(a => a.IsIce) || sdp.Session.Attributes.Any(a => a.IsIce);
        return new NgMediaSdp(m.Type, m.Protocol, connection?.Ip, m.Port, rtcp, m.RtcpMux, ice);
    }).ToList();
}

/// <summary>One party of a call (a SIP tag): its SDP per media section and the expected source of each.</summary>
public sealed class NgParty(string tag, DateTimeOffset created)
{
    public string Tag { get; } = tag;
    public DateTimeOffset Created { get; } = created;
    public string? Label { get; set; }
    public string? ViaBranch { get; set; }
    /// <summary>The party's last SDP, per media section (index = the section's).</summary>
    public List<NgMediaSdp> Media { get; } = [];
    /// <summary>The expected source of the party's side, per media section (as long as <see cref="Media"/>).</summary>
    public List<NgExpectedSource> Expected { get; } = [];

    public NgMediaSdp? MediaAt(int index) => index < Media.Count ? Media[index] : null;
    public string ExpectedAt(int index) => index < Expected.Count ? Expected[index].Filter : NgExpectedSource.AnySource;

    /// <summary>Records the party's SDP for one section; true when where its media comes from may have changed.</summary>
    public bool Update(int index, NgMediaSdp media, NgExpectedSource expected)
    {
        if (index >= Media.Count)
        {
            while (Media.Count < index) { Media.Add(media with { Port = 0 }); Expected.Add(new(null, "no SDP for this section")); }
            Media.Add(media);
            Expected.Add(expected);
            return true;
        }
        var before = Media[index];
        var expectedBefore = Expected[index];
        Media[index] = media;
        Expected[index] = expected;
        return !Equals(before.Address, media.Address) || before.Port != media.Port || before.RtcpPort != media.RtcpPort
               || !Equals(expectedBefore.Address, expected.Address);
    }
}

/// <summary>
/// One media section of the call: its RTP channel (left = the first offerer's side, right = the answerer's) and
/// its RTCP channel on the neighbouring ports, or none when both parties multiplex RTCP (rtcp-mux). A section
/// without channels was disabled (port 0) or rejected.
/// </summary>
public sealed class NgStream(int index, string type, string protocol)
{
    public int Index { get; } = index;
    public string Type { get; set; } = type;
    public string Protocol { get; set; } = protocol;
    public ChannelOpened? Rtp { get; set; }
    public ChannelOpened? Rtcp { get; set; }
    public bool Muxed { get; set; }
    /// <summary>False from the offer that opened the channels until the answer: no side may latch (<see cref="NgExpectedSource.Nobody"/>).</summary>
    public bool Unblocked { get; set; }

    public IEnumerable<ChannelOpened> Channels()
    {
        if (Rtp is not null) yield return Rtp;
        if (Rtcp is not null) yield return Rtcp;
    }
}

/// <summary>
/// The call book's record of one call: its two parties (party A made the first offer: side Left; party B answered:
/// side Right) and its streams. Pure state; the call's actor does the talking to the node.
/// </summary>
public sealed class NgCall(string callId, NgParty a, DateTimeOffset created)
{
    public string CallId { get; } = callId;
    public DateTimeOffset Created { get; } = created;
    public DateTimeOffset LastSignal { get; set; } = created;
    public NgParty A { get; } = a;
    public NgParty? B { get; set; }
    public List<NgStream> Streams { get; } = [];

    public Side SideOf(NgParty party) => ReferenceEquals(party, A) ? Side.Left : Side.Right;

    public NgParty? Party(string? tag) =>
        tag is null ? null : A.Tag == tag ? A : B?.Tag == tag ? B : null;

    public NgParty? Other(NgParty party) => ReferenceEquals(party, A) ? B : A;

    public IEnumerable<ChannelOpened> Channels() => Streams.SelectMany(s => s.Channels());

    public bool HasMedia => Streams.Any(s => s.Rtp is not null);

    /// <summary>Forgets a channel the node closed; true when it was one of this call's.</summary>
    public bool Forget(string channelId)
    {
        foreach (var s in Streams)
        {
            if (s.Rtp?.ChannelId == channelId) { s.Rtp = null; return true; }
            if (s.Rtcp?.ChannelId == channelId) { s.Rtcp = null; return true; }
        }
        return false;
    }

    /// <summary>
    /// The call as query and delete report it, from the channels' snapshots (by channel id; a channel without one
    /// reports no counters). Party A's streams are the left sides, party B's the right sides.
    /// </summary>
    public NgCallReport Report(IReadOnlyDictionary<string, ChannelSnapshot> snapshots)
    {
        var tags = new List<NgTagReport> { Tag(A, Side.Left, snapshots) };
        if (B is not null) tags.Add(Tag(B, Side.Right, snapshots));
        return new NgCallReport(Created, LastSignal, tags);
    }

    private NgTagReport Tag(NgParty party, Side side, IReadOnlyDictionary<string, ChannelSnapshot> snapshots)
    {
        var medias = Streams.Where(s => s.Rtp is not null).Select(s =>
        {
            var sdp = party.MediaAt(s.Index);
            var streams = new List<NgStreamReport> { Stream(s.Rtp!, side, false, sdp?.RtpEndPoint, snapshots) };
            if (s.Rtcp is not null) streams.Add(Stream(s.Rtcp, side, true, sdp?.RtcpEndPoint, snapshots));
            var flags = new List<string> { "initialized" };
            if (s.Muxed) flags.Add("rtcp-mux");
            return new NgMediaReport(s.Index + 1, s.Type, s.Protocol, streams, flags);
        }).ToList();
        return new NgTagReport(party.Tag, party.Created, medias, party.Label, Other(party)?.Tag, party.ViaBranch);
    }

    private static NgStreamReport Stream(ChannelOpened channel, Side side, bool rtcp, IPEndPoint? advertised,
        IReadOnlyDictionary<string, ChannelSnapshot> snapshots)
    {
        var local = side == Side.Left ? channel.Left : channel.Right;
        var localAddress = IPAddress.TryParse(local.Address, out var a) ? a : null;
        if (!snapshots.TryGetValue(channel.ChannelId, out var snap))
            return new NgStreamReport(rtcp, local.Port, localAddress, null, advertised, null, NgCounters.Zero, NgCounters.Zero,
                advertised is null ? [] : ["filled"]);
        var mine = side == Side.Left ? snap.Left : snap.Right;
        var other = side == Side.Left ? snap.Right : snap.Left;
        var latched = mine.Latched is { } l && IPAddress.TryParse(l.Address, out var la) ? new IPEndPoint(la, l.Port) : null;
        var flags = new List<string>();
        if (latched is not null || advertised is not null) flags.Add("filled");
        if (latched is not null) flags.Add("confirmed");
        return new NgStreamReport(rtcp, local.Port, localAddress, latched, advertised, mine.LastPacketAt,
            new NgCounters(mine.PacketsReceived, mine.BytesReceived, mine.PacketsDropped),
            // what the other side received and relayed leaves through this side's port towards this party
            new NgCounters(other.PacketsForwarded, other.BytesForwarded, 0),
            flags, rtcp ? null : mine.Quality);
    }
}
