using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;
using Akka.Remote.Transport.DotNetty;
using ActorRelay.Protocol;

namespace ActorRelay.Client;

/// <summary>What a supervisor's client needs to know about the node it drives.</summary>
public sealed class RelayClientOptions
{
    /// <summary>The node's Akka.Remote address, e.g. "akka.tcp://actor-relay@10.0.0.2:4053" (the node process logs it at start).</summary>
    public required string NodeAddress { get; set; }

    /// <summary>The node actor's name (relay.node-name on the node). Null: the shipped default.</summary>
    public string? NodeName { get; set; }

    /// <summary>How long one attempt of a request waits for its reply before it is sent again (every command is idempotent).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Attempts of a request before it fails with <see cref="RelayUnavailableException"/>.</summary>
    public int Attempts { get; set; } = 3;

    /// <summary>How often an unreachable node is tried again.</summary>
    public TimeSpan ReconnectInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Mutual TLS towards the node (see <see cref="Control.RelayTls"/>), or null for plain TCP.</summary>
    public DotNettySslSetup? Tls { get; set; }
}

/// <summary>
/// The supervisor's side of the relay's protocol, made so the right thing is the easy thing: every channel it opens
/// subscribes the client's own long-lived actor (so no event goes to a temporary Ask actor), requests are retried
/// after a timeout (each is idempotent), the client resubscribes to its channels after the node comes back, and an
/// unreachable node is a <see cref="RelayUnavailableException"/> rather than a timeout. The raw message protocol stays
/// available to whoever prefers it.
/// </summary>
public interface IRelayClient
{
    /// <summary>Opens a channel (its events reach <see cref="Events"/>); throws <see cref="RelayRejectedException"/> with the node's reason.</summary>
    Task<ChannelOpened> OpenAsync(OpenChannel request, CancellationToken cancellationToken = default);

    /// <summary>Closes a channel; its final counters come back.</summary>
    Task<ChannelClosed> CloseAsync(string channelId, CancellationToken cancellationToken = default);

    Task<ChannelSnapshot> GetAsync(string channelId, CancellationToken cancellationToken = default);

    /// <summary>A re-INVITE: the side may learn a new source (optionally only a matching one).</summary>
    Task ResignalAsync(string channelId, Side side, string? expectedSource = null, CancellationToken cancellationToken = default);

    /// <summary>Picks up a channel this supervisor opened before it restarted: its events reach <see cref="Events"/> again.</summary>
    Task SubscribeAsync(string channelId, CancellationToken cancellationToken = default);

    /// <summary>The first page of this supervisor's channels (<see cref="ListChannels.Instance"/>); <see cref="ListAllAsync"/> walks them all.</summary>
    Task<ChannelList> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>One page of this supervisor's channels: <c>new ListChannels(After: previous.NextAfter, Limit: n)</c>.</summary>
    Task<ChannelList> ListAsync(ListChannels page, CancellationToken cancellationToken = default);

    /// <summary>Every channel of this supervisor, in ordinal order of id, page by page (<see cref="ChannelPages"/>) as the caller reads.</summary>
    IAsyncEnumerable<ChannelSummary> ListAllAsync(CancellationToken cancellationToken = default);

    Task<NodeStatus> StatusAsync(CancellationToken cancellationToken = default);

    /// <summary>The events of every channel this client opened or subscribed to, from now on, for as long as the caller reads.</summary>
    IAsyncEnumerable<IChannelEvent> Events(CancellationToken cancellationToken = default);

    /// <summary>The client's actor: tell it <see cref="RelayClientActor.ForwardEvents"/> to have events sent to an actor too.</summary>
    IActorRef Actor { get; }
}

/// <summary>The node answered with a rejection (<see cref="Rejection"/> is its <see cref="OpenRejected"/> or <see cref="CommandRejected"/>).</summary>
public sealed class RelayRejectedException(object rejection, RejectReason reason, string message) : Exception(message)
{
    public object Rejection { get; } = rejection;
    public RejectReason Reason { get; } = reason;
}

/// <summary>The node has no channel by that id (closed, never opened, or lost in a restart).</summary>
public sealed class RelayChannelNotFoundException(string channelId) : Exception($"the relay node has no channel {channelId}")
{
    public string ChannelId { get; } = channelId;
}

/// <summary>The node could not be reached, or did not answer any attempt of a request.</summary>
public sealed class RelayUnavailableException(string message) : Exception(message);

/// <summary>The <see cref="IRelayClient"/> over a <see cref="RelayClientActor"/>.</summary>
public sealed class RelayClient(IActorRef actor) : IRelayClient
{
    public IActorRef Actor { get; } = actor;

    /// <summary>The client started by <c>WithActorRelayClient()</c> in this system.</summary>
    public static IRelayClient For(ActorSystem system) => new RelayClient(ActorRegistry.For(system).Get<RelayClientActor>());

    public Task<ChannelOpened> OpenAsync(OpenChannel request, CancellationToken cancellationToken = default) =>
        Ask<ChannelOpened>(request, cancellationToken);

    public Task<ChannelClosed> CloseAsync(string channelId, CancellationToken cancellationToken = default) =>
        Ask<ChannelClosed>(new CloseChannel(channelId), cancellationToken);

    public Task<ChannelSnapshot> GetAsync(string channelId, CancellationToken cancellationToken = default) =>
        Ask<ChannelSnapshot>(new GetChannel(channelId), cancellationToken);

    public Task ResignalAsync(string channelId, Side side, string? expectedSource = null, CancellationToken cancellationToken = default) =>
        Ask<SideResignalled>(new ResignalSide(channelId, side, expectedSource), cancellationToken);

    public Task SubscribeAsync(string channelId, CancellationToken cancellationToken = default) =>
        Ask<Subscribed>(new Subscribe(channelId, Actor), cancellationToken);

    public Task<ChannelList> ListAsync(CancellationToken cancellationToken = default) => Ask<ChannelList>(ListChannels.Instance, cancellationToken);

    public Task<ChannelList> ListAsync(ListChannels page, CancellationToken cancellationToken = default) => Ask<ChannelList>(page, cancellationToken);

    public IAsyncEnumerable<ChannelSummary> ListAllAsync(CancellationToken cancellationToken = default) =>
        ChannelPages.WalkAsync(ListAsync, cancellationToken: cancellationToken);

    public Task<NodeStatus> StatusAsync(CancellationToken cancellationToken = default) => Ask<NodeStatus>(GetNodeStatus.Instance, cancellationToken);

    public async IAsyncEnumerable<IChannelEvent> Events([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var sink = Channel.CreateUnbounded<IChannelEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        Actor.Tell(new RelayClientActor.AddEventSink(sink.Writer));
        try
        {
            await foreach (var e in sink.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return e;
        }
        finally
        {
            Actor.Tell(new RelayClientActor.RemoveEventSink(sink.Writer));
        }
    }

    private async Task<T> Ask<T>(object command, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var _ = cancellationToken.Register(() => reply.TrySetCanceled(cancellationToken));
        Actor.Tell(new RelayClientActor.Request(command, reply));
        var answer = await reply.Task.ConfigureAwait(false);
        return answer switch
        {
            T ok => ok,
            OpenRejected r => throw new RelayRejectedException(r, r.Reason, $"{r.ChannelId}: {r.Reason}: {r.Message}"),
            CommandRejected r => throw new RelayRejectedException(r, r.Reason, $"{r.Command}: {r.Reason}: {r.Message}"),
            ChannelNotFound n => throw new RelayChannelNotFoundException(n.ChannelId),
            _ => throw new InvalidOperationException($"unexpected reply {answer} to {command}"),
        };
    }
}
