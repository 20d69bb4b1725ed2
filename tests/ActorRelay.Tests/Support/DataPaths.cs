using Akka.Configuration;
using ActorRelay.Settings;

namespace ActorRelay.Tests.Support;

/// <summary>
/// The relay's data paths, as the shared suites name them: <c>socket</c> (the default: relay loops on epoll),
/// <c>socket-dotnet</c> (the socket transport on the runtime's socket engine, as on other operating systems)
/// and <c>akka-io</c>.
/// </summary>
public static class DataPaths
{
    public static Config Config(string dataPath, string extra = "") =>
        ConfigurationFactory.ParseString(Hocon(dataPath) + "\n" + extra)
            .WithFallback(RelaySettings.From(RelaySettings.DefaultConfig()).AkkaIoConfig())
            .WithFallback(RelaySettings.DefaultConfig());

    private static string Hocon(string dataPath) => dataPath switch
    {
        "socket" => "relay { transport = socket, socket-engine = epoll }",
        "socket-dotnet" => "relay { transport = socket, socket-engine = dotnet }",
        "akka-io" => "relay.transport = akka-io",
        _ => throw new ArgumentOutOfRangeException(nameof(dataPath), dataPath, "socket, socket-dotnet or akka-io"),
    };
}
