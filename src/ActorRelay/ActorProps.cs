using Akka.Actor;

namespace ActorRelay;

/// <summary>
/// Props for the actors a node makes by the thousand (per channel, per side, per NG call, per request), and the way
/// they are started. <c>Props.Create(() =&gt; new T(..))</c> builds an expression tree at the call site, reads the
/// arguments back out of it and picks a constructor by reflection when the actor starts; <c>WithMailbox</c> and
/// <c>WithDeploy</c> build a new deployment, which parses an empty configuration, every time. Here a delegate makes
/// the actor and a deployment built once is set as it is (<see cref="DeployedProps"/>).
/// <para>
/// <see cref="Spawn"/> starts such a child as a local system service: with Akka.Remote the provider otherwise looks
/// for a remote deployment of every new child and merges its deployments twice (two more empty configurations
/// parsed); channels, sides and the actors of a call are always local, so that lookup can only cost. Measured
/// together with the above: docs/benchmarks.md, "Where an open's CPU goes" and "The open rate at steady state".
/// </para>
/// </summary>
public static class ActorProps
{
    /// <summary>Props whose actor is made by <paramref name="create"/>, on the default deployment.</summary>
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase => Props.CreateBy(new Producer<TActor>(create));

    /// <summary>Props whose actor is made by <paramref name="create"/>, deployed as <paramref name="deploy"/> (build it once).</summary>
    public static Props Of<TActor>(Func<TActor> create, Deploy deploy) where TActor : ActorBase =>
        new DeployedProps(Props.CreateBy(new Producer<TActor>(create)), deploy);

    /// <summary>A deployment with the given mailbox, to be built once and shared by every Props that uses it.</summary>
    public static Deploy WithMailbox(string mailbox) => Deploy.Local.WithMailbox(mailbox);

    /// <summary>
    /// Starts a local child of the actor whose context this is, without the remote provider's deployment lookup
    /// (the child is never deployed elsewhere). Otherwise the same as <c>Context.ActorOf(props, name)</c>.
    /// </summary>
    public static IActorRef Spawn(IActorContext context, Props props, string name) =>
        context is ActorCell cell ? cell.AttachChild(props, isSystemService: true, name) : context.ActorOf(props, name);

    /// <summary>The deployment set as given: <c>WithDeploy</c> would merge it with the default one into a new one.</summary>
    private sealed class DeployedProps : Props
    {
        public DeployedProps(Props props, Deploy deploy) : base(props) => Deploy = deploy;
    }

    private sealed class Producer<TActor>(Func<TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create();

        public void Release(ActorBase actor) { }
    }
}
