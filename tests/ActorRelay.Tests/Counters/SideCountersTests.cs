using ActorRelay.Counters;
using ActorRelay.Protocol;
using Xunit;

namespace ActorRelay.Tests.Counters;

public sealed class SideCountersTests
{
    [Fact]
    public void Counts_packets_bytes_and_the_last_packet_time()
    {
        var c = new SideCounters();
        Assert.Null(c.LastPacketMs);
        c.OnReceived(100, 5);
        c.OnReceived(60, 9);
        c.OnForwarded(100);
        Assert.Equal((2, 160, 1, 100), (c.PacketsReceived, c.BytesReceived, c.PacketsForwarded, c.BytesForwarded));
        Assert.Equal(9, c.LastPacketMs);
    }

    [Fact]
    public void Drops_are_counted_by_reason_and_signal_once_per_summary()
    {
        var c = new SideCounters();
        Assert.True(c.OnDropped(DropReason.ForeignSource));
        Assert.False(c.OnDropped(DropReason.ForeignSource));
        Assert.False(c.OnDropped(DropReason.Oversize));
        Assert.Equal(new Dictionary<DropReason, long> { [DropReason.ForeignSource] = 2, [DropReason.Oversize] = 1 }, c.DroppedByReason());
        c.ClearDropsPending();
        Assert.True(c.OnDropped(DropReason.PeerNotLatched));
    }
}
