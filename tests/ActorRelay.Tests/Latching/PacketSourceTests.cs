using System.Net;
using System.Net.Sockets;
using ActorRelay.Latching;
using Xunit;

namespace ActorRelay.Tests.Latching;

public sealed class PacketSourceTests
{
    [Theory]
    [InlineData("198.51.100.7", 4000)]
    [InlineData("2001:db8::1", 4000)]
    public void Reads_the_same_value_from_a_socket_address_and_an_endpoint(string address, int port)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        Assert.True(ActorRelay.Sides.SocketAddressCodec.TryRead(ep.Serialize(), out var fromRaw));
        Assert.Equal(PacketSource.From(ep), fromRaw);
        Assert.Equal(ep, fromRaw.ToEndPoint());
    }

    [Fact]
    public void IPv4_and_IPv4_mapped_IPv6_are_the_same_source()
    {
        var v4 = PacketSource.From(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 9));
        var mapped = PacketSource.From(new IPEndPoint(IPAddress.Parse("::ffff:203.0.113.5"), 9));
        Assert.Equal(v4, mapped);
        Assert.True(v4.IsIPv4);
        Assert.Equal(IPAddress.Parse("203.0.113.5"), mapped.ToEndPoint().Address);
    }

    [Fact]
    public void Different_ports_or_addresses_are_different_sources()
    {
        var a = PacketSource.From(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 9));
        Assert.NotEqual(a, PacketSource.From(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 10)));
        Assert.NotEqual(a, PacketSource.From(new IPEndPoint(IPAddress.Parse("203.0.113.6"), 9)));
    }

    [Theory]
    [InlineData("0.0.0.0", 5000, false)]
    [InlineData("0.1.2.3", 5000, false)]
    [InlineData("224.0.0.1", 5000, false)]
    [InlineData("239.255.255.250", 5000, false)]
    [InlineData("255.255.255.255", 5000, false)]
    [InlineData("::", 5000, false)]
    [InlineData("ff02::1", 5000, false)]
    [InlineData("203.0.113.5", 0, false)]
    [InlineData("203.0.113.5", 5000, true)]
    [InlineData("127.0.0.1", 5000, true)]
    [InlineData("2001:db8::5", 5000, true)]
    [InlineData("::ffff:224.0.0.1", 5000, false)]
    public void Only_unicast_sources_with_a_port_are_valid_peers(string address, int port, bool valid) =>
        Assert.Equal(valid, PacketSource.From(new IPEndPoint(IPAddress.Parse(address), port)).IsValidPeer);

    [Fact]
    public void Other_address_families_are_not_read()
    {
        var unix = new SocketAddress(AddressFamily.Unix, 16);
        Assert.False(ActorRelay.Sides.SocketAddressCodec.TryRead(unix, out _));
    }
}
