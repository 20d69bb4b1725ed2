using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;

namespace ActorRelay.NodeProcess;

/// <summary>
/// The node process's control-plane endpoint (relay.remote), read strictly: a value that cannot be read is a
/// <see cref="ConfigurationException"/> naming its key. <see cref="CheckAvailable"/> then checks, before Akka starts,
/// what would otherwise fail inside Akka.Remote's start-up with a hundred lines of nested exceptions: a host name that
/// does not resolve, and a port another program listens on.
/// </summary>
internal sealed record NodeRemote(bool Enabled, string Hostname, int Port, string? PublicHostname, bool TlsEnabled)
{
    public static NodeRemote From(Config config)
    {
        var remote = config.GetConfig("relay.remote") ?? Config.Empty;
        string Text(string key)
        {
            var v = remote.GetValue(key);
            if (v is null || !v.IsString()) throw new ConfigurationException($"relay.remote.{key} must be a single value");
            return v.GetString().Trim();
        }
        var enabled = Boolean(Text("enabled"), "relay.remote.enabled");
        var tls = remote.GetValue("tls.enabled") is { } t && t.IsString() ? Boolean(t.GetString(), "relay.remote.tls.enabled") : false;
        var hostname = Text("hostname");
        if (hostname.Length == 0) throw new ConfigurationException("relay.remote.hostname must not be empty");
        var rawPort = Text("port");
        if (!int.TryParse(rawPort, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            throw new ConfigurationException($"relay.remote.port must be a TCP port in 0..65535 (0 = any free port), got \"{rawPort}\"");
        var publicHost = Text("public-hostname");
        return new NodeRemote(enabled, hostname, port, publicHost.Length == 0 ? null : publicHost, tls);
    }

    /// <summary>HOCON's booleans: on/off, true/false, yes/no.</summary>
    public static bool Boolean(string raw, string key) => raw.Trim().ToLowerInvariant() switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new ConfigurationException($"{key} must be on or off (true/false, yes/no), got \"{raw}\""),
    };

    /// <summary>
    /// The host name resolves and the port (when not 0) is free on it; otherwise a <see cref="UsageException"/> of one
    /// line naming the setting and the option. Akka.Remote binds the first address the name resolves to.
    /// </summary>
    public void CheckAvailable()
    {
        if (!Enabled) return;
        IPAddress address;
        if (IPAddress.TryParse(Hostname.Trim('[', ']'), out var literal)) address = literal;
        else
        {
            try
            {
                var addresses = Dns.GetHostAddresses(Hostname);
                if (addresses.Length == 0) throw new SocketException((int)SocketError.HostNotFound);
                address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
            }
            catch (Exception e) when (e is SocketException or ArgumentException)
            {
                throw new UsageException($"relay.remote.hostname \"{Hostname}\" does not resolve to an address: {e.Message}");
            }
        }
        if (Port == 0) return;
        try
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true); // as Akka.Remote binds
            probe.Bind(new IPEndPoint(address, Port));
            probe.Listen(1);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new UsageException($"relay.remote.port {Port} is in use on {address}: another program listens there " +
                                     "(choose another port, or 0 for any free one)");
        }
        catch (SocketException e)
        {
            throw new UsageException($"relay.remote.hostname {Hostname}: cannot listen on {address} port {Port}: {e.Message}");
        }
    }
}
