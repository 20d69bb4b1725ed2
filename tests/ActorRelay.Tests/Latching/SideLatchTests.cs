using System.Net;
using ActorRelay.Latching;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.Tests.Latching;

public sealed class SideLatchTests
{
    private static readonly PacketSource Client = Src("198.51.100.10", 4000);
    private static readonly PacketSource SameIpOtherPort = Src("198.51.100.10", 4002);
    private static readonly PacketSource OtherIpSamePort = Src("198.51.100.11", 4000);
    private static readonly PacketSource Stranger = Src("203.0.113.66", 9999);

    private static PacketSource Src(string ip, int port) => PacketSource.From(new IPEndPoint(IPAddress.Parse(ip), port));

    /// <summary>A datagram of some protocol (not RTP, not empty: an empty datagram never latches).</summary>
    private static readonly byte[] Data = [0x42];

    /// <summary>A side's latch with the shipped defaults and <paramref name="mode"/>, opened at time 0.</summary>
    private static SideLatch Latch(LatchMode mode) => new(ActorRelay.Settings.RelaySettings.Default.Latch with { Mode = mode }, 0);

    [Fact]
    public void First_latches_once_and_drops_every_other_source()
    {
        var latch = Latch(LatchMode.First);
        Assert.False(latch.IsLatched);
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Client, Data, 0));
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Client, Data, 1));
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(SameIpOtherPort, Data, 2));
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(OtherIpSamePort, Data, 3));
        Assert.Equal(LatchVerdict.DropForeignSource, latch.Offer(Stranger, Data, 4));
        Assert.Equal(Client, latch.Current);
    }

    [Fact]
    public void Follow_moves_to_every_new_source_like_the_seed()
    {
        var latch = Latch(LatchMode.Follow);
        Assert.Equal(LatchVerdict.Latched, latch.Offer(Client, Data, 0));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(Stranger, Data, 1));
        Assert.Equal(Stranger, latch.Current);
        Assert.Equal(LatchVerdict.Accept, latch.Offer(Stranger, Data, 2));
        Assert.Equal(LatchVerdict.Moved, latch.Offer(Client, Data, 3));
    }

    [Theory]
    [InlineData(LatchMode.First)]
    [InlineData(LatchMode.Follow)]
    public void Invalid_sources_never_latch(LatchMode mode)
    {
        var latch = Latch(mode);
        Assert.Equal(LatchVerdict.DropInvalidSource, latch.Offer(Src("0.0.0.0", 4000), Data, 0));
        Assert.Equal(LatchVerdict.DropInvalidSource, latch.Offer(Src("224.0.0.5", 4000), Data, 0));
        Assert.Equal(LatchVerdict.DropInvalidSource, latch.Offer(Src("198.51.100.10", 0), Data, 0));
        Assert.False(latch.IsLatched);
        latch.Offer(Client, Data, 1);
        Assert.Equal(LatchVerdict.DropInvalidSource, latch.Offer(Src("255.255.255.255", 4000), Data, 2));
        Assert.Equal(Client, latch.Current);
    }

    [Fact]
    public void Verdicts_map_to_drop_reasons()
    {
        Assert.Equal(DropReason.ForeignSource, LatchVerdict.DropForeignSource.ToDropReason());
        Assert.Equal(DropReason.InvalidSource, LatchVerdict.DropInvalidSource.ToDropReason());
        Assert.True(LatchVerdict.Moved.Relays());
        Assert.False(LatchVerdict.DropForeignSource.Relays());
        Assert.Throws<ArgumentOutOfRangeException>(() => LatchVerdict.Accept.ToDropReason());
    }
}
