using System.Net;
using System.Net.Sockets;
using ActorRelay.Protocol;

namespace ActorRelay.Tests.Support;

/// <summary>A client as NAT latching expects it: one UDP socket that sends and receives on the same port.</summary>
public sealed class UdpPeer : IDisposable
{
    private readonly Socket _socket;

    public UdpPeer(IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(address, 0));
    }

    public IPEndPoint Local => (IPEndPoint)_socket.LocalEndPoint!;

    public void SendTo(RelayEndpoint relay, byte[] payload, IPAddress? relayAddress = null) =>
        _socket.SendTo(payload, new IPEndPoint(relayAddress ?? (Local.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback), relay.Port));

    public void SendTo(IPEndPoint to, byte[] payload) => _socket.SendTo(payload, to);

    /// <summary>Receives one datagram or returns null when none arrives within the timeout.</summary>
    public async Task<(byte[] Data, IPEndPoint From)?> ReceiveAsync(TimeSpan timeout)
    {
        var buffer = new byte[70000];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(
                Local.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), cts.Token);
            return (buffer[..r.ReceivedBytes], (IPEndPoint)r.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Sends until the relay answers with something (used to latch a side when the peer is not yet latched).</summary>
    public async Task<byte[]> ExpectAsync(TimeSpan timeout)
    {
        var r = await ReceiveAsync(timeout) ?? throw new Xunit.Sdk.XunitException($"no datagram within {timeout} at {Local}");
        return r.Data;
    }

    /// <summary>
    /// Asserts that nothing has arrived for this peer. Meaningful after a barrier: on loopback a datagram is queued at
    /// its receiver during the sender's send call, so once a later packet through the same relay socket has reached
    /// its genuine peer, anything the relay sent this peer before is already queued here.
    /// </summary>
    public void AssertNothingQueued() =>
        Xunit.Assert.True(_socket.Available == 0, $"{_socket.Available} bytes queued at {Local}: the relay sent this peer something");

    public void Dispose() => _socket.Dispose();
}
