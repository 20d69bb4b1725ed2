using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Protocol;
using ActorRelay.Settings;

namespace ActorRelay.Client;

/// <summary>
/// The supervisor-side actor behind <see cref="RelayClient"/>. It finds the node (Identify), watches it, runs each
/// request in a child that retries it after <see cref="RelayClientOptions.AttemptTimeout"/>, subscribes itself to every
/// channel it opens, fans the channels' events out to readers of <see cref="IRelayClient.Events"/> and to actors that
/// asked for them, and when the node comes back after it was gone, subscribes again to its channels (a channel the node
/// no longer has becomes a <see cref="ChannelLost"/>).
/// States: Connecting (requests wait, up to their attempts' time) ⇄ Connected.
/// </summary>
public sealed class RelayClientActor : ReceiveActor, IWithTimers
{
    private readonly RelayClientOptions _options;
    private readonly ActorPath _nodePath;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<string> _channels = new(StringComparer.Ordinal);
    /// <summary>The channel actors of the channels this client opened, watched: in a relay cluster a channel lives on
    /// whichever node placed it, and that node's loss reaches the client as their termination.</summary>
    private readonly Dictionary<IActorRef, string> _channelActors = new();
    private readonly List<ChannelWriter<IChannelEvent>> _sinks = new();
    private readonly HashSet<IActorRef> _forwardTo = new();
    private readonly List<(Request Request, DateTime Since)> _waiting = new();
    private IActorRef? _node;
    private DateTime _unreachableSince = DateTime.UtcNow;
    private long _requests;

    public ITimerScheduler Timers { get; set; } = null!;

    public RelayClientActor(RelayClientOptions options)
    {
        _options = options;
        _nodePath = ActorPath.Parse($"{options.NodeAddress.TrimEnd('/')}/user/{options.NodeName ?? RelaySettings.Default.NodeName}");
        Connecting();
    }

    public static Props Props(RelayClientOptions options) => Akka.Actor.Props.Create(() => new RelayClientActor(options));

    protected override void PreStart()
    {
        if (Context.System.Serialization.FindSerializerForType(typeof(OpenChannel)) is not RelayProtocolSerializer)
            throw new Akka.Configuration.ConfigurationException(
                "the relay's protocol is not bound to RelayProtocolSerializer in this ActorSystem: add WithActorRelayProtocol() " +
                "(WithActorRelayClient does), or RelayProtocolSerializer.Config to the configuration");
        Identify();
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _options.ReconnectInterval);
    }

    // ---- messages -------------------------------------------------------------------------------

    /// <summary>A command from <see cref="RelayClient"/> and where its reply goes.</summary>
    internal sealed record Request(object Command, TaskCompletionSource<object> Reply) : ILiveHandoff;

    internal sealed record AddEventSink(ChannelWriter<IChannelEvent> Writer) : ILiveHandoff;

    internal sealed record RemoveEventSink(ChannelWriter<IChannelEvent> Writer) : ILiveHandoff;

    /// <summary>Has the client send every channel event it hears to <paramref name="To"/> as well (until it terminates).</summary>
    public sealed record ForwardEvents(IActorRef To);

    /// <summary>A request's child: the reply the node gave to its command.</summary>
    private sealed record Answered(object Command, object Reply);

    /// <summary>A watched channel actor stopped this long ago without its ChannelClosed: its node is lost.</summary>
    private sealed record CheckLost(string ChannelId);

    /// <summary>How long a terminated channel actor's ChannelClosed may take to arrive before the channel counts as lost
    /// (a closed channel's actor stops right after it; the event comes through the node).</summary>
    internal static readonly TimeSpan LostGrace = TimeSpan.FromSeconds(2);

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    // ---- states ---------------------------------------------------------------------------------

    private void Connecting()
    {
        Receive<ActorIdentity>(id => id.Subject is null, id => { }); // not there yet: the next tick asks again
        Receive<ActorIdentity>(id =>
        {
            _node = id.Subject;
            Context.Watch(_node);
            _log.Info("Relay node {Node} reached", _node.Path);
            foreach (var channel in _channels) _node.Tell(new Subscribe(channel, Self)); // pick up our channels again
            foreach (var (request, _) in _waiting) Run(request);
            _waiting.Clear();
            Become(Connected);
        });
        Receive<Request>(r => _waiting.Add((r, DateTime.UtcNow)));
        Receive<Tick>(_ =>
        {
            Identify();
            var patience = _options.AttemptTimeout * _options.Attempts;
            foreach (var (request, since) in _waiting.Where(w => DateTime.UtcNow - w.Since > patience).ToList())
            {
                request.Reply.TrySetException(new RelayUnavailableException(
                    $"the relay node {_nodePath} is unreachable (no answer since {_unreachableSince:O}); {request.Command} was not sent"));
                _waiting.Remove((request, since));
            }
        });
        Common();
    }

    private void Connected()
    {
        Receive<Request>(Run);
        Receive<Terminated>(t => t.ActorRef.Equals(_node), _ =>
        {
            _log.Warning("Relay node {Node} is gone; trying to reach it again every {Interval}", _nodePath, _options.ReconnectInterval);
            _node = null;
            _unreachableSince = DateTime.UtcNow;
            Identify();
            Become(Connecting);
        });
        Receive<Tick>(_ => { });
        Receive<ActorIdentity>(_ => { }); // a late answer to an earlier Identify
        Common();
    }

    private void Common()
    {
        Receive<Answered>(a =>
        {
            switch (a.Reply)
            {
                case ChannelOpened o:
                    _channels.Add(o.ChannelId);
                    if (!o.Channel.IsNobody() && _channelActors.TryAdd(o.Channel, o.ChannelId)) Context.Watch(o.Channel);
                    break;
                case Subscribed { ChannelId: { } id }: _channels.Add(id); break;
                case ChannelClosed c: _channels.Remove(c.ChannelId); break;
            }
        });
        // answers to the client's own re-subscriptions after a reconnect
        Receive<Subscribed>(_ => { });
        Receive<ChannelNotFound>(n =>
        {
            if (_channels.Remove(n.ChannelId)) Publish(new ChannelLost(n.ChannelId, "the relay node no longer has this channel (it restarted without it)"));
        });
        Receive<IChannelEvent>(Publish);
        Receive<AddEventSink>(s => _sinks.Add(s.Writer));
        Receive<RemoveEventSink>(s => { _sinks.Remove(s.Writer); s.Writer.TryComplete(); });
        Receive<ForwardEvents>(f => { if (_forwardTo.Add(f.To)) Context.Watch(f.To); });
        Receive<Terminated>(t => _channelActors.ContainsKey(t.ActorRef), t =>
        {
            _channelActors.Remove(t.ActorRef, out var id);
            // a channel of the node this client talks to: the node's own loss and return decide (it may bring the
            // channel back from its journal); a channel another cluster node placed is lost with that node
            if (t.ActorRef.Path.Address.Equals(_nodePath.Address)) return;
            // its node was downed (crashed, cut off): no ChannelClosed can come any more
            if (t.AddressTerminated) Lost(id!);
            // the actor stopped: its ChannelClosed may still be on its way through the node
            else Timers.StartSingleTimer($"lost-{id}", new CheckLost(id!), LostGrace);
        });
        Receive<CheckLost>(c => Lost(c.ChannelId));
        Receive<Terminated>(t => _forwardTo.Remove(t.ActorRef));
    }

    // ---- work -----------------------------------------------------------------------------------

    // the message id is a string: it crosses the wire with a primitive serializer
    private void Identify() => Context.ActorSelection(_nodePath).Tell(new Identify(_nodePath.ToString()), Self);

    /// <summary>Runs a request in a child of its own; an open subscribes this actor, so events never go to a temporary sender.</summary>
    private void Run(Request request)
    {
        var command = request.Command is OpenChannel { SubscribeOpener: true, Subscriber: null } open ? open with { Subscriber = Self } : request.Command;
        // the delegate runs when the child starts, on another thread: it captures values, never this actor's fields
        var (node, reply, options, self) = (_node!, request.Reply, _options, Self);
        Context.ActorOf(ActorProps.Of(() => new RequestRunner(node, command, reply, options, self)), $"request-{++_requests}");
    }

    private void Lost(string channelId)
    {
        if (_channels.Remove(channelId))
            Publish(new ChannelLost(channelId, "the channel's relay node is gone (it crashed or is cut off); its ports are lost with it"));
    }

    private void Publish(IChannelEvent e)
    {
        if (e is ChannelClosed c) _channels.Remove(c.ChannelId);
        foreach (var sink in _sinks) sink.TryWrite(e);
        foreach (var actor in _forwardTo) actor.Tell(e);
    }

    /// <summary>Sends one command, again after each attempt's timeout (commands are idempotent), and hands the reply over.</summary>
    private sealed class RequestRunner : ReceiveActor, IWithTimers
    {
        private readonly IActorRef _node;
        private readonly object _command;
        private readonly RelayClientOptions _options;
        private int _attempt;

        public ITimerScheduler Timers { get; set; } = null!;

        public RequestRunner(IActorRef node, object command, TaskCompletionSource<object> reply, RelayClientOptions options, IActorRef client)
        {
            _node = node;
            _command = command;
            _options = options;
            Receive<AttemptTimedOut>(_ =>
            {
                if (++_attempt < _options.Attempts) { Send(); return; }
                reply.TrySetException(new RelayUnavailableException(
                    $"the relay node {_node.Path} did not answer {_command.GetType().Name} in {_options.Attempts} attempts of {_options.AttemptTimeout}"));
                Context.Stop(Self);
            });
            ReceiveAny(answer =>
            {
                client.Tell(new Answered(_command, answer));
                reply.TrySetResult(answer);
                Context.Stop(Self);
            });
        }

        protected override void PreStart() => Send();

        private void Send()
        {
            _node.Tell(_command, Self);
            Timers.StartSingleTimer(AttemptTimedOut.Instance, AttemptTimedOut.Instance, _options.AttemptTimeout);
        }

        private sealed record AttemptTimedOut
        {
            public static readonly AttemptTimedOut Instance = new();
        }
    }
}
