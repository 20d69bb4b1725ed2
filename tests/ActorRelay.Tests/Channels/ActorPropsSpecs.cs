using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Channels;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Channels;

/// <summary>
/// <see cref="ActorProps"/>: the props the node makes per channel keep their shared deployment as given, and a child
/// started with <see cref="ActorProps.Spawn"/> under Akka.Remote's provider is an ordinary child of its parent: it
/// gets the deployment's mailbox, its failures go to the parent's strategy, and it stops with the parent.
/// </summary>
public sealed class ActorPropsSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        relay.channel-mailbox.mailbox-type = "ActorRelay.Channels.CompactMailbox, ActorRelay"
        """), output: output)
{
    private sealed class Echo : ReceiveActor
    {
        public Echo()
        {
            Receive<string>(s => s == "fail", _ => throw new InvalidOperationException("asked to fail"));
            ReceiveAny(m => Sender.Tell(m));
        }
    }

    /// <summary>Spawns one child with <see cref="ActorProps.Spawn"/>, tells its creator about it, stops it on failure.</summary>
    private sealed class Parent : UntypedActor
    {
        private readonly IActorRef _probe;

        public Parent(IActorRef probe) => _probe = probe;

        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ =>
        {
            _probe.Tell("child failed");
            return Directive.Stop;
        });

        protected override void PreStart() =>
            _probe.Tell(ActorProps.Spawn(Context, ActorProps.Of(() => new Echo(), CompactMailbox.Deployment), "child-1"));

        protected override void OnReceive(object message) => Unhandled(message);
    }

    [Fact]
    public void Props_keep_the_shared_deployment_and_their_producer_through_copies()
    {
        var props = ActorProps.Of(() => new Echo(), CompactMailbox.Deployment);
        Assert.Same(CompactMailbox.Deployment, props.Deploy);
        Assert.Equal(CompactMailbox.ConfigPath, props.Mailbox);
        var copy = props.WithDispatcher("akka.actor.default-dispatcher");
        Assert.Equal(CompactMailbox.ConfigPath, copy.Mailbox);
        Assert.IsType<Echo>(copy.NewActor());
    }

    [Fact]
    public void A_spawned_child_is_an_ordinary_child_with_the_deployments_mailbox()
    {
        var parent = Sys.ActorOf(Props.Create(() => new Parent(TestActor)), "parent");
        var child = ExpectMsg<IActorRef>();
        Assert.Equal(parent.Path / "child-1", child.Path);

        child.Tell("hello");
        ExpectMsg("hello");
        AwaitAssert(() => Assert.IsType<CompactMessageQueue>(((ActorRefWithCell)child).Underlying switch
        {
            ActorCell cell => cell.Mailbox?.MessageQueue,
            var other => throw new InvalidOperationException($"not started yet: {other?.GetType().Name}"),
        }), TimeSpan.FromSeconds(5));

        // found by path and by name, as any child
        Sys.ActorSelection("/user/parent/child-1").Tell(new Identify(1));
        Assert.Equal(child, ExpectMsg<ActorIdentity>().Subject);

        // a failure goes to the parent's strategy
        Watch(child);
        child.Tell("fail");
        ExpectMsg("child failed");
        ExpectTerminated(child);
    }

    [Fact]
    public void A_spawned_child_stops_with_its_parent()
    {
        var parent = Sys.ActorOf(Props.Create(() => new Parent(TestActor)), "parent-2");
        var child = ExpectMsg<IActorRef>();
        Watch(child);
        Sys.Stop(parent);
        ExpectTerminated(child);
    }
}
