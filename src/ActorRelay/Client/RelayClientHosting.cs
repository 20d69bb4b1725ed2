using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using ActorRelay.Control;
using ActorRelay.Hosting;

namespace ActorRelay.Client;

public static class RelayClientHostingExtensions
{
    /// <summary>
    /// Makes this ActorSystem a supervisor of the relay node at <paramref name="nodeAddress"/> (e.g.
    /// "akka.tcp://actor-relay@10.0.0.2:4053"): registers the relay's protocol serializer, mutual TLS when
    /// <see cref="RelayClientOptions.Tls"/> is set, and starts the client actor; reach it with
    /// <see cref="RelayClient.For"/> (or <c>IRequiredActor&lt;RelayClientActor&gt;</c>). The application configures
    /// Akka.Remote itself (<c>WithRemoting</c>), with an address the node can reach back.
    /// </summary>
    public static AkkaConfigurationBuilder WithActorRelayClient(this AkkaConfigurationBuilder builder, string nodeAddress,
        Action<RelayClientOptions>? configure = null)
    {
        var options = new RelayClientOptions { NodeAddress = nodeAddress };
        configure?.Invoke(options);
        if (!Address.TryParse(options.NodeAddress, out _))
            throw new ConfigurationException($"not an Akka.Remote address: \"{options.NodeAddress}\" (e.g. akka.tcp://actor-relay@10.0.0.2:4053)");
        builder.WithActorRelayProtocol();
        if (options.Tls is { } tls) builder.AddHocon(RelayTls.Hocon, HoconAddMode.Prepend).AddSetup(tls);
        return builder.WithActors((system, registry) =>
        {
            if (((ExtendedActorSystem)system).Provider is not Akka.Remote.RemoteActorRefProvider)
                throw new ConfigurationException("WithActorRelayClient needs Akka.Remote in this ActorSystem: add WithRemoting(...)");
            registry.Register<RelayClientActor>(system.ActorOf(RelayClientActor.Props(options), "relay-client"));
        });
    }
}
