using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Client;
using ActorRelay.Ng;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Latching;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Ng;

/// <summary>The test's NG client: bencoded requests over loopback UDP, one reply per cookie.</summary>
public sealed class NgTestClient : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _endpoint;
    private int _cookie;

    public NgTestClient(IPEndPoint endpoint, IPAddress? from = null)
    {
        _endpoint = endpoint;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(from ?? IPAddress.Loopback, 0));
    }

    public string NextCookie() => $"t{Interlocked.Increment(ref _cookie)}";

    public void SendRaw(byte[] datagram) => _socket.SendTo(datagram, _endpoint);

    /// <summary>Sends the request with <paramref name="cookie"/> (a fresh one when null) and returns the reply's raw bytes.</summary>
    public byte[] RequestRaw(BDictionary body, string? cookie = null, TimeSpan? within = null)
    {
        cookie ??= NextCookie();
        SendRaw(NgFraming.Frame(cookie, body));
        return ReceiveReply(cookie, within ?? TimeSpan.FromSeconds(5)) ?? throw new TimeoutException($"no NG reply to {cookie} {body}");
    }

    public BDictionary Request(BDictionary body, string? cookie = null) => Body(RequestRaw(body, cookie));

    public static BDictionary Body(byte[] reply) =>
        NgFraming.Read(reply) is NgRequestFrame f ? f.Body : throw new InvalidOperationException($"not a reply: {Encoding.Latin1.GetString(reply)}");

    /// <summary>The next datagram for <paramref name="cookie"/>, or null when none comes in time.</summary>
    public byte[]? ReceiveReply(string cookie, TimeSpan within)
    {
        var buffer = new byte[65_536];
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (!_socket.Poll((int)Math.Max(1000, (deadline - DateTime.UtcNow).TotalMicroseconds), SelectMode.SelectRead)) continue;
            var n = _socket.Receive(buffer);
            var reply = buffer[..n];
            if (Encoding.Latin1.GetString(reply).StartsWith(cookie + " ", StringComparison.Ordinal)) return reply;
        }
        return null;
    }

    public bool NothingQueued => _socket.Available == 0;

    public void Dispose() => _socket.Dispose();
}

/// <summary>A node on loopback with its NG endpoint, driven over UDP as a SIP proxy drives it.</summary>
public abstract class NgEndpointSpecsBase : TestKit
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    protected readonly (int Min, int Max) Ports;
    protected readonly IActorRef Node;
    protected readonly ManualRelayClock Clock = new();
    protected readonly NgStarted Ng;
    protected readonly NgTestClient Client;

    /// <param name="listPageSize">relay.control.list-page-size of the node (null: the default).</param>
    protected NgEndpointSpecsBase(ITestOutputHelper output, string ngConfig = "", int portBlock = 40, int? listPageSize = null)
        : base(DataPaths.Config("socket"), output: output)
    {
        Ports = TestPorts.Block(portBlock);
        var settings = RelaySettings.From(Sys.Settings.Config) with { PortMin = Ports.Min, PortMax = Ports.Max, BindAddress = IPAddress.Loopback };
        if (listPageSize is { } size) settings = settings with { ListPageSize = size };
        Node = Sys.ActorOf(ActorRelay.Node.RelayNodeActor.Props(settings, Clock), "relay");
        var ng = NgSettings.From(ConfigurationFactory.ParseString("relay.ng.listen = [\"127.0.0.1:0\"]\n" + ngConfig));
        Ng = NgEndpoint.Start(Sys, Node, Clock, ng)!;
        Client = new NgTestClient(Ng.Listening[0]);
    }

    protected override void Dispose(bool disposing)
    {
        Client.Dispose();
        base.Dispose(disposing);
    }

    // ---- requests -------------------------------------------------------------------------------

    public const string CallId = "a84b4c76e66710@pc33.example.com";
    public const string TagA = "1928301774";
    public const string TagB = "a6c85cf";

    protected static string Sdp(int port, string address = "127.0.0.1", string extra = "", int? videoPort = null, string videoExtra = "") =>
        "v=0\r\n" +
        $"o=- 3724394400 3724394405 IN IP4 {address}\r\n" +
        "s=-\r\n" +
        $"c=IN IP4 {address}\r\n" +
        "t=0 0\r\n" +
        $"m=audio {port} RTP/AVP 0 101\r\n" +
        "a=rtpmap:0 PCMU/8000\r\n" +
        "a=rtpmap:101 telephone-event/8000\r\n" +
        extra +
        (videoPort is { } vp ? $"m=video {vp} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n{videoExtra}" : "");

    protected static BDictionary Command(string command, params (string Key, BValue? Value)[] entries) =>
        BDictionary.Of([("command", command), .. entries]);

    protected static BList Flags(params string[] flags) => new(flags.Select(f => (BValue)f));

    protected BDictionary Offer(string sdp, string from = TagA, string? to = null, BList? flags = null, string? receivedFrom = null,
        string callId = CallId, string? cookie = null, params (string Key, BValue? Value)[] more) =>
        Client.Request(Command("offer", [("call-id", callId), ("from-tag", from), ("to-tag", to is null ? null : (BValue)to), ("sdp", sdp),
            ("flags", flags), ("received-from", receivedFrom is null ? null : new BList("IP4", receivedFrom)), .. more]), cookie);

    protected BDictionary Answer(string sdp, string from = TagA, string to = TagB, BList? flags = null, string? receivedFrom = null,
        string callId = CallId, string? cookie = null) =>
        Client.Request(Command("answer", ("call-id", callId), ("from-tag", from), ("to-tag", to), ("sdp", sdp), ("flags", flags),
            ("received-from", receivedFrom is null ? null : new BList("IP4", receivedFrom))), cookie);

    protected BDictionary Delete(string? from = null, string? to = null, BList? flags = null, string callId = CallId) =>
        Client.Request(Command("delete", ("call-id", callId), ("from-tag", from is null ? null : (BValue)from),
            ("to-tag", to is null ? null : (BValue)to), ("flags", flags)));

    protected BDictionary Query(string callId = CallId) => Client.Request(Command("query", ("call-id", callId)));

    protected IReadOnlyList<string> List() =>
        ((BList)Client.Request(Command("list"))["calls"]!).Items.Select(i => ((BString)i).Text).ToList();

    // ---- replies ----------------------------------------------------------------------------------

    protected static BValue At(BValue value, params object[] path)
    {
        foreach (var step in path)
            value = step switch
            {
                string key => ((BDictionary)value)[key] ?? throw new KeyNotFoundException($"{key} in {value}"),
                int index => ((BList)value).Items[index],
                _ => throw new ArgumentException(),
            };
        return value;
    }

    protected static string Str(BValue value, params object[] path) => ((BString)At(value, path)).Text;
    protected static long Int(BValue value, params object[] path) => ((BInteger)At(value, path)).Value;

    protected static string Ok(BDictionary reply)
    {
        Assert.True(Str(reply, "result") == "ok", $"expected ok, got {reply}");
        return reply["sdp"] is BString sdp ? sdp.Text : "";
    }

    /// <summary>The port of the n-th m= line of a reply's SDP.</summary>
    protected static int MediaPort(string sdp, int index = 0) =>
        int.Parse(sdp.Split("\r\n").Where(l => l.StartsWith("m=")).ElementAt(index).Split(' ')[1]);

    // ---- the node ---------------------------------------------------------------------------------

    /// <summary>Every channel of the node, every page of its listing read.</summary>
    protected async Task<IReadOnlyList<ChannelSummary>> Channels() => await Node.ListAllAsync(Wait).ToListAsync();

    protected Task<ChannelSnapshot> Snapshot(string channelId) => Node.Ask<ChannelSnapshot>(new GetChannel(channelId), Wait);

    protected Task<NodeStatus> Status() => Node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait);

    protected static string RtpId(string callId = CallId, string tag = TagA, int media = 0) => NgChannelIds.For(callId, tag, media, rtcp: false);
    protected static string RtcpId(string callId = CallId, string tag = TagA, int media = 0) => NgChannelIds.For(callId, tag, media, rtcp: true);

    // ---- media ------------------------------------------------------------------------------------

    /// <summary>A client's RTP stream: one socket, its own SSRC, consecutive sequence numbers.</summary>
    protected sealed class Phone(uint ssrc) : IDisposable
    {
        public UdpPeer Peer { get; } = new();
        public uint Ssrc { get; } = ssrc;
        private ushort _seq = 100;
        public int Port => Peer.Local.Port;

        public void Send(int relayPort, int packets = 1)
        {
            for (var i = 0; i < packets; i++) Peer.SendTo(new IPEndPoint(IPAddress.Loopback, relayPort), RtpPackets.Rtp(_seq++, Ssrc));
        }

        /// <summary>Receives until a packet of <paramref name="fromSsrc"/> arrives; false when none does in time.</summary>
        public async Task<bool> Hears(uint fromSsrc, TimeSpan? within = null)
        {
            var deadline = DateTime.UtcNow + (within ?? Wait);
            while (DateTime.UtcNow < deadline)
            {
                var r = await Peer.ReceiveAsync(deadline - DateTime.UtcNow);
                if (r is { } got && got.Data.Length >= 12 && BinaryPrimitives.ReadUInt32BigEndian(got.Data.AsSpan(8)) == fromSsrc) return true;
            }
            return false;
        }

        public void Dispose() => Peer.Dispose();
    }

    /// <summary>Both phones send until each hears the other through the relay (probation passes on the way).</summary>
    protected static async Task Talk(Phone a, int aSendsTo, Phone b, int bSendsTo)
    {
        for (var round = 0; round < 50; round++)
        {
            a.Send(aSendsTo);
            b.Send(bSendsTo);
            if (round < 3) continue;
            if (await b.Hears(a.Ssrc, TimeSpan.FromMilliseconds(100)) && await a.Hears(b.Ssrc, TimeSpan.FromMilliseconds(100))) return;
        }
        throw new Xunit.Sdk.XunitException($"{a.Ssrc:x} and {b.Ssrc:x} did not hear each other through the relay");
    }

    /// <summary>An offer from A and B's answer, both phones talking: returns the ports A and B send to.</summary>
    protected async Task<(int ASendsTo, int BSendsTo)> EstablishedCall(Phone a, Phone b, string extraA = "", string extraB = "")
    {
        var bSendsTo = MediaPort(Ok(Offer(Sdp(a.Port, extra: extraA))));
        var aSendsTo = MediaPort(Ok(Answer(Sdp(b.Port, extra: extraB))));
        await Talk(a, aSendsTo, b, bSendsTo);
        return (aSendsTo, bSendsTo);
    }
}

public sealed class NgEndpointSpecs(ITestOutputHelper output) : NgEndpointSpecsBase(output)
{
    [Fact]
    public async Task An_offer_opens_an_rtp_channel_on_even_ports_and_its_rtcp_channel_above_and_points_the_sdp_at_the_callees_side()
    {
        var reply = Offer(Sdp(4000));
        var sdp = Ok(reply);
        var channels = (await Channels()).ToDictionary(c => c.ChannelId);
        Assert.Equal([RtpId(), RtcpId()], channels.Keys.Order(StringComparer.Ordinal));
        var rtp = channels[RtpId()];
        var rtcp = channels[RtcpId()];
        Assert.Equal(0, rtp.Left.Port % 2);
        Assert.Equal(0, rtp.Right.Port % 2);
        Assert.Equal(rtp.Left.Port + 1, rtcp.Left.Port);
        Assert.Equal(rtp.Right.Port + 1, rtcp.Right.Port);
        // the offer goes to the callee: it sends to the right side; RTCP on RTP + 1 needs no a=rtcp
        Assert.Equal(rtp.Right.Port, MediaPort(sdp));
        Assert.Contains("c=IN IP4 127.0.0.1\r\n", sdp);
        Assert.DoesNotContain("a=rtcp", sdp);
        Assert.Contains("a=rtpmap:101 telephone-event/8000\r\n", sdp);           // everything else passes through
        Assert.Null(reply["warning"]);
    }

    [Fact]
    public void A_call_actor_runs_on_the_compact_mailbox()
    {
        Ok(Offer(Sdp(4000)));
        // one actor per call, thousands alive: not Akka's default queue and its 1 KB segment per actor
        var calls = ((ActorRefWithCell)Ng.Book).Children.Cast<ActorRefWithCell>().ToList();
        Assert.NotEmpty(calls);
        foreach (var call in calls)
            Assert.IsType<ActorRelay.Channels.CompactMessageQueue>(((ActorCell)call.Underlying).Mailbox!.MessageQueue);
    }

    [Fact]
    public async Task No_side_latches_before_the_answer_and_after_it_media_flows_both_ways()
    {
        using var a = new Phone(0xA0000001);
        using var b = new Phone(0xB0000001);
        var bSendsTo = MediaPort(Ok(Offer(Sdp(a.Port))));
        // the callee's media (or anyone's) before the answer: the channel is told nobody may latch yet
        b.Send(bSendsTo, 6);
        await AwaitAssertAsync(async () =>
            Assert.Equal(6, (await Snapshot(RtpId())).Right.Dropped.GetValueOrDefault(DropReason.UnexpectedSource)), Wait);
        Assert.Null((await Snapshot(RtpId())).Right.Latched);

        var aSendsTo = MediaPort(Ok(Answer(Sdp(b.Port))));
        var rtp = (await Channels()).Single(c => c.ChannelId == RtpId());
        Assert.Equal(rtp.Left.Port, aSendsTo);                                    // the answer goes to the caller: the left side
        await Talk(a, aSendsTo, b, bSendsTo);
        var snapshot = await Snapshot(RtpId());
        Assert.Equal(a.Port, snapshot.Left.Latched!.Port);
        Assert.Equal(b.Port, snapshot.Right.Latched!.Port);
    }

    [Fact]
    public async Task Sip_source_address_makes_received_from_each_sides_expected_source()
    {
        using var a = new Phone(0xA0000002);
        using var b = new Phone(0xB0000002);
        var flags = Flags("SIP-source-address");
        var bSendsTo = MediaPort(Ok(Offer(Sdp(a.Port, "10.0.0.7"), flags: flags, receivedFrom: "203.0.113.10")));
        var aSendsTo = MediaPort(Ok(Answer(Sdp(b.Port, "10.0.0.8"), flags: flags, receivedFrom: "203.0.113.20")));
        // the phones here send from 127.0.0.1: not the SIP sources, so neither side may take them
        a.Send(aSendsTo, 6);
        b.Send(bSendsTo, 6);
        await AwaitAssertAsync(async () =>
        {
            var s = await Snapshot(RtpId());
            Assert.Equal(6, s.Left.Dropped.GetValueOrDefault(DropReason.UnexpectedSource));
            Assert.Equal(6, s.Right.Dropped.GetValueOrDefault(DropReason.UnexpectedSource));
        }, Wait);
    }

    [Fact]
    public async Task A_public_sdp_address_the_sip_came_from_is_expected_and_a_private_one_is_not()
    {
        using var a = new Phone(0xA0000003);
        using var b = new Phone(0xB0000003);
        // A: public, and where its SIP came from: expected. B: private: no expected source, so B's packets latch.
        var bSendsTo = MediaPort(Ok(Offer(Sdp(a.Port, "198.51.100.7"), flags: Flags("trust-address"), receivedFrom: "198.51.100.7")));
        var aSendsTo = MediaPort(Ok(Answer(Sdp(b.Port, "192.168.1.9"), flags: Flags("trust-address"), receivedFrom: "203.0.113.20")));
        a.Send(aSendsTo, 6);
        b.Send(bSendsTo, 6);
        await AwaitAssertAsync(async () =>
        {
            var s = await Snapshot(RtpId());
            Assert.Equal(6, s.Left.Dropped.GetValueOrDefault(DropReason.UnexpectedSource));
            Assert.Equal(b.Port, s.Right.Latched?.Port);
        }, Wait);
    }

    [Fact]
    public async Task A_callers_reinvite_keeps_the_ports_and_lets_its_new_stream_take_over_the_left_side()
    {
        using var a = new Phone(0xA0000004);
        using var b = new Phone(0xB0000004);
        var (aSendsTo, bSendsTo) = await EstablishedCall(a, b);
        using var moved = new Phone(0xA0000044);                          // a new port and a new SSRC
        // not signalled yet: the latched side keeps its source
        moved.Send(aSendsTo, 6);
        await AwaitAssertAsync(async () =>
            Assert.Equal(6, (await Snapshot(RtpId())).Left.Dropped.GetValueOrDefault(DropReason.ForeignSource)), Wait);

        var reoffer = Ok(Offer(Sdp(moved.Port)));
        Assert.Equal(bSendsTo, MediaPort(reoffer));                      // same ports for the callee
        await Talk(moved, aSendsTo, b, bSendsTo);                         // the re-signalled side learns the new stream
        Assert.Equal(moved.Port, (await Snapshot(RtpId())).Left.Latched!.Port);
        Assert.Equal(2, (await Channels()).Count);
    }

    [Fact]
    public async Task A_callees_reinvite_arrives_with_swapped_tags_keeps_the_ports_and_lets_its_new_stream_take_over_the_right_side()
    {
        using var a = new Phone(0xA0000005);
        using var b = new Phone(0xB0000005);
        var (aSendsTo, bSendsTo) = await EstablishedCall(a, b);
        using var moved = new Phone(0xB0000055);
        var reoffer = Ok(Offer(Sdp(moved.Port), from: TagB, to: TagA));
        Assert.Equal(aSendsTo, MediaPort(reoffer));                      // the callee's offer goes to the caller: left side
        var reanswer = Ok(Answer(Sdp(a.Port), from: TagB, to: TagA));
        Assert.Equal(bSendsTo, MediaPort(reanswer));
        await Talk(a, aSendsTo, moved, bSendsTo);
        Assert.Equal(moved.Port, (await Snapshot(RtpId())).Right.Latched!.Port);
    }

    [Fact]
    public async Task A_second_identical_answer_gets_the_same_sdp_and_reopens_no_side_to_learning()
    {
        using var a = new Phone(0xA0000006);
        using var b = new Phone(0xB0000006);
        var bSendsTo = MediaPort(Ok(Offer(Sdp(a.Port))));
        var first = Ok(Answer(Sdp(b.Port)));
        var aSendsTo = MediaPort(first);
        await Talk(a, aSendsTo, b, bSendsTo);
        // a lost 200 OK: Kamailio runs the reply route again and sends the answer once more, with a new cookie
        Assert.Equal(first, Ok(Answer(Sdp(b.Port))));
        // were the side re-signalled, a new in-sequence stream from another port would take it over now
        using var intruder = new Phone(0xBAD00006);
        intruder.Send(bSendsTo, 8);
        await AwaitAssertAsync(async () =>
            Assert.Equal(8, (await Snapshot(RtpId())).Right.Dropped.GetValueOrDefault(DropReason.ForeignSource)), Wait);
        Assert.Equal(b.Port, (await Snapshot(RtpId())).Right.Latched!.Port);
        await Talk(a, aSendsTo, b, bSendsTo);
    }

    [Fact]
    public async Task A_retransmitted_request_gets_the_same_reply_and_is_not_acted_on_twice()
    {
        var cookie = Client.NextCookie();
        var request = Command("offer", ("call-id", CallId), ("from-tag", TagA), ("sdp", Sdp(4000)));
        var first = Client.RequestRaw(request, cookie);
        var again = Client.RequestRaw(request, cookie);
        Assert.Equal(first, again);
        Assert.Equal(2, (await Status()).ChannelsOpened);                 // one RTP and one RTCP channel, once

        var deleteCookie = Client.NextCookie();
        var delete = Command("delete", ("call-id", CallId));
        var deleted = Client.RequestRaw(delete, deleteCookie);
        Assert.Equal(deleted, Client.RequestRaw(delete, deleteCookie));  // the statistics again, not "not found"
        Assert.Equal("ok", Str(NgTestClient.Body(deleted), "result"));
        Assert.Null(NgTestClient.Body(deleted)["warning"]);
    }

    [Fact]
    public async Task Delete_by_call_closes_every_channel_frees_every_port_and_reports_the_final_counters()
    {
        using var a = new Phone(0xA0000007);
        using var b = new Phone(0xB0000007);
        var (aSendsTo, bSendsTo) = await EstablishedCall(a, b);
        var reply = Delete();
        Ok(reply);
        Assert.True(Int(reply, "totals", "RTP", "packets") >= 8, reply.ToString());
        Assert.Equal(aSendsTo, Int(reply, "tags", TagA, "medias", 0, "streams", 0, "local port"));
        Assert.Equal(bSendsTo, Int(reply, "tags", TagB, "medias", 0, "streams", 0, "local port"));
        Assert.Equal(a.Port, Int(reply, "tags", TagA, "medias", 0, "streams", 0, "endpoint", "port"));
        Assert.Equal("RTCP", Str(reply, "tags", TagA, "medias", 0, "streams", 1, "flags", 0));
        Assert.Empty(await Channels());
        var status = await Status();
        Assert.Equal(status.PortsTotal, status.PortsFree);
        Assert.Equal(NgErrors.UnknownCallId, Str(Query(), "error-reason"));
        Assert.Empty(List());
    }

    [Fact]
    public async Task Delete_with_a_tag_of_the_call_ends_it_and_with_a_stranger_tag_leaves_it()
    {
        using var a = new Phone(0xA0000008);
        using var b = new Phone(0xB0000008);
        await EstablishedCall(a, b);
        var stranger = Delete(from: "someone-else");
        Assert.Equal("ok", Str(stranger, "result"));
        Assert.Equal(NgErrors.CallNotFound, Str(stranger, "warning"));
        Assert.Equal(NgErrors.CallNotFound, Str(Delete(from: "someone-else", flags: Flags("fatal")), "error-reason"));
        Assert.Equal(NgErrors.CallNotFound, Str(Delete(from: TagA, to: "another-branch", flags: Flags("to-tag")), "warning"));
        Ok(Query());
        Assert.Equal(2, (await Channels()).Count);

        Ok(Delete(from: TagB));                                           // the callee's BYE: From is the callee
        Assert.Empty(await Channels());
        Assert.Empty(List());
    }

    [Fact]
    public async Task A_delete_of_a_call_the_book_does_not_know_closes_the_channels_the_node_holds_for_it()
    {
        // what a node brings back from its journal after a restart: the call's channels, and an empty call book
        foreach (var id in new[] { $"{CallId}/{TagA}/1", $"{CallId}/{TagA}/1/rtcp" })
            Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel(id), Wait));
        Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel($"{CallId}x/{TagA}/1"), Wait)); // another call
        Assert.Equal(NgErrors.CallNotFound, Str(Delete(from: TagA, callId: "never-seen"), "warning"));
        Assert.Equal(3, (await Channels()).Count);

        var deleted = Delete(from: TagA);
        Assert.Equal("ok", Str(deleted, "result"));
        await AwaitAssertAsync(async () => Assert.Equal([$"{CallId}x/{TagA}/1"], (await Channels()).Select(c => c.ChannelId)), Wait);
    }

    [Fact]
    public async Task Query_list_and_statistics_report_in_rtpengines_shape()
    {
        using var a = new Phone(0xA0000009);
        using var b = new Phone(0xB0000009);
        var (aSendsTo, bSendsTo) = await EstablishedCall(a, b);
        var query = Query();
        Ok(query);
        Assert.Equal(TagB, Str(query, "tags", TagA, "in dialogue with"));
        Assert.Equal(TagA, Str(query, "tags", TagB, "in dialogue with"));
        Assert.Equal("audio", Str(query, "tags", TagA, "medias", 0, "type"));
        Assert.Equal("RTP/AVP", Str(query, "tags", TagA, "medias", 0, "protocol"));
        Assert.Equal(1, Int(query, "tags", TagA, "medias", 0, "index"));
        var stream = At(query, "tags", TagB, "medias", 0, "streams", 0);
        Assert.Equal(bSendsTo, Int(stream, "local port"));
        Assert.Equal("127.0.0.1", Str(stream, "local address"));
        Assert.Equal(b.Port, Int(stream, "endpoint", "port"));
        Assert.Equal(b.Port, Int(stream, "advertised endpoint", "port"));
        Assert.Equal(["RTP", "filled", "confirmed"], ((BList)At(stream, "flags")).Items.Select(f => ((BString)f).Text));
        Assert.True(Int(stream, "stats", "packets") > 0);
        Assert.True(Int(stream, "stats_out", "packets") > 0);
        Assert.True(Int(query, "totals", "RTP", "packets") > 0);
        Assert.Equal(aSendsTo, Int(query, "tags", TagA, "medias", 0, "streams", 0, "local port"));
        // the quality of each party's stream, keyed by its SSRC as rtpengine's "SSRC" dictionary is (MOS × 10)
        var quality = At(query, "SSRC", b.Ssrc.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(Int(quality, "packets expected") > 0);
        Assert.Equal(0, Int(quality, "packets lost"));
        Assert.InRange(Int(quality, "average MOS", "MOS"), 40, 45);
        Assert.Equal(8000, Int(quality, "clock rate"));

        Assert.Equal([CallId], List());

        var stats = Client.Request(Command("statistics"));
        Ok(stats);
        Assert.Equal(1, Int(stats, "statistics", "currentstatistics", "sessionsown"));
        Assert.Equal(1, Int(stats, "statistics", "totalstatistics", "managedsessions"));
        Assert.Equal(2, Int(stats, "actorrelay", "channels open"));
        Assert.Equal(Ports.Max - Ports.Min + 1 - 4, Int(stats, "actorrelay", "ports free"));
        Ok(Delete());
        stats = Client.Request(Command("statistics"));
        Assert.Equal(0, Int(stats, "statistics", "currentstatistics", "sessionsown"));
        Assert.Equal(1, Int(stats, "statistics", "totalstatistics", "regularterminatedsessions"));
        Assert.True(Int(stats, "statistics", "totalstatistics", "relayedpackets") >= 2);     // at least one each way
    }

    [Fact]
    public async Task When_both_parties_multiplex_rtcp_the_rtcp_channel_closes_at_the_answer()
    {
        using var a = new Phone(0xA000000A);
        using var b = new Phone(0xB000000A);
        var offer = Ok(Offer(Sdp(a.Port, extra: "a=rtcp-mux\r\n")));
        Assert.Contains("a=rtcp-mux\r\n", offer);
        Assert.Equal(2, (await Channels()).Count);                         // the callee may still refuse to multiplex
        var answer = Ok(Answer(Sdp(b.Port, extra: "a=rtcp-mux\r\n")));
        Assert.Equal([RtpId()], (await Channels()).Select(c => c.ChannelId));
        Assert.Contains("a=rtcp-mux\r\n", answer);
        await Talk(a, MediaPort(answer), b, MediaPort(offer));
        Assert.Contains("rtcp-mux", ((BList)At(Query(), "tags", TagA, "medias", 0, "flags")).Items.Select(f => ((BString)f).Text));
    }

    [Fact]
    public async Task Audio_and_video_are_two_streams_of_two_channels_each()
    {
        var offer = Ok(Offer(Sdp(4000, videoPort: 4002)));
        var answer = Ok(Answer(Sdp(5000, videoPort: 5002)));
        var channels = (await Channels()).ToDictionary(c => c.ChannelId);
        Assert.Equal(4, channels.Count);
        Assert.Equal(channels[RtpId(media: 0)].Right.Port, MediaPort(offer, 0));
        Assert.Equal(channels[RtpId(media: 1)].Right.Port, MediaPort(offer, 1));
        Assert.Equal(channels[RtpId(media: 0)].Left.Port, MediaPort(answer, 0));
        Assert.Equal(channels[RtpId(media: 1)].Left.Port, MediaPort(answer, 1));
        Assert.Equal(channels[RtcpId(media: 1)].Left.Port, channels[RtpId(media: 1)].Left.Port + 1);
        Assert.Equal("video", Str(Query(), "tags", TagB, "medias", 1, "type"));
    }

    [Fact]
    public async Task A_stream_the_answer_rejects_is_closed()
    {
        Ok(Offer(Sdp(4000, videoPort: 4002)));
        var answer = Ok(Answer(Sdp(5000, videoPort: 0)));
        Assert.Contains("m=video 0 ", answer);
        Assert.Equal([RtpId(media: 0), RtcpId(media: 0)], (await Channels()).Select(c => c.ChannelId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Offer_and_answer_errors_are_worded_as_rtpengine_words_them_and_leave_nothing_open()
    {
        Assert.Equal(NgErrors.UnknownCallId, Str(Answer(Sdp(5000), callId: "never-offered"), "error-reason"));
        Assert.Equal(NgErrors.UnknownCallId, Str(Query("never-offered"), "error-reason"));
        Assert.Equal(NgErrors.FailedToParseSdp, Str(Offer("m=audio 4000 RTP/AVP 0\r\n"), "error-reason"));
        Assert.Equal(NgErrors.UnknownCallId, Str(Query(), "error-reason"));   // a refused first offer makes no call
        Assert.Equal(NgErrors.NoCallId, Str(Client.Request(Command("offer", ("from-tag", TagA), ("sdp", Sdp(4000)))), "error-reason"));
        Assert.Equal(NgErrors.NoToTag, Str(Client.Request(Command("answer", ("call-id", CallId), ("from-tag", TagA), ("sdp", Sdp(4000)))), "error-reason"));
        Assert.Equal(NgErrors.UnrecognizedCommand, Str(Client.Request(Command("start recording", ("call-id", CallId))), "error-reason"));
        Ok(Offer(Sdp(4000)));
        Assert.Equal(NgErrors.CallNotFound, Str(Answer(Sdp(5000), from: "not-the-offerer", to: "x"), "error-reason"));
        var stats = Client.Request(Command("statistics"));
        Assert.Equal(1, Int(stats, "statistics", "totalstatistics", "rejectedsessions"));
        Assert.Equal(1, Int(stats, "statistics", "totalstatistics", "managedsessions"));
    }

    [Fact]
    public void Malformed_datagrams_are_answered_or_dropped_and_the_endpoint_carries_on()
    {
        Client.SendRaw("no-space-at-all"u8.ToArray());                                   // unanswerable
        Client.SendRaw(Encoding.Latin1.GetBytes(" d7:command4:pinge"));                   // empty cookie: unanswerable
        Assert.Equal(NgErrors.BadBencode, Str(Reply("c1 d7:command"), "error-reason"));
        Assert.Equal(NgErrors.JsonNotSupported, Str(Reply("c2 {\"command\":\"ping\"}"), "error-reason"));
        Assert.Equal(NgErrors.NoPayload, Str(Reply("c3 "), "error-reason"));
        Assert.Equal(NgErrors.NoCommand, Str(Reply("c4 d4:call2:ide"), "error-reason"));
        Assert.Equal(NgErrors.NoFromTag, Str(Reply("c5 d7:call-id1:x7:command5:offer3:sdp3:v=0e"), "error-reason"));
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            Client.SendRaw([.. "j "u8, .. junk]);
        }
        Assert.Equal("pong", Str(Client.Request(Command("ping")), "result"));

        BDictionary Reply(string datagram)
        {
            var cookie = datagram[..datagram.IndexOf(' ')];
            Client.SendRaw(Encoding.Latin1.GetBytes(datagram));
            return NgTestClient.Body(Client.ReceiveReply(cookie, Wait) ?? throw new TimeoutException(datagram));
        }
    }

    [Fact]
    public void Keys_and_flags_not_implemented_are_listed_in_the_warning()
    {
        var reply = Offer(Sdp(4000, extra: "a=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\na=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host\r\n"),
            flags: Flags("asymmetric", "media-handover", "SDES-off", "trust-address"),
            more: [("ICE", "force"), ("codec", BDictionary.Of(("strip", new BList("PCMA")))), ("rtcp-mux", new BList("demux"))]);
        var sdp = Ok(reply);
        var warning = Str(reply, "warning");
        foreach (var what in new[] { "SDES-off", "codec", "asymmetric", "media-handover", "ICE=Force", "rtcp-mux" })
            Assert.Contains(what, warning);
        Assert.DoesNotContain("trust-address", warning);
        Assert.DoesNotContain("a=candidate", sdp);                                        // ICE is stripped: see the README
        Assert.DoesNotContain("a=ice-ufrag", sdp);
    }

    [Fact]
    public async Task A_call_whose_channels_time_out_is_over()
    {
        Ok(Offer(Sdp(4000)));
        Ok(Answer(Sdp(5000)));
        Clock.Advance(TimeSpan.FromSeconds(181));                                          // past relay.ng's idle and setup timeouts
        foreach (var c in await Channels()) c.Channel.Tell(ActorRelay.Channels.ChannelActor.CheckDeadlines.Instance);
        await AwaitAssertAsync(() => Assert.Equal(NgErrors.UnknownCallId, Str(Query(), "error-reason")), Wait);
        Assert.Empty(await Channels());
        var stats = Client.Request(Command("statistics"));
        Assert.Equal(1, Int(stats, "statistics", "totalstatistics", "timeoutsessions"));
        Assert.Equal(1, Int(stats, "statistics", "totalstatistics", "zerowaystreams"));
        // the call-id is free again: a new offer makes a new call
        Ok(Offer(Sdp(4000)));
        Assert.Equal(2, (await Channels()).Count);
    }

    [Fact]
    public async Task A_channel_id_another_holds_moves_that_channel_to_the_next_generation_of_its_name()
    {
        // a call deleted and offered again while its old channels were still closing meets its own ids taken
        Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel(RtpId(), SubscribeOpener: false), Wait));
        var offer = Ok(Offer(Sdp(4000)));
        var channels = (await Channels()).ToDictionary(c => c.ChannelId);
        Assert.Equal([RtpId(), RtcpId(), RtpId() + "~2"], channels.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(channels[RtpId() + "~2"].Right.Port, MediaPort(offer));
        Ok(Delete());
        Assert.Equal([RtpId()], (await Channels()).Select(c => c.ChannelId));
    }

    [Fact]
    public async Task A_delete_delay_keeps_the_call_until_it_has_passed()
    {
        Ok(Offer(Sdp(4000)));
        Ok(Client.Request(Command("delete", ("call-id", CallId), ("delete-delay", 1L))));
        Ok(Query());
        await AwaitAssertAsync(() => Assert.Equal(NgErrors.UnknownCallId, Str(Query(), "error-reason")), Wait);
        Assert.Empty(await Channels());
    }
}

/// <summary>RTCP on pool ports when the ports above the RTP channel's are taken (here by another program).</summary>
public sealed class NgRtcpPortSpecs(ITestOutputHelper output) : NgEndpointSpecsBase(output)
{
    [Fact]
    public async Task When_the_ports_above_are_taken_rtcp_goes_to_pool_ports_written_in_a_rtcp()
    {
        var held = new List<Socket>();
        try
        {
            for (var p = Ports.Min + (Ports.Min % 2 == 0 ? 1 : 0); p <= Ports.Max; p += 2)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(new IPEndPoint(IPAddress.Loopback, p));
                held.Add(s);
            }
            var offer = Ok(Offer(Sdp(4000)));
            var channels = (await Channels()).ToDictionary(c => c.ChannelId);
            // the first try on the ports above failed to bind; its name is held until that channel has closed
            var rtcp = channels.Values.Single(c => c.ChannelId.StartsWith(RtcpId(), StringComparison.Ordinal));
            Assert.NotEqual(channels[RtpId()].Right.Port + 1, rtcp.Right.Port);
            Assert.Contains($"a=rtcp:{rtcp.Right.Port}\r\n", offer);
            var answer = Ok(Answer(Sdp(5000)));
            Assert.Contains($"a=rtcp:{rtcp.Left.Port}\r\n", answer);
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
    }
}

/// <summary>Only senders in relay.ng.allow are answered.</summary>
public sealed class NgAllowSpecs(ITestOutputHelper output) : NgEndpointSpecsBase(output, "relay.ng.allow = [\"127.0.0.2\"]")
{
    [Fact]
    public void A_sender_outside_the_allow_list_gets_no_answer()
    {
        using var allowed = new NgTestClient(Ng.Listening[0], IPAddress.Parse("127.0.0.2"));
        Client.SendRaw(NgFraming.Frame("refused", Command("ping")));
        Assert.Equal("pong", Str(allowed.Request(Command("ping")), "result"));
        // the endpoint reads its socket in order: it had dealt with the refused ping before it answered the allowed one
        Assert.True(Client.NothingQueued, "the refused sender got an answer");
    }
}

/// <summary>
/// The call book reads every page of the node's listing: list finds calls whose channels are on later pages, and a delete
/// of a call the book does not know closes its channels wherever they page (a node page of 2 channels here).
/// </summary>
public sealed class NgPagedListingSpecs(ITestOutputHelper output) : NgEndpointSpecsBase(output, listPageSize: 2)
{
    [Fact]
    public async Task List_reports_every_call_whose_channels_the_node_lists_on_any_page()
    {
        // channels of no call, before and after the calls' in the node's order
        foreach (var id in new[] { "0-before", "1-before", "zz-after" })
            Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel(id), Wait));
        var calls = new[] { "call-c@example.com", "call-a@example.com", "call-b@example.com" };
        foreach (var call in calls) Ok(Offer(Sdp(4000), callId: call));
        Assert.Equal(3 + 2 * calls.Length, (await Channels()).Count);   // 5 pages of 2
        Assert.Equal(calls, List());                                    // in the order the calls began
    }

    [Fact]
    public async Task A_delete_of_a_call_the_book_does_not_know_closes_its_channels_on_every_page()
    {
        var mine = new[] { $"{CallId}/{TagA}/1", $"{CallId}/{TagA}/1/rtcp", $"{CallId}/{TagA}/2", $"{CallId}/{TagA}/2/rtcp", $"{CallId}/{TagB}/1" };
        // others around them in ordinal order: before the call-id, between it and "{call-id}/" ('-' and '.' sort before '/'), after
        var others = new[] { "0-first", CallId, $"{CallId}-2/{TagA}/1", $"{CallId}.x/{TagA}/1", $"{CallId}x/{TagA}/1", "zz-last" };
        foreach (var id in mine.Concat(others))
            Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel(id), Wait));
        Assert.Equal(mine.Length + others.Length, (await Channels()).Count);

        Ok(Delete(from: TagA));
        await AwaitAssertAsync(async () =>
            Assert.Equal(others.Order(StringComparer.Ordinal), (await Channels()).Select(c => c.ChannelId)), Wait);
    }
}
