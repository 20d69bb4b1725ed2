using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class NgReplyCacheTests
{
    private static readonly TimeSpan Age = TimeSpan.FromSeconds(30);
    private static byte[] Reply(string text) => System.Text.Encoding.ASCII.GetBytes(text);

    [Fact]
    public void A_retransmission_before_the_reply_exists_triggers_nothing_and_after_it_gets_the_same_reply()
    {
        var cache = new NgReplyCache(100, Age);
        Assert.Equal(NgCookieStatus.New, cache.Begin("c1", 0).Status);
        Assert.Equal(NgCookieStatus.InProgress, cache.Begin("c1", 10).Status);
        cache.Complete("c1", Reply("c1 d6:result2:oke"), 20);
        var again = cache.Begin("c1", 30);
        Assert.Equal(NgCookieStatus.Answered, again.Status);
        Assert.Equal("c1 d6:result2:oke", System.Text.Encoding.ASCII.GetString(again.Reply.Span));
        Assert.Equal(NgCookieStatus.New, cache.Begin("c2", 30).Status);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void An_abandoned_cookie_is_acted_on_afresh()
    {
        var cache = new NgReplyCache(100, Age);
        cache.Begin("c1", 0);
        cache.Abandon("c1");
        Assert.Equal(0, cache.Count);
        Assert.Equal(NgCookieStatus.New, cache.Begin("c1", 1).Status);
        cache.Abandon("unknown");
    }

    [Fact]
    public void Entries_expire_their_age_after_being_begun_or_answered()
    {
        var cache = new NgReplyCache(100, Age);
        cache.Begin("stuck", 0);
        cache.Begin("answered", 0);
        cache.Complete("answered", Reply("r"), 1_000);
        Assert.Equal(NgCookieStatus.InProgress, cache.Begin("stuck", 29_999).Status);
        Assert.Equal(NgCookieStatus.New, cache.Begin("stuck", 30_000).Status); // an in-progress entry does not block forever
        Assert.Equal(NgCookieStatus.Answered, cache.Begin("answered", 30_999).Status);
        Assert.Equal(NgCookieStatus.New, cache.Begin("answered", 31_000).Status);
    }

    [Fact]
    public void A_clock_going_backwards_expires_nothing_twice_and_revives_nothing()
    {
        var cache = new NgReplyCache(100, Age);
        cache.Complete("c1", Reply("r"), 0);
        Assert.Equal(NgCookieStatus.New, cache.Begin("c2", 40_000).Status);
        Assert.Equal(NgCookieStatus.New, cache.Begin("c1", 5_000).Status);
        Assert.Equal(NgCookieStatus.InProgress, cache.Begin("c2", 1_000).Status);
    }

    [Fact]
    public void The_oldest_entry_makes_room()
    {
        var cache = new NgReplyCache(2, Age);
        cache.Begin("a", 0);
        cache.Begin("b", 1);
        cache.Complete("a", Reply("ra"), 2); // answering refreshes a
        cache.Begin("c", 3);
        Assert.Equal(2, cache.Count);
        Assert.Equal(NgCookieStatus.Answered, cache.Begin("a", 4).Status);
        Assert.Equal(NgCookieStatus.New, cache.Begin("b", 5).Status);
    }

    [Fact]
    public void Reply_bytes_are_bounded()
    {
        var cache = new NgReplyCache(100, Age, maxBytes: 10);
        cache.Complete("a", new byte[6], 0);
        cache.Complete("b", new byte[4], 1);
        Assert.Equal(10, cache.Bytes);
        cache.Complete("c", new byte[6], 2);
        Assert.Equal((2, 10L), (cache.Count, cache.Bytes));
        Assert.Equal(NgCookieStatus.New, cache.Begin("a", 3).Status);
        cache.Complete("huge", new byte[11], 4);
        Assert.Equal(NgCookieStatus.New, cache.Begin("huge", 5).Status);
        Assert.True(cache.Bytes <= 10);
        cache.Complete("b", new byte[1], 6); // replacing an entry releases its bytes
        Assert.True(cache.Bytes <= 10);
    }

    [Fact]
    public void A_reply_whose_entry_was_evicted_meanwhile_is_still_kept()
    {
        var cache = new NgReplyCache(1, Age);
        cache.Begin("a", 0);
        cache.Begin("b", 1);
        cache.Complete("a", Reply("ra"), 2);
        Assert.Equal(NgCookieStatus.Answered, cache.Begin("a", 3).Status);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Limits_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NgReplyCache(0, Age));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NgReplyCache(1, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NgReplyCache(1, Age, maxBytes: 0));
    }
}
