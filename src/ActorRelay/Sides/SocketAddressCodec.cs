using System.Buffers.Binary;
using System.Net.Sockets;
using ActorRelay.Latching;

namespace ActorRelay.Sides;

/// <summary>
/// The one reader and writer of raw socket addresses (sockaddr_in / sockaddr_in6) for every transport. The family
/// comes from the caller (the runtime's <see cref="System.Net.SocketAddress.Family"/>, or the relay loop's reading of
/// the Linux header), because where it is stored differs by OS; the port (offset 2), IPv4 address (offset 4) and IPv6
/// address (offset 8) sit at the same offsets on every OS. Allocation-free except <see cref="Copy"/>.
/// </summary>
internal static class SocketAddressCodec
{
    /// <summary>sizeof(struct sockaddr_in) and sizeof(struct sockaddr_in6) on every OS.</summary>
    public const int IPv4Size = 16, IPv6Size = 28;

    /// <summary>Reads an AF_INET/AF_INET6 socket address; false for any other family or a short buffer.</summary>
    public static bool TryRead(AddressFamily family, ReadOnlySpan<byte> sockaddr, out PacketSource source)
    {
        switch (family)
        {
            case AddressFamily.InterNetwork when sockaddr.Length >= 8:        // family, port, address
                source = PacketSource.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(sockaddr.Slice(4, 4)),
                    BinaryPrimitives.ReadUInt16BigEndian(sockaddr.Slice(2, 2)));
                return true;
            case AddressFamily.InterNetworkV6 when sockaddr.Length >= 24:     // family, port, flow info, address
                source = new PacketSource(BinaryPrimitives.ReadUInt128BigEndian(sockaddr.Slice(8, 16)),
                    BinaryPrimitives.ReadUInt16BigEndian(sockaddr.Slice(2, 2)));
                return true;
            default:
                source = default;
                return false;
        }
    }

    /// <summary>Reads a runtime socket address; false for any family but IPv4 and IPv6.</summary>
    public static bool TryRead(System.Net.SocketAddress address, out PacketSource source) =>
        TryRead(address.Family, address.Buffer.Span[..address.Size], out source);

    /// <summary>A runtime socket address holding a copy of <paramref name="sockaddr"/> (a send target, made once per latch).</summary>
    public static System.Net.SocketAddress Copy(AddressFamily family, ReadOnlySpan<byte> sockaddr)
    {
        var sa = new System.Net.SocketAddress(family, sockaddr.Length);
        sockaddr.CopyTo(sa.Buffer.Span);
        return sa;
    }
}
