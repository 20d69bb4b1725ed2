using Akka.Actor;
using Akka.Event;
using ActorRelay.Client;
using ActorRelay.Cluster;
using ActorRelay.Protocol;

namespace ActorRelay.Ng;

/// <summary>
/// The NG endpoint's call book (/user/ng): one child actor per call (<see cref="NgCallActor"/>), created by the call's
/// first offer and gone when the call is deleted or its media channels have closed. Routes offer, answer, delete and
/// query to the call by call-id (answering those of an unknown call itself), and answers list (the calls whose
/// channels the node lists, every page of its listing read) and statistics (the calls' totals and the node's status).
/// It is the subscriber of every channel its calls open, and passes a channel's ChannelClosed on to its call. Every
/// command it is given is answered exactly once with an <see cref="NgCommandReply"/> to its sender.
/// <para>In a relay cluster a call lives in the book of the node whose endpoint took its first offer, and the SIP proxy
/// may send its later commands to any node: a command for a call-id this book does not know is looked up on the other
/// relay nodes first (<see cref="NgCallLookupActor"/>) and, where one holds the call, acted on there. This book answers
/// the other nodes' <see cref="LocateNgCall"/> and acts on their <see cref="ForwardNgCommand"/> the same way.</para>
/// </summary>
internal sealed class NgCallBookActor : ReceiveActor
{
    private readonly NgCallContext _ctx;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, CallEntry> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IActorRef> _byChannel = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _started;
    private long _sequence;
    private long _lookups;
    private NgTotals _totals = new();

    private sealed class CallEntry(IActorRef actor, long order)
    {
        public IActorRef Actor { get; } = actor;
        public long Order { get; } = order;
        /// <summary>Every channel name the call asked the node for (open, closed or refused).</summary>
        public HashSet<string> Channels { get; } = new(StringComparer.Ordinal);
    }

    private sealed record NgTotals
    {
        public long Managed { get; init; }
        public long Rejected { get; init; }
        public long TimedOut { get; init; }
        public long Deleted { get; init; }
        public long Forced { get; init; }
        public long Packets { get; init; }
        public long Bytes { get; init; }
        public long Errors { get; init; }
        public long ZeroWay { get; init; }
        public long OneWay { get; init; }
        public TimeSpan Duration { get; init; }
        public long Ended { get; init; }
    }

    private sealed record NodeAnswer(NgCommandRequest Command, IActorRef ReplyTo, object Reply);

    public NgCallBookActor(NgCallContext context)
    {
        _ctx = context;
        _started = context.Clock.WallNow;
        Receive<NgCommandRequest>(c => Route(c, Sender));
        Receive<NgCallGone>(g => Route(g.Command, g.ReplyTo, here: true));
        Receive<NgNotElsewhere>(n => Route(n.Command, n.ReplyTo, here: true));
        Receive<NgActHere>(a => Route(a.Command, Sender, here: true));
        Receive<LocateNgCall>(l =>
        {
            if (FromRelayPeer(nameof(LocateNgCall))) Sender.Tell(new NgCallLocated(l.CallId, _calls.ContainsKey(l.CallId)));
        });
        Receive<ForwardNgCommand>(OnForwarded);
        Receive<NgCallEnded>(OnEnded);
        Receive<NgWatchChannel>(w =>
        {
            if (!_calls.TryGetValue(w.CallId, out var entry) || !entry.Actor.Equals(Sender)) return;
            entry.Channels.Add(w.ChannelId);
            _byChannel[w.ChannelId] = Sender;
        });
        // The book subscribes to every channel its calls open (one long-lived subscriber, not one per call: the node
        // watches each subscriber, and a call's actor stops when the call ends). A call hears its channels' closes.
        Receive<ChannelClosed>(c =>
        {
            if (_byChannel.Remove(c.ChannelId, out var call)) call.Tell(c);
        });
        Receive<IChannelEvent>(_ => { });
        Receive<ChannelNotFound>(_ => { }); // an orphan channel a delete closed had closed by itself meanwhile
        Receive<NodeAnswer>(OnNodeAnswer);
        Receive<Terminated>(t =>
        {
            var gone = _calls.FirstOrDefault(e => e.Value.Actor.Equals(t.ActorRef));
            if (gone.Value is null) return;
            Forget(gone.Key, gone.Value); // a call actor that failed (a bug): its channels time out on the node
            _log.Error("NG call {Call}: its actor stopped unexpectedly; the call is forgotten", gone.Key);
        });
    }

    public static Props Props(NgCallContext context) => Akka.Actor.Props.Create(() => new NgCallBookActor(context));

    // a call actor that throws is a bug: stop it (its channels close by their idle timeout) rather than lose its state silently
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        // the node's entry point passes the other relay nodes' LocateNgCall here
        if (_ctx.Clustered) _ctx.Node.Tell(PlacementEntryActor.NgCallBookStarted.Instance);
    }

    /// <param name="here">
    /// Act on the command in this book even when it does not know the call: the other relay nodes were asked already,
    /// or another node asked this one to act, or the call it was sent to has just ended.
    /// </param>
    private void Route(NgCommandRequest command, IActorRef replyTo, bool here = false)
    {
        var r = command.Request;
        switch (r.Command)
        {
            case NgCommand.Offer or NgCommand.Answer or NgCommand.Delete or NgCommand.Query:
                if (_calls.TryGetValue(r.CallId!, out var entry))
                {
                    entry.Actor.Tell(command, replyTo);
                    return;
                }
                if (!here && _ctx.Clustered)
                {
                    Context.ActorOf(NgCallLookupActor.Props(command, replyTo, _ctx), $"lookup-{++_lookups}");
                    return;
                }
                if (r.Command == NgCommand.Offer)
                {
                    var order = ++_sequence;
                    var actor = ActorProps.Spawn(Context, NgCallActor.Props(r.CallId!, _ctx), $"call-{order}");
                    Context.Watch(actor);
                    _calls[r.CallId!] = new CallEntry(actor, order);
                    _totals = _totals with { Managed = _totals.Managed + 1 };
                    actor.Tell(command, replyTo);
                    return;
                }
                if (r.Command == NgCommand.Delete)
                {
                    // a call this book does not know may still have channels on the node: ones the node brought back
                    // from its journal after a restart (the book itself starts empty). Their ids start with "{call-id}/":
                    // the node's pages from the call-id on, until the ids pass that prefix.
                    var prefix = r.CallId + "/";
                    ListChannelsAsync(_ctx.Node, _ctx.Settings.NodeTimeout, r.CallId, c =>
                            c.ChannelId.StartsWith(prefix, StringComparison.Ordinal) ? true : string.CompareOrdinal(c.ChannelId, prefix) < 0 ? false : null)
                        .PipeTo(Self, success: o => new NodeAnswer(command, replyTo, o), failure: e => new NodeAnswer(command, replyTo, e));
                    return;
                }
                replyTo.Tell(new NgCommandReply(command.Token, NgReplies.Error(NgErrors.UnknownCallId)));
                return;
            case NgCommand.List:
                ListChannelsAsync(_ctx.Node, _ctx.Settings.NodeTimeout, null, _ => true)
                    .PipeTo(Self, success: o => new NodeAnswer(command, replyTo, o), failure: e => new NodeAnswer(command, replyTo, e));
                return;
            case NgCommand.Statistics:
                _ctx.Node.Ask<object>(GetNodeStatus.Instance, _ctx.Settings.NodeTimeout)
                    .PipeTo(Self, success: o => new NodeAnswer(command, replyTo, o), failure: e => new NodeAnswer(command, replyTo, e));
                return;
            default:
                replyTo.Tell(new NgCommandReply(command.Token, NgReplies.Error(NgErrors.UnrecognizedCommand)));
                return;
        }
    }

    /// <summary>Another relay node's NG endpoint got a command of a call this book holds: acted on here, the reply goes back to it.</summary>
    private void OnForwarded(ForwardNgCommand f)
    {
        if (!FromRelayPeer(nameof(ForwardNgCommand))) return;
        var asker = Sender;
        NgRequest request;
        BDictionary body;
        try
        {
            body = Bencode.DecodeDictionary(f.Body);
            if (!NgRequest.TryParse(body, out request, out var error))
            {
                asker.Tell(new ForwardedNgReply(f.CallId, Bencode.Encode(NgReplies.Error(error!.Reason))));
                return;
            }
        }
        catch (BencodeException e)
        {
            _log.Warning("NG call {Call}: a forwarded request from {Node} cannot be read: {Error}", f.CallId, asker.Path.Address, e.Message);
            asker.Tell(new ForwardedNgReply(f.CallId, Bencode.Encode(NgReplies.Error(NgErrors.BadBencode))));
            return;
        }
        _log.Debug("NG {Command} of call {Call} forwarded by {Node}", request.CommandName, f.CallId, asker.Path.Address);
        var timeout = _ctx.Settings.NodeTimeout * 2;
        Self.Ask<NgCommandReply>(new NgActHere(new NgCommandRequest(request, 0, body)), timeout)
            .PipeTo(asker,
                success: r => new ForwardedNgReply(f.CallId, Bencode.Encode(r.Reply)),
                failure: _ => new ForwardedNgReply(f.CallId, Bencode.Encode(NgReplies.Error($"Internal error: no answer within {timeout.TotalSeconds:0.#} s"))));
    }

    /// <summary>A relay cluster's own messages come from its relay members only; anyone else's are refused.</summary>
    private bool FromRelayPeer(string command)
    {
        if (_ctx.Clustered && RelayMembership.IsRelayPeer(Context.System, Sender.Path.Address, _ctx.ClusterRole)) return true;
        var why = _ctx.Clustered ? $"{Sender.Path.Address} is not a relay member of this cluster" : "this node is not in a relay cluster";
        _log.Warning("NG call book refused {Command} from {Sender}: {Why}", command, Sender.Path, why);
        Sender.Tell(new CommandRejected(command, RejectReason.NotAuthorized, why));
        return false;
    }

    /// <summary>
    /// The node's channels (every page of its listing, or those from the page after <paramref name="after"/> on) that
    /// <paramref name="take"/> keeps (true), skips (false), or stops the walk at (null); all of it within the node
    /// timeout. Static: it runs outside the actor and reads nothing of the book's state.
    /// </summary>
    private static async Task<ChannelList> ListChannelsAsync(IActorRef node, TimeSpan timeout, string? after, Func<ChannelSummary, bool?> take)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var kept = new List<ChannelSummary>();
        await foreach (var c in node.ListAllAsync(timeout, after, cancellationToken: deadline.Token).ConfigureAwait(false))
        {
            var keep = take(c);
            if (keep is null) break;
            if (keep.Value) kept.Add(c);
        }
        return new ChannelList(kept);
    }

    private void OnNodeAnswer(NodeAnswer a)
    {
        var r = a.Command.Request;
        BDictionary reply;
        switch (a.Reply)
        {
            case ChannelList list when r.Command == NgCommand.List:
                var open = list.Channels.Select(c => c.ChannelId).ToHashSet(StringComparer.Ordinal);
                reply = NgReplies.List(_calls
                    .Where(c => c.Value.Channels.Any(open.Contains))
                    .OrderBy(c => c.Value.Order)
                    .Take(r.Limit ?? NgRequest.DefaultListLimit)
                    .Select(c => c.Key));
                break;
            case ChannelList list when r.Command == NgCommand.Delete:
                var prefix = r.CallId + "/";
                var orphans = list.Channels.Where(c => c.ChannelId.StartsWith(prefix, StringComparison.Ordinal)).ToList();
                foreach (var c in orphans) _ctx.Node.Tell(new CloseChannel(c.ChannelId), Self); // its ChannelClosed comes back here
                if (orphans.Count > 0)
                    _log.Info("NG delete of call {Call}, unknown to this node's calls: closed its {Count} channel(s) the node held (restored after a restart)",
                        r.CallId, orphans.Count);
                reply = orphans.Count > 0 ? NgReplies.Ok()
                    : r.Has(NgFlags.Fatal) ? NgReplies.Error(NgErrors.CallNotFound) : NgReplies.Ok(warning: NgErrors.CallNotFound);
                break;
            case Exception when r.Command == NgCommand.Delete:
                reply = r.Has(NgFlags.Fatal) ? NgReplies.Error(NgErrors.CallNotFound) : NgReplies.Ok(warning: NgErrors.CallNotFound);
                break;
            case NodeStatus status when r.Command == NgCommand.Statistics:
                reply = Statistics(status);
                break;
            case RelayRejectedException e:
                _log.Warning("NG {Command}: the relay node refused to list its channels: {Error}", r.CommandName, e.Message);
                reply = NgReplies.Error($"The relay node refused: {e.Message}");
                break;
            case Exception e:
                _log.Warning("NG {Command}: the relay node did not answer: {Error}", r.CommandName, e.Message);
                reply = NgReplies.Error($"The relay node did not answer within {_ctx.Settings.NodeTimeout.TotalSeconds:0.#} s");
                break;
            default:
                reply = NgReplies.Error($"Unexpected reply from the relay node: {a.Reply}");
                break;
        }
        a.ReplyTo.Tell(new NgCommandReply(a.Command.Token, reply));
    }

    private BDictionary Statistics(NodeStatus status)
    {
        var t = _totals;
        var report = new NgStatisticsReport(
            new NgCurrentStatistics(_calls.Count, _calls.Count, PacketRate: 0, ByteRate: 0, ErrorRate: 0),
            new NgTotalStatistics(_ctx.Clock.WallNow - _started, t.Managed, t.Rejected, t.TimedOut, t.Deleted, t.Forced,
                t.Packets, t.Errors, t.Bytes, t.ZeroWay, t.OneWay,
                t.Ended == 0 ? TimeSpan.Zero : t.Duration / t.Ended));
        var reply = NgReplies.Statistics(report);
        // the node's own figures, under a key of their own (rtpengine has no equivalent)
        var node = BDictionary.Of(
            ("channels open", status.ChannelsOpen),
            ("channels opened", status.ChannelsOpened),
            ("capacity", status.Capacity),
            ("ports free", status.PortsFree),
            ("ports total", status.PortsTotal),
            ("transport", status.Transport));
        return new BDictionary(reply.Entries.Append(KeyValuePair.Create("actorrelay", (BValue)node)));
    }

    private void Forget(string callId, CallEntry entry)
    {
        _calls.Remove(callId);
        foreach (var channel in entry.Channels)
            if (_byChannel.TryGetValue(channel, out var owner) && owner.Equals(entry.Actor)) _byChannel.Remove(channel);
    }

    private void OnEnded(NgCallEnded ended)
    {
        if (_calls.TryGetValue(ended.CallId, out var entry) && entry.Actor.Equals(Sender))
        {
            Forget(ended.CallId, entry);
            Context.Unwatch(Sender);
        }
        Sender.Tell(NgRetire.Instance);
        var s = ended.Summary;
        if (s.End == NgCallEnd.Rejected)
        {
            _totals = _totals with { Managed = _totals.Managed - 1, Rejected = _totals.Rejected + 1 };
            return;
        }
        _totals = _totals with
        {
            TimedOut = _totals.TimedOut + (s.End == NgCallEnd.TimedOut ? 1 : 0),
            Deleted = _totals.Deleted + (s.End == NgCallEnd.Deleted ? 1 : 0),
            Forced = _totals.Forced + (s.End == NgCallEnd.Forced ? 1 : 0),
            Packets = _totals.Packets + s.Packets,
            Bytes = _totals.Bytes + s.Bytes,
            Errors = _totals.Errors + s.Errors,
            ZeroWay = _totals.ZeroWay + s.ZeroWayStreams,
            OneWay = _totals.OneWay + s.OneWayStreams,
            Duration = _totals.Duration + s.Duration,
            Ended = _totals.Ended + 1,
        };
    }
}
