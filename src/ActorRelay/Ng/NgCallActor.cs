using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Protocol;

namespace ActorRelay.Ng;

/// <summary>What every call's actor shares: the node, the NG settings and what the node binds and advertises.</summary>
internal sealed record NgCallContext(
    IActorRef Node,
    NgSettings Settings,
    LatchMode NodeLatchMode,
    bool DualStack,
    IPAddress? HostIPv4,
    IPAddress? HostIPv6,
    RelayClock Clock,
    bool Clustered = false,
    string ClusterRole = "relay",
    TimeSpan ClusterNodeTimeout = default,
    string ClusterEntryName = "placement")
{
    /// <summary>RTCP carries no sequence numbers, so the rtp and auto modes' probation never passes: RTCP channels latch as first.</summary>
    public LatchMode? RtcpLatchMode => NodeLatchMode is LatchMode.Rtp or LatchMode.Auto ? LatchMode.First : null;
}

/// <summary>An NG command that cannot be served: its reply (an error, or "load limit").</summary>
internal sealed class NgFailure(BDictionary reply, string why) : Exception(why)
{
    public BDictionary Reply { get; } = reply;

    public static NgFailure Error(string reason) => new(NgReplies.Error(reason), reason);
}

/// <summary>
/// One call of the NG endpoint, a child of the call book. Turns the call's offers, answers, deletes and queries into
/// the node's messages (OpenChannel, ResignalSide, CloseChannel, GetChannel) one command at a time, and hears from the
/// book (its channels' subscriber) when one of them closes on its own (a timeout, the node stopping): the channel
/// leaves the call, and a call without media channels is over. Rules (README, "Kamailio / OpenSIPS"):
/// <list type="bullet">
/// <item>Each active media section is one RTP channel (left = the first offerer's side, right = the answerer's, both on
/// even ports) and one RTCP channel on the ports above them (pool ports and an explicit a=rtcp when one is taken),
/// closed again when the answer has both parties multiplexing RTCP (rtcp-mux).</item>
/// <item>Until the call's first answer no side may latch (its expected source is <see cref="NgExpectedSource.Nobody"/>):
/// neither client has been told where to send yet, so whatever arrives is someone else's. The answer re-signals every
/// side with its party's expected source (<see cref="NgLatching"/>).</item>
/// <item>A later offer or answer (a re-INVITE, either way) keeps the channels and ports and re-signals the side of the
/// party whose SDP changed, so it may learn its new source.</item>
/// </list>
/// </summary>
internal sealed class NgCallActor : ReceiveActor, IWithTimers
{
    private readonly string _callId;
    private readonly NgCallContext _ctx;
    private readonly IActorRef _book = Context.Parent;   // every NG channel's subscriber: it forwards this call's ChannelClosed here
    private readonly IActorRef _self = Context.Self;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, ChannelSnapshot> _finals = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rtpChannels = new(StringComparer.Ordinal);
    private readonly List<string> _warnings = [];
    private NgCall? _call;
    private bool _ended;

    public ITimerScheduler Timers { get; set; } = null!;

    public NgCallActor(string callId, NgCallContext context)
    {
        _callId = callId;
        _ctx = context;
        ReceiveAsync<NgCommandRequest>(OnCommand);
        ReceiveAsync<DeleteNow>(_ => OnDeleteNow());
        Receive<ChannelClosed>(OnChannelClosed);
        Receive<OpenRejected>(_ => { });            // replies to the closes of a call that ended on its own
        Receive<ChannelNotFound>(_ => { });
        Receive<NgRetire>(_ => Context.Stop(Self));
    }

    public static Props Props(string callId, NgCallContext context) =>
        ActorProps.Of(() => new NgCallActor(callId, context), Channels.CompactMailbox.Deployment); // one per call, thousands alive

    private sealed record DeleteNow
    {
        public static readonly DeleteNow Instance = new();
    }

    // ---- commands ---------------------------------------------------------------------------------

    private async Task OnCommand(NgCommandRequest command)
    {
        var replyTo = Sender;
        if (_ended)
        {
            Context.Parent.Tell(new NgCallGone(command, replyTo));
            return;
        }
        var r = command.Request;
        _warnings.Clear();
        BDictionary reply;
        try
        {
            reply = r.Command switch
            {
                NgCommand.Offer => _call is null ? await FirstOffer(r) : await Offer(r),
                NgCommand.Answer => await Answer(r),
                NgCommand.Delete => await Delete(r),
                NgCommand.Query => await Query(r),
                _ => NgReplies.Error(NgErrors.UnrecognizedCommand),
            };
        }
        catch (NgFailure f)
        {
            _log.Warning("NG {Command} of call {Call} refused: {Why}", r.CommandName, _callId, f.Message);
            reply = f.Reply;
        }
        catch (Exception e)
        {
            _log.Error(e, "NG {Command} of call {Call} failed", r.CommandName, _callId);
            reply = NgReplies.Error($"Internal error: {e.Message}");
        }
        replyTo.Tell(new NgCommandReply(command.Token, reply));
        if (_call is null && !_ended) End(NgCallEnd.Rejected);     // a first offer that opened nothing
    }

    private async Task<BDictionary> FirstOffer(NgRequest r)
    {
        var sdp = ParseSdp(r);
        var now = _ctx.Clock.WallNow;
        var a = new NgParty(r.FromTag!, now) { Label = r.Label, ViaBranch = r.ViaBranch };
        var call = new NgCall(_callId, a, now);
        if (r.ToTag is { } to && to != a.Tag) call.B = new NgParty(to, now);
        var medias = NgMediaSdp.Of(sdp);
        for (var i = 0; i < medias.Count; i++)
        {
            a.Update(i, medias[i], NgLatching.ExpectedSource(r, medias[i].Address));
            call.Streams.Add(new NgStream(i, medias[i].Type, medias[i].Protocol));
        }
        _call = call;
        try
        {
            await Task.WhenAll(call.Streams.Where(s => !medias[s.Index].Disabled).Select(s => OpenStream(s, a, r)));
        }
        catch
        {
            await CloseAll();
            _call = null;
            throw;
        }
        _log.Info("NG call {Call}: offer from {Tag} ({Streams} streams); {Expected}", _callId, a.Tag, call.Streams.Count(s => s.Rtp is not null),
            string.Join(", ", a.Expected.Select(e => e.Why)));
        return Rewrite(r, sdp, medias, Side.Right);
    }

    /// <summary>A later offer: a re-INVITE from either party (the callee's arrives with the tags swapped).</summary>
    private async Task<BDictionary> Offer(NgRequest r)
    {
        var call = _call!;
        var sender = call.Party(r.FromTag);
        // the callee's offer (tags swapped) before its answer reached us: it is party B
        if (sender is null && call.B is null && r.ToTag == call.A.Tag) sender = call.B = new NgParty(r.FromTag!, _ctx.Clock.WallNow);
        if (sender is null) throw NgFailure.Error(NgErrors.CallNotFound);
        sender.Label = r.Label ?? sender.Label;
        sender.ViaBranch = r.ViaBranch ?? sender.ViaBranch;
        var sdp = ParseSdp(r);
        var medias = NgMediaSdp.Of(sdp);
        var side = call.SideOf(sender);
        var work = new List<Task>();
        for (var i = 0; i < medias.Count; i++)
        {
            var changed = sender.Update(i, medias[i], NgLatching.ExpectedSource(r, medias[i].Address));
            if (i >= call.Streams.Count) call.Streams.Add(new NgStream(i, medias[i].Type, medias[i].Protocol));
            var stream = call.Streams[i];
            if (medias[i].Disabled)
            {
                if (stream.Rtp is not null) work.Add(CloseStream(stream, "disabled by a new offer"));
                continue;
            }
            stream.Type = medias[i].Type;
            stream.Protocol = medias[i].Protocol;
            if (stream.Rtp is null)
            {
                stream.Unblocked = false;
                stream.Muxed = false;
                work.Add(OpenStream(stream, sender, r));
                continue;
            }
            if (stream.Muxed && !medias[i].RtcpMux) work.Add(EnsureRtcp(stream, r));
            if (stream.Unblocked && changed) work.Add(Resignal(stream, side, sender.ExpectedAt(i)));
        }
        await Task.WhenAll(work);
        call.LastSignal = _ctx.Clock.WallNow;
        return Rewrite(r, sdp, medias, Opposite(side));
    }

    private async Task<BDictionary> Answer(NgRequest r)
    {
        if (_call is not { } call) throw NgFailure.Error(NgErrors.UnknownCallId);
        var answerer = call.Party(r.ToTag);
        if (answerer is null && call.B is null && r.FromTag == call.A.Tag) answerer = call.B = new NgParty(r.ToTag!, _ctx.Clock.WallNow);
        if (answerer is null || call.Party(r.FromTag) is null || ReferenceEquals(call.Party(r.FromTag), answerer))
            throw NgFailure.Error(NgErrors.CallNotFound);
        answerer.Label = r.Label ?? answerer.Label;
        var offerer = call.Other(answerer)!;
        var sdp = ParseSdp(r);
        var medias = NgMediaSdp.Of(sdp);
        var side = call.SideOf(answerer);
        var work = new List<Task>();
        for (var i = 0; i < medias.Count; i++)
        {
            var changed = answerer.Update(i, medias[i], NgLatching.ExpectedSource(r, medias[i].Address));
            if (i >= call.Streams.Count)
            {
                _warnings.Add($"media section {i + 1} of the answer was not offered: left as it is");
                continue;
            }
            var stream = call.Streams[i];
            if (stream.Rtp is null) continue;
            if (medias[i].Disabled)
            {
                work.Add(CloseStream(stream, "rejected by the answer"));
                continue;
            }
            var muxed = medias[i].RtcpMux && offerer.MediaAt(i)?.RtcpMux == true;
            if (!stream.Unblocked)
            {
                stream.Unblocked = true;
                stream.Muxed = muxed;
                work.Add(UnblockThenMux(stream, call));
            }
            else
            {
                if (muxed != stream.Muxed)
                {
                    stream.Muxed = muxed;
                    work.Add(muxed ? CloseRtcp(stream) : EnsureRtcp(stream, r));
                }
                if (changed) work.Add(Resignal(stream, side, answerer.ExpectedAt(i)));
            }
        }
        await Task.WhenAll(work);
        call.LastSignal = _ctx.Clock.WallNow;
        return Rewrite(r, sdp, medias, Opposite(side));
    }

    /// <summary>The call's first answer for this stream: every side may latch now, each only from its party's expected source.</summary>
    private async Task UnblockThenMux(NgStream stream, NgCall call)
    {
        if (stream.Muxed) await CloseRtcp(stream);
        await Task.WhenAll(
            Resignal(stream, Side.Left, call.A.ExpectedAt(stream.Index)),
            Resignal(stream, Side.Right, call.B?.ExpectedAt(stream.Index) ?? NgExpectedSource.AnySource));
    }

    private async Task<BDictionary> Delete(NgRequest r)
    {
        var call = _call!;
        if (r.FromTag is { } from && call.Party(from) is null || r.Has(NgFlags.ToTag) && r.ToTag is { } to && call.Party(to) is null)
            return r.Has(NgFlags.Fatal) ? NgReplies.Error(NgErrors.CallNotFound) : NgReplies.Ok(warning: NgErrors.CallNotFound);
        if (r.DeleteDelay is > 0 and var delay)
        {
            Timers.StartSingleTimer(DeleteNow.Instance, DeleteNow.Instance, TimeSpan.FromSeconds(delay));
            _log.Info("NG call {Call}: delete in {Delay} s", _callId, delay);
            return r.Has(NgFlags.Fast) ? NgReplies.Ok(warning: Warning(r)) : NgReplies.CallStatistics(call.Report(await Snapshots()), Warning(r));
        }
        var finals = await CloseAll();
        _log.Info("NG call {Call}: deleted", _callId);
        var reply = r.Has(NgFlags.Fast) ? NgReplies.Ok(warning: Warning(r)) : NgReplies.CallStatistics(call.Report(finals), Warning(r));
        End(NgCallEnd.Deleted);
        return reply;
    }

    private async Task OnDeleteNow()
    {
        if (_ended || _call is null) return;
        await CloseAll();
        _log.Info("NG call {Call}: deleted after its delay", _callId);
        End(NgCallEnd.Deleted);
    }

    private async Task<BDictionary> Query(NgRequest r) =>
        NgReplies.CallStatistics(_call!.Report(await Snapshots()), Warning(r));

    // ---- channels --------------------------------------------------------------------------------

    private ChannelOptions Options(bool rtcp) => new(
        LatchMode: rtcp ? _ctx.RtcpLatchMode : null,
        IdleTimeout: _ctx.Settings.IdleTimeout,
        SetupTimeout: _ctx.Settings.SetupTimeout,
        Probation: rtcp ? null : _ctx.Settings.Probation);

    /// <summary>Opens a stream's RTP channel (even pool ports, no side may latch before the answer), then its RTCP channel.</summary>
    private async Task OpenStream(NgStream stream, NgParty sender, NgRequest r)
    {
        var call = _call!;
        var (leftBind, rightBind) = Binds(r, call.SideOf(sender));
        var opened = await Open(g => new OpenChannel(NgChannelIds.For(_callId, call.A.Tag, stream.Index, false, g),
            new SideRequest(BindAddress: leftBind, ExpectedSource: NgExpectedSource.Nobody, EvenPort: true),
            new SideRequest(BindAddress: rightBind, ExpectedSource: NgExpectedSource.Nobody, EvenPort: true),
            Options(false), Subscriber: _book));
        stream.Rtp = opened as ChannelOpened ?? throw Refused((OpenRejected)opened, r);
        _rtpChannels.Add(stream.Rtp.ChannelId);
        await OpenRtcp(stream, r, leftBind, rightBind);
    }

    /// <summary>The stream's RTCP channel on the ports above its RTP channel's, or on pool ports when one of those is taken.</summary>
    private async Task OpenRtcp(NgStream stream, NgRequest r, string? leftBind = null, string? rightBind = null)
    {
        var call = _call!;
        var rtp = stream.Rtp!;
        var leftExpected = stream.Unblocked ? call.A.ExpectedAt(stream.Index) : NgExpectedSource.Nobody;
        var rightExpected = stream.Unblocked ? call.B?.ExpectedAt(stream.Index) ?? NgExpectedSource.AnySource : NgExpectedSource.Nobody;
        OpenChannel Request(int g, bool adjacent) => new(NgChannelIds.For(_callId, call.A.Tag, stream.Index, true, g),
            new SideRequest(adjacent ? rtp.Left.Port + 1 : null, leftBind, leftExpected),
            new SideRequest(adjacent ? rtp.Right.Port + 1 : null, rightBind, rightExpected),
            Options(true), Subscriber: _book);
        var opened = await Open(g => Request(g, adjacent: true));
        if (opened is OpenRejected { Reason: RejectReason.PortInUse or RejectReason.BindFailed or RejectReason.PortOutOfRange } taken)
        {
            _log.Debug("NG call {Call}: RTCP ports next to {Rtp} are taken ({Why}); RTCP on pool ports", _callId, rtp.ChannelId, taken.Message);
            opened = await Open(g => Request(g, adjacent: false));
        }
        stream.Rtcp = opened as ChannelOpened ?? throw Refused((OpenRejected)opened, r);
    }

    private async Task EnsureRtcp(NgStream stream, NgRequest r)
    {
        if (stream.Rtcp is not null || stream.Rtp is null) return;
        await OpenRtcp(stream, r);
    }

    /// <summary>
    /// Opens a channel; when its name is still held (Conflict: an earlier call of the same ids whose channels are
    /// closing, or this channel's own failed first attempt still freeing its ports) it takes the next generation's.
    /// </summary>
    private async Task<object> Open(Func<int, OpenChannel> request)
    {
        for (var generation = 0; ; generation++)
        {
            var open = request(generation);
            _book.Tell(new NgWatchChannel(_callId, open.ChannelId), _self);
            // in a relay cluster the call's later channels go where its first one is (one address in the SDP)
            var reply = await Ask(_ctx.Clustered && _anchor is { } near ? new PlaceNear(open, near) : open);
            if (reply is ChannelOpened { Channel: var placed }) _anchor ??= placed;
            if (reply is OpenRejected { Reason: RejectReason.Conflict } && generation < 16) continue;
            return reply is ChannelOpened or OpenRejected ? reply : throw NgFailure.Error($"Unexpected reply from the relay node: {reply}");
        }
    }

    private static NgFailure Refused(OpenRejected rejected, NgRequest r) => rejected.Reason switch
    {
        RejectReason.PortsExhausted => new(NgReplies.Error(NgErrors.RanOutOfPorts), rejected.Message),
        RejectReason.Capacity or RejectReason.ShuttingDown => new(
            r.SupportsLoadLimit ? NgReplies.LoadLimit(rejected.Message) : NgReplies.Error(NgErrors.SessionLimit), rejected.Message),
        _ => NgFailure.Error($"Failed to open a relay channel: {rejected.Reason}: {rejected.Message}"),
    };

    private Task Resignal(NgStream stream, Side side, string expected) =>
        Task.WhenAll(stream.Channels().Select(async c =>
        {
            var reply = await Ask(new ResignalSide(c.ChannelId, side, expected));
            if (reply is CommandRejected rejected)
                _log.Warning("NG call {Call}: re-signalling {Channel} {Side} to {Expected} refused: {Why}", _callId, c.ChannelId, side, expected, rejected.Message);
        }));

    private async Task CloseStream(NgStream stream, string why)
    {
        _log.Info("NG call {Call}: stream {Index} {Why}", _callId, stream.Index + 1, why);
        var channels = stream.Channels().ToList();
        stream.Rtp = stream.Rtcp = null;
        stream.Muxed = false;
        await Task.WhenAll(channels.Select(Close));
    }

    private async Task CloseRtcp(NgStream stream)
    {
        if (stream.Rtcp is not { } rtcp) return;
        stream.Rtcp = null;
        await Close(rtcp);
    }

    /// <summary>
    /// Closes every channel of the call; their final snapshots by channel id (with those that closed on their own
    /// before). The streams keep naming their channels, for the delete's report: the call ends right after.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, ChannelSnapshot>> CloseAll()
    {
        if (_call is null) return _finals;
        await Task.WhenAll(_call.Channels().ToList().Select(Close));
        return _finals;
    }

    private async Task Close(ChannelOpened channel)
    {
        try
        {
            if (await _ctx.Node.Ask<object>(new CloseChannel(channel.ChannelId), _ctx.Settings.NodeTimeout) is ChannelClosed closed)
                _finals[channel.ChannelId] = closed.Final;
        }
        catch (AskTimeoutException)
        {
            _log.Warning("NG call {Call}: the node did not confirm closing {Channel} within {Timeout}", _callId, channel.ChannelId, _ctx.Settings.NodeTimeout);
        }
    }

    private async Task<IReadOnlyDictionary<string, ChannelSnapshot>> Snapshots()
    {
        var result = new Dictionary<string, ChannelSnapshot>(StringComparer.Ordinal);
        await Task.WhenAll(_call!.Channels().ToList().Select(async c =>
        {
            if (await Ask(new GetChannel(c.ChannelId)) is ChannelSnapshot snapshot) result[c.ChannelId] = snapshot;
        }));
        return result;
    }

    /// <summary>The call's first channel: in a relay cluster, where its other channels are placed.</summary>
    private IActorRef? _anchor;

    private async Task<object> Ask(object message)
    {
        try
        {
            return await _ctx.Node.Ask<object>(message, _ctx.Settings.NodeTimeout);
        }
        catch (AskTimeoutException)
        {
            throw NgFailure.Error($"The relay node did not answer within {_ctx.Settings.NodeTimeout.TotalSeconds:0.#} s");
        }
    }

    private void OnChannelClosed(ChannelClosed closed)
    {
        if (_ended || _call is null || !_call.Forget(closed.ChannelId)) return; // not ours any more: closed on request
        _finals[closed.ChannelId] = closed.Final;
        _log.Info("NG call {Call}: channel {Channel} closed on its own ({Reason})", _callId, closed.ChannelId, closed.Reason);
        if (_call.HasMedia) return;
        foreach (var rest in _call.Channels()) _ctx.Node.Tell(new CloseChannel(rest.ChannelId), Self);
        foreach (var s in _call.Streams) s.Rtp = s.Rtcp = null;
        _log.Info("NG call {Call}: no media channel left, the call is over", _callId);
        End(closed.Reason is CloseReason.IdleTimeout or CloseReason.SetupTimeout or CloseReason.MaxLifetime ? NgCallEnd.TimedOut : NgCallEnd.Forced);
    }

    private void End(NgCallEnd how)
    {
        _ended = true;
        Timers.CancelAll();
        var duration = _call is null ? TimeSpan.Zero : _ctx.Clock.WallNow - _call.Created;
        Context.Parent.Tell(new NgCallEnded(_callId, NgCallSummary.Of(how, duration, _finals.Values, _rtpChannels)));
    }

    // ---- SDP -------------------------------------------------------------------------------------

    private static SdpBody ParseSdp(NgRequest r)
    {
        try
        {
            return SdpBody.Parse(r.Sdp!.Value);
        }
        catch (SdpException e)
        {
            throw new NgFailure(NgReplies.Error(NgErrors.FailedToParseSdp), $"{NgErrors.FailedToParseSdp}: {e.Message}");
        }
    }

    /// <summary>The request's SDP pointed at the relay's side facing its recipient (<paramref name="towards"/>), and the reply.</summary>
    private BDictionary Rewrite(NgRequest r, SdpBody sdp, IReadOnlyList<NgMediaSdp> medias, Side towards)
    {
        var call = _call!;
        var targets = new SdpMediaTarget?[medias.Count];
        for (var i = 0; i < medias.Count && i < call.Streams.Count; i++)
            if (!medias[i].Disabled) targets[i] = Target(call.Streams[i], towards, r);
        var hasIce = medias.Any(m => m.HasIce);
        if (r.Ice is NgIceOption.Force or NgIceOption.ForceRelay or NgIceOption.Optional)
            _warnings.Add($"ICE={r.Ice} (not implemented: ActorRelay takes no part in ICE{(hasIce ? "; the ICE attributes were removed" : "")})");
        if ((r.RtcpMux & (NgRtcpMux.Offer | NgRtcpMux.Require | NgRtcpMux.Demux | NgRtcpMux.Reject)) != 0)
            _warnings.Add($"rtcp-mux {r.RtcpMux} (not implemented: RTCP multiplexing is relayed as the endpoints negotiate it)");
        if (r.TransportProtocol is { } tp && !tp.Equals("accept", StringComparison.OrdinalIgnoreCase) &&
            medias.Any(m => !m.Disabled && !m.Protocol.Equals(tp, StringComparison.OrdinalIgnoreCase)))
            _warnings.Add($"transport-protocol={tp} (not implemented: the SDP's protocol is kept)");
        var options = SdpRewriteOptions.From(r) with { RemoveIce = hasIce };
        byte[] body;
        try
        {
            body = SdpRewriter.Rewrite(sdp, targets, options);
        }
        catch (ArgumentException e)
        {
            throw new NgFailure(NgReplies.Error(NgErrors.RewriteFailed), $"{NgErrors.RewriteFailed}: {e.Message}");
        }
        return NgReplies.Ok(body, Warning(r));
    }

    private SdpMediaTarget? Target(NgStream stream, Side side, NgRequest r)
    {
        if (stream.Rtp is not { } rtp) return null;
        var local = side == Side.Left ? rtp.Left : rtp.Right;
        int? rtcp = stream.Rtcp is { } c ? (side == Side.Left ? c.Left.Port : c.Right.Port) : stream.Muxed ? null : local.Port + 1;
        return new SdpMediaTarget(Advertised(IPAddress.Parse(local.Address), r.AddressFamily), local.Port, rtcp);
    }

    /// <summary>The side's advertised address, or the host's address of the family the SDP's recipient needs (address-family) when the side can receive it.</summary>
    private IPAddress Advertised(IPAddress address, NgAddressFamily? family)
    {
        if (family is null) return address;
        var wantV6 = family == NgAddressFamily.IP6;
        var isV6 = address.AddressFamily == AddressFamily.InterNetworkV6 && !address.IsIPv4MappedToIPv6;
        if (isV6 == wantV6) return address;
        if (_ctx.DualStack && (wantV6 ? _ctx.HostIPv6 : _ctx.HostIPv4) is { } other) return other;
        var warning = $"address-family={family} (no {(wantV6 ? "IPv6" : "IPv4")} address to advertise: the node's sides do not bind one)";
        if (!_warnings.Contains(warning)) _warnings.Add(warning);
        return address;
    }

    /// <summary>Bind addresses of the left and right sides from the "direction" key (the sender's interface first).</summary>
    private (string? Left, string? Right) Binds(NgRequest r, Side senderSide)
    {
        if (r.Direction.Count == 0) return (null, null);
        if (_ctx.Settings.Interfaces.Count == 0)
        {
            const string warning = "direction (no relay.ng.interfaces configured: every side binds relay.bind-address)";
            if (!_warnings.Contains(warning)) _warnings.Add(warning);
            return (null, null);
        }
        string? Bind(int i)
        {
            if (i >= r.Direction.Count) return null;
            return _ctx.Settings.Interfaces.TryGetValue(r.Direction[i], out var a)
                ? a.ToString()
                : throw NgFailure.Error($"Unknown interface '{r.Direction[i]}' (relay.ng.interfaces has {string.Join(", ", _ctx.Settings.Interfaces.Keys)})");
        }
        var (sender, recipient) = (Bind(0), Bind(1));
        return senderSide == Side.Left ? (sender, recipient) : (recipient, sender);
    }

    /// <summary>The reply's warning: keys and flags not understood, latching flags not implemented, and what this command noted.</summary>
    private string? Warning(NgRequest r)
    {
        var parts = new List<string>();
        if (NgReplies.NotUnderstoodWarning(r.NotUnderstood) is { } ignored) parts.Add(ignored);
        parts.AddRange(NgLatching.Unsupported(r).Select(u => "Ignored " + u));
        parts.AddRange(_warnings.Distinct());
        if (parts.Count == 0) return null;
        var text = string.Join("; ", parts);
        _log.Warning("NG {Command} of call {Call}: {Warning}", r.CommandName, _callId, text);
        return text;
    }

    private static Side Opposite(Side side) => side == Side.Left ? Side.Right : Side.Left;
}
