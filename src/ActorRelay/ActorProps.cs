using Akka.Actor;

namespace ActorRelay;

/// <summary>
/// Props for the actors a node makes by the thousand (per channel, per side, per NG call, per request): a delegate
/// makes the actor. <c>Props.Create(() =&gt; new T(..))</c> builds an expression tree at the call site, reads the
/// arguments back out of it and picks a constructor by reflection when the actor starts; <c>WithMailbox</c> builds a
/// new deployment, which parses an empty configuration, every time. Together about 15–20 µs and 1.4 KB per Props on
/// this project's machine, three times per channel opened; a delegate and a shared deployment cost a fraction of
/// a microsecond (docs/benchmarks.md, "Setup rate").
/// </summary>
public static class ActorProps
{
    /// <summary>Props whose actor is made by <paramref name="create"/>, on the default deployment.</summary>
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase => Props.CreateBy(new Producer<TActor>(create));

    /// <summary>Props whose actor is made by <paramref name="create"/>, deployed as <paramref name="deploy"/> (build it once).</summary>
    public static Props Of<TActor>(Func<TActor> create, Deploy deploy) where TActor : ActorBase =>
        Props.CreateBy(new Producer<TActor>(create)).WithDeploy(deploy);

    /// <summary>A deployment with the given mailbox, to be built once and shared by every Props that uses it.</summary>
    public static Deploy WithMailbox(string mailbox) => Deploy.Local.WithMailbox(mailbox);

    private sealed class Producer<TActor>(Func<TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create();

        public void Release(ActorBase actor) { }
    }
}
