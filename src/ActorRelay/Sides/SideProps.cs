using Akka.Actor;
using ActorRelay.Settings;

namespace ActorRelay.Sides;

/// <summary>The seam between the two transports: both speak the same side protocol to their channel.</summary>
internal static class SideProps
{
    public static Props For(SideTransport transport, SideSpec spec, IActorRef channel) => transport switch
    {
        SideTransport.Socket => SocketSideActor.Props(spec, channel),
        SideTransport.AkkaIo => AkkaIoSideActor.Props(spec, channel),
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, null),
    };
}
