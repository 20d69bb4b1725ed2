using Akka.Actor;
using Akka.Event;
using ActorRelay.Protocol;

namespace ActorRelay.NodeProcess;

/// <summary>
/// How long the keeper waits before it tries again to open a declared channel that could not be opened: doubling from
/// <see cref="First"/> up to <see cref="Max"/>, so a port another program holds for a while is tried again within
/// <see cref="Max"/> of being free, without a busy loop meanwhile.
/// </summary>
internal sealed record ReopenBackoff(TimeSpan First, TimeSpan Max)
{
    public static readonly ReopenBackoff Default = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));

    /// <summary>The wait before retry number <paramref name="failures"/> (1 after the first failure).</summary>
    public TimeSpan Delay(int failures)
    {
        if (failures <= 0) return TimeSpan.Zero;
        var factor = Math.Pow(2, Math.Min(failures - 1, 30));
        var ticks = Math.Min(First.Ticks * factor, Max.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>Asks the keeper to open every declared channel; it answers <see cref="DeclaredChannelsOpened"/> or <see cref="DeclaredChannelFailed"/>.</summary>
internal sealed record OpenDeclaredChannels
{
    public static readonly OpenDeclaredChannels Instance = new();
}

internal sealed record DeclaredChannelsOpened(int Count);

/// <summary>A declared channel could not be opened at start: the node process stops, as the seed does, with this message.</summary>
internal sealed record DeclaredChannelFailed(string ChannelId, RejectReason Reason, string Message);

/// <summary>
/// Keeps the node process's declared channels (<see cref="DeclaredChannel"/>) open for as long as the process runs. It
/// opens them by message, subscribed to their events; when one closes for any reason but the node stopping (a timeout
/// its declaration set, a failed side, a supervisor's CloseChannel) it logs why and opens it again on the same ports,
/// retrying after <see cref="ReopenBackoff"/> while the open is rejected (a port held by another program, say).
/// </summary>
internal sealed class DeclaredChannelKeeper : ReceiveActor, IWithTimers
{
    private readonly IActorRef _node;
    private readonly ReopenBackoff _backoff;
    private readonly Dictionary<string, Kept> _channels = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _starter;
    private bool _stopping;

    private sealed class Kept(DeclaredChannel channel)
    {
        public DeclaredChannel Channel { get; } = channel;
        public bool Open { get; set; }
        public bool Started { get; set; }
        public int Failures { get; set; }
    }

    private sealed record Retry(string ChannelId);

    public ITimerScheduler Timers { get; set; } = null!;

    public DeclaredChannelKeeper(IActorRef node, IReadOnlyList<DeclaredChannel> channels, ReopenBackoff backoff)
    {
        _node = node;
        _backoff = backoff;
        foreach (var c in channels) _channels[c.Id] = new Kept(c);

        Receive<OpenDeclaredChannels>(_ =>
        {
            _starter = Sender;
            foreach (var k in _channels.Values) Open(k);
            ReportStartIfDone();
        });
        Receive<ChannelOpened>(OnOpened);
        Receive<OpenRejected>(OnRejected);
        Receive<ChannelClosed>(OnClosed);
        Receive<Retry>(r => { if (_channels.TryGetValue(r.ChannelId, out var k) && !k.Open && !_stopping) Open(k); });
        Receive<IChannelEvent>(_ => { }); // latches, drop summaries and timeouts are the channel's own business
    }

    public static Props Props(IActorRef node, IReadOnlyList<DeclaredChannel> channels, ReopenBackoff? backoff = null) =>
        Akka.Actor.Props.Create(() => new DeclaredChannelKeeper(node, channels, backoff ?? ReopenBackoff.Default));

    private void Open(Kept k)
    {
        _node.Tell(k.Channel.Request(Self));
    }

    private void OnOpened(ChannelOpened o)
    {
        if (!_channels.TryGetValue(o.ChannelId, out var k)) return;
        var again = k.Started;
        (k.Open, k.Started) = (true, true);
        if (again && k.Failures == 0) _log.Info("Declared channel {Channel} open again on ports {Ports}", k.Channel.Id, Ports(k));
        else if (again) _log.Info("Declared channel {Channel} open again on ports {Ports} after {Failures} failed attempts", k.Channel.Id, Ports(k), k.Failures);
        k.Failures = 0;
        ReportStartIfDone();
    }

    private void OnRejected(OpenRejected r)
    {
        if (!_channels.TryGetValue(r.ChannelId, out var k)) return;
        if (!k.Started)
        {
            // at start a declared channel that cannot open stops the process, as the seed's did
            _starter?.Tell(new DeclaredChannelFailed(r.ChannelId, r.Reason, r.Message));
            _starter = null;
            return;
        }
        if (r.Reason == RejectReason.ShuttingDown) { _stopping = true; return; }
        k.Failures++;
        var delay = _backoff.Delay(k.Failures);
        _log.Warning("Declared channel {Channel} could not open again on ports {Ports}: {Reason} {Why}; trying again in {Delay}",
            k.Channel.Id, Ports(k), r.Reason, r.Message, delay);
        Timers.StartSingleTimer(("retry", k.Channel.Id), new Retry(k.Channel.Id), delay);
    }

    private void OnClosed(ChannelClosed c)
    {
        if (!_channels.TryGetValue(c.ChannelId, out var k) || !k.Open) return;
        k.Open = false;
        if (c.Reason == CloseReason.NodeStopping) { _stopping = true; return; }
        if (_stopping) return;
        _log.Warning("Declared channel {Channel} closed ({Reason}: {Why}); opening it again on ports {Ports}",
            k.Channel.Id, c.Reason, c.Message, Ports(k));
        Open(k);
    }

    private static string Ports(Kept k) => $"{k.Channel.Left}:{k.Channel.Right}";

    private void ReportStartIfDone()
    {
        if (_starter is null || _channels.Values.Any(k => !k.Started)) return;
        _starter.Tell(new DeclaredChannelsOpened(_channels.Count));
        _starter = null;
    }
}
