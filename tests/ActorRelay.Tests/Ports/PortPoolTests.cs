using ActorRelay.Ports;
using Xunit;

namespace ActorRelay.Tests.Ports;

public sealed class PortPoolTests
{
    [Fact]
    public void Hands_out_every_port_once_then_reports_exhaustion()
    {
        var pool = new PortPool(100, 103);
        var got = new List<int>();
        while (pool.TryAllocate(out var p)) got.Add(p);
        Assert.Equal(new[] { 100, 101, 102, 103 }, got);
        Assert.Equal(0, pool.FreeCount);
        Assert.False(pool.TryAllocate(out _));
    }

    [Fact]
    public void Even_ports_can_be_asked_for_and_keep_the_least_recently_freed_order()
    {
        var pool = new PortPool(100, 105);
        Assert.True(pool.TryAllocateEven(out var a));
        Assert.True(pool.TryAllocateEven(out var b));
        Assert.Equal((100, 102), (a, b));
        Assert.True(pool.TryAllocate(out var c)); // any parity: 101 became free before 103, 104, 105
        Assert.Equal(101, c);
        pool.Release(100);
        Assert.True(pool.TryAllocateEven(out var d));
        Assert.Equal(104, d);                      // 100 was freed last
        Assert.True(pool.TryAllocateEven(out var e));
        Assert.Equal(100, e);
        Assert.False(pool.TryAllocateEven(out _)); // odd ports left only
        Assert.Equal(2, pool.FreeCount);
        Assert.True(pool.TryReserve(103));         // the odd neighbour of 102, e.g. for RTCP
        Assert.True(pool.TryAllocate(out var f));
        Assert.Equal(105, f);
        Assert.False(pool.TryAllocate(out _));
    }

    [Fact]
    public void A_released_port_is_reused_last()
    {
        var pool = new PortPool(100, 103);
        pool.TryAllocate(out var first);
        pool.Release(first);
        var order = new List<int>();
        while (pool.TryAllocate(out var p)) order.Add(p);
        Assert.Equal(new[] { 101, 102, 103, 100 }, order);
    }

    [Fact]
    public void Reserved_ports_are_skipped_and_come_back_on_release()
    {
        var pool = new PortPool(100, 102);
        Assert.True(pool.TryReserve(101));
        Assert.False(pool.TryReserve(101));
        Assert.Equal(2, pool.FreeCount);
        pool.TryAllocate(out var a);
        pool.TryAllocate(out var b);
        Assert.Equal(new[] { 100, 102 }, new[] { a, b });
        Assert.False(pool.TryAllocate(out _));
        Assert.True(pool.Release(101));
        Assert.True(pool.TryAllocate(out var c));
        Assert.Equal(101, c);
    }

    [Fact]
    public void Ports_outside_the_range_can_be_reserved_without_touching_the_pool()
    {
        var pool = new PortPool(100, 101);
        Assert.True(pool.TryReserve(5000));
        Assert.False(pool.TryReserve(5000));
        Assert.Equal(2, pool.FreeCount);
        Assert.True(pool.IsTaken(5000));
        Assert.True(pool.Release(5000));
        Assert.Equal(2, pool.FreeCount);
        Assert.Equal(0, pool.TakenCount);
    }

    [Fact]
    public void Releasing_twice_or_unknown_ports_changes_nothing()
    {
        var pool = new PortPool(100, 101);
        pool.TryAllocate(out var p);
        Assert.True(pool.Release(p));
        Assert.False(pool.Release(p));
        Assert.False(pool.Release(4242));
        Assert.Equal(2, pool.FreeCount);
        var all = new List<int>();
        while (pool.TryAllocate(out var q)) all.Add(q);
        Assert.Equal(2, all.Distinct().Count());
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(10, 65536)]
    [InlineData(20, 10)]
    public void Invalid_ranges_are_refused(int min, int max) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PortPool(min, max));

    [Fact]
    public void Reserving_an_impossible_port_throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PortPool(1, 2).TryReserve(0));
}
