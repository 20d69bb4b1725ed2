using Akka.Actor;
using ActorRelay.Settings;
using ActorRelay.Sides.AkkaIo;

namespace ActorRelay.Sides;

/// <summary>The seam between the transports: the side actor for a channel's transport; all speak the side protocol.</summary>
internal static class SideProps
{
    public static Props For(SideSpec spec, IActorRef channel) => spec.Settings.Transport switch
    {
        SideTransport.Socket => SocketSideActor.Props(spec, channel),   // epoll or dotnet engine: spec.Loop says which
        SideTransport.AkkaIo => AkkaIoSideActor.Props(spec, channel),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Settings.Transport, null),
    };
}
