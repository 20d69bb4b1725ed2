using Akka.Actor;
using Akka.Event;
using ActorRelay.Cluster;
using ActorRelay.Protocol;

namespace ActorRelay.Ng;

/// <summary>
/// One NG command, in a relay cluster, for a call-id the node's own call book does not know: the call may live in
/// another node's book (its offer came through that node's NG endpoint). A child of the book. States:
/// <list type="bullet">
/// <item>Locating: asks every other relay node's entry point (<see cref="LocateNgCall"/>, passed on to its book) at
/// once; the first positive answer wins. When every node says no, or relay.cluster.node-timeout passes first, the
/// command is the book's own (<see cref="NgNotElsewhere"/>: an unknown call's error, a delete's orphan channels, a
/// first offer's new call).</item>
/// <item>Forwarding: the request (its dictionary as received) goes to the book that holds the call
/// (<see cref="ForwardNgCommand"/>), and its reply to the NG endpoint that received it; a book that does not answer
/// within twice relay.ng.node-timeout gets the command an error reply naming the node.</item>
/// </list>
/// One lookup per command of an unknown call: nothing of it is on the media path.
/// </summary>
internal sealed class NgCallLookupActor : ReceiveActor, IWithTimers
{
    /// <summary>A reply dictionary carries an SDP: larger than a request may be.</summary>
    private static readonly BencodeLimits ReplyLimits = new(MaxInputLength: 1 << 20);

    private readonly NgCommandRequest _command;
    private readonly IActorRef _replyTo;
    private readonly NgCallContext _ctx;
    private readonly string _callId;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<Address> _answered = new();
    private IReadOnlyList<Address> _nodes = [];

    public ITimerScheduler Timers { get; set; } = null!;

    public NgCallLookupActor(NgCommandRequest command, IActorRef replyTo, NgCallContext context)
    {
        _command = command;
        _replyTo = replyTo;
        _ctx = context;
        _callId = command.Request.CallId!;
        Locating();
    }

    public static Props Props(NgCommandRequest command, IActorRef replyTo, NgCallContext context) =>
        ActorProps.Of(() => new NgCallLookupActor(command, replyTo, context));

    private TimeSpan ForwardTimeout => _ctx.Settings.NodeTimeout * 2;

    protected override void PreStart()
    {
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        _nodes = RelayMembership.RelayNodesHoldingChannels(Context.System, _ctx.ClusterRole).Where(a => !a.Equals(self)).ToList();
        if (_nodes.Count == 0 || _command.Body is null)
        {
            NotElsewhere();
            return;
        }
        foreach (var node in _nodes)
            Context.ActorSelection(new RootActorPath(node) / "user" / _ctx.ClusterEntryName).Tell(new LocateNgCall(_callId));
        Timers.StartSingleTimer("timeout", Timeout.Instance, _ctx.ClusterNodeTimeout);
    }

    private void Locating()
    {
        Receive<NgCallLocated>(l =>
        {
            if (l.Found)
            {
                Forward(Sender);
                return;
            }
            Answered(Sender);
        });
        Receive<CommandRejected>(r =>
        {
            _log.Warning("NG call {Call}: {Node} refused to say whether it holds the call: {Message}", _callId, Sender.Path.Address, r.Message);
            Answered(Sender);
        });
        Receive<Timeout>(_ =>
        {
            var silent = _nodes.Where(n => !_answered.Contains(n)).ToList();
            _log.Warning("NG {Command} of call {Call}: relay nodes {Nodes} did not say within {Timeout} whether they hold the call; going on without them",
                _command.Request.CommandName, _callId, string.Join(", ", silent), _ctx.ClusterNodeTimeout);
            NotElsewhere();
        });
        ReceiveAny(Unhandled);
    }

    private void Answered(IActorRef sender)
    {
        _answered.Add(sender.Path.Address);
        if (_answered.Count >= _nodes.Count) NotElsewhere();
    }

    private void NotElsewhere()
    {
        Timers.CancelAll();
        Context.Parent.Tell(new NgNotElsewhere(_command, _replyTo));
        Context.Stop(Self);
    }

    private void Forward(IActorRef book)
    {
        var node = book.Path.Address;
        _log.Debug("NG {Command} of call {Call}: the call lives on {Node}; forwarded", _command.Request.CommandName, _callId, node);
        book.Tell(new ForwardNgCommand(_callId, Bencode.Encode(_command.Body!, canonical: false)));
        Timers.StartSingleTimer("timeout", Timeout.Instance, ForwardTimeout);
        Become(() => Forwarding(node));
    }

    private void Forwarding(Address node)
    {
        Receive<ForwardedNgReply>(r =>
        {
            BDictionary reply;
            try
            {
                reply = Bencode.DecodeDictionary(r.Reply, ReplyLimits);
            }
            catch (BencodeException e)
            {
                _log.Error("NG {Command} of call {Call}: the reply from {Node} cannot be read: {Error}", _command.Request.CommandName, _callId, node, e.Message);
                reply = NgReplies.Error($"The relay node holding the call sent an unreadable reply: {e.Reason}");
            }
            Reply(reply);
        });
        Receive<Timeout>(_ =>
        {
            _log.Warning("NG {Command} of call {Call}: {Node}, which holds the call, did not answer within {Timeout}",
                _command.Request.CommandName, _callId, node, ForwardTimeout);
            Reply(NgReplies.Error($"The relay node holding the call ({node}) did not answer within {ForwardTimeout.TotalSeconds:0.#} s"));
        });
        // the other nodes' answers to the locate, after the first positive one
        Receive<NgCallLocated>(l =>
        {
            if (l.Found)
                _log.Warning("NG call {Call} is held by {Node} as well as by {Owner}; the command went to {Owner}", _callId, Sender.Path.Address, node, node);
        });
        Receive<CommandRejected>(_ => { });
        ReceiveAny(Unhandled);
    }

    private void Reply(BDictionary reply)
    {
        Timers.CancelAll();
        _replyTo.Tell(new NgCommandReply(_command.Token, reply));
        Context.Stop(Self);
    }

    private sealed record Timeout
    {
        public static readonly Timeout Instance = new();
    }
}
