using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Latching;

/// <summary>
/// The source of a datagram as a value: an IPv6 address (IPv4 kept as IPv4-mapped, so a dual-stack
/// socket and an IPv4 socket compare alike) and a port. Transports read it from the socket address a datagram came
/// from without allocating; <see cref="ToEndPoint"/> allocates and is for reports only.
/// </summary>
public readonly struct PacketSource : IEquatable<PacketSource>
{
    private static readonly UInt128 V4MappedPrefix = (UInt128)0xFFFF << 32;

    public UInt128 Address { get; }
    public ushort Port { get; }

    public PacketSource(UInt128 address, ushort port) { Address = address; Port = port; }

    public bool IsIPv4 => Address >> 32 == (UInt128)0xFFFF;
    public uint IPv4 => (uint)Address;

    public static PacketSource FromIPv4(uint address, ushort port) => new(V4MappedPrefix | address, port);

    public static PacketSource From(IPEndPoint ep)
    {
        Span<byte> bytes = stackalloc byte[16];
        var a = ep.Address;
        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            a.TryWriteBytes(bytes, out _);
            return FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)ep.Port);
        }
        a.TryWriteBytes(bytes, out _);
        return new PacketSource(BinaryPrimitives.ReadUInt128BigEndian(bytes), (ushort)ep.Port);
    }

    /// <summary>
    /// False for sources nobody may latch to or be sent to: port 0, the unspecified address (0.0.0.0/8, ::),
    /// multicast (224.0.0.0/4, ff00::/8) and the limited broadcast 255.255.255.255.
    /// </summary>
    public bool IsValidPeer
    {
        get
        {
            if (Port == 0) return false;
            if (IsIPv4)
            {
                var v4 = IPv4;
                if (v4 >> 24 == 0) return false;              // 0.0.0.0/8 "this network"
                if (v4 >> 28 == 0xE) return false;            // 224.0.0.0/4 multicast
                if (v4 == 0xFFFFFFFF) return false;           // limited broadcast
                return true;
            }
            if (Address == UInt128.Zero) return false;        // ::
            if (Address >> 120 == 0xFF) return false;         // ff00::/8 multicast
            return true;
        }
    }

    public IPEndPoint ToEndPoint()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (IsIPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, IPv4);
            return new IPEndPoint(new IPAddress(bytes[..4]), Port);
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        return new IPEndPoint(new IPAddress(bytes), Port);
    }

    public bool Equals(PacketSource other) => Address == other.Address && Port == other.Port;
    public override bool Equals(object? obj) => obj is PacketSource o && Equals(o);
    public override int GetHashCode() => HashCode.Combine(Address, Port);
    public static bool operator ==(PacketSource a, PacketSource b) => a.Equals(b);
    public static bool operator !=(PacketSource a, PacketSource b) => !a.Equals(b);
    public override string ToString() => ToEndPoint().ToString();
}
