using Akka.Actor;
using ActorRelay.Client;
using ActorRelay.Control;
using ActorRelay.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Node;

/// <summary>
/// ListChannels pages a node's channels: pages of relay.control.list-page-size (4 here) in ordinal order of id, each
/// naming the next page's cursor; a walk lists every channel once, also while channels close and open between pages;
/// a Limit above the largest page (what one Akka.Remote frame holds: 8,000 bytes here, a handful of channels) is served
/// as the largest page, a Limit below 1 is refused.
/// </summary>
public sealed class ChannelListPagingSpecs(ITestOutputHelper output) : RelayNodeSpecsBase("socket", output,
    "relay.control.list-page-size = 4\nakka.remote.dot-netty.tcp.maximum-frame-size = 8000b")
{
    private async Task<List<string>> OpenManyAsync(int count)
    {
        var ids = Enumerable.Range(0, count).Select(i => $"page-{i:D2}").ToList();
        // a deadline, not a measure: generous, as the test host shares two cores with the other test assemblies
        foreach (var reply in await Task.WhenAll(ids.Select(id => Node.Ask<object>(new OpenChannel(id, SubscribeOpener: false), Wait * 4))))
            Assert.IsType<ChannelOpened>(reply);
        return ids;
    }

    [Fact]
    public async Task The_pages_hold_the_page_size_in_order_and_a_walk_lists_every_channel_once()
    {
        var ids = await OpenManyAsync(15);
        var first = await Node.Ask<ChannelList>(ListChannels.Instance, Wait);
        Assert.Equal(ids.Take(4), first.Channels.Select(c => c.ChannelId));
        Assert.Equal("page-03", first.NextAfter);

        var pages = new List<ChannelList> { first };
        while (pages[^1].NextAfter is { } after) pages.Add(await Node.Ask<ChannelList>(new ListChannels(after), Wait));
        Assert.Equal([4, 4, 4, 3], pages.Select(p => p.Channels.Count));
        Assert.Equal(ids, pages.SelectMany(p => p.Channels).Select(c => c.ChannelId));
        Assert.All(pages.SelectMany(p => p.Channels), c => Assert.Equal(ChannelState.Open, c.State));

        // a page of its own size, and the walk over the raw protocol
        var two = await Node.Ask<ChannelList>(new ListChannels("page-05", 2), Wait);
        Assert.Equal(["page-06", "page-07"], two.Channels.Select(c => c.ChannelId));
        Assert.Equal("page-07", two.NextAfter);
        Assert.Equal(ids, await Node.ListAllAsync(Wait, limit: 3).Select(c => c.ChannelId).ToListAsync());
        Assert.Equal(ids.Skip(13), await Node.ListAllAsync(Wait, after: "page-12").Select(c => c.ChannelId).ToListAsync());
    }

    [Fact]
    public async Task A_walk_lists_each_channel_open_throughout_once_while_others_close_and_open_between_pages()
    {
        var ids = await OpenManyAsync(15);
        var listed = new List<string>();
        var first = await Node.Ask<ChannelList>(ListChannels.Instance, Wait);
        listed.AddRange(first.Channels.Select(c => c.ChannelId));

        // between the first and second page: one listed channel and one still to come close; one opens before the cursor, one after
        Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel("page-01"), Wait));
        Assert.IsType<ChannelClosed>(await Node.Ask<object>(new CloseChannel("page-09"), Wait));
        Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel("page-00a", SubscribeOpener: false), Wait));
        Assert.IsType<ChannelOpened>(await Node.Ask<object>(new OpenChannel("page-09a", SubscribeOpener: false), Wait));

        var after = first.NextAfter;
        while (after is not null)
        {
            var page = await Node.Ask<ChannelList>(new ListChannels(after), Wait);
            Assert.InRange(page.Channels.Count, 1, 4);
            listed.AddRange(page.Channels.Select(c => c.ChannelId));
            after = page.NextAfter;
        }
        Assert.Equal(listed.Distinct().Order(StringComparer.Ordinal), listed);            // once each, in order
        Assert.Empty(ids.Except(["page-01", "page-09"]).Except(listed));                  // none of those open throughout missing
        Assert.Contains("page-09a", listed);                                              // opened after the cursor: reached
        Assert.DoesNotContain("page-00a", listed);                                        // opened behind it: the next walk's
        Assert.DoesNotContain("page-09", listed);                                         // closed before its page
        Assert.Contains("page-01", listed);                                               // listed before it closed
    }

    [Fact]
    public async Task A_limit_above_the_largest_page_gets_the_largest_page_and_one_below_1_is_refused()
    {
        var max = ChannelListBound.MaxPage(Sys, Node.Path);
        Assert.InRange(max, 1, 10);                                                       // 8,000-byte frames hold few
        var ids = await OpenManyAsync(max + 3);
        var page = await Node.Ask<ChannelList>(new ListChannels(Limit: 1000), Wait);
        Assert.Equal(ids.Take(max), page.Channels.Select(c => c.ChannelId));
        Assert.Equal(ids[max - 1], page.NextAfter);
        Assert.InRange(ChannelListBound.Size(Sys, page), 1, ChannelListBound.FrameSize(Sys.Settings.Config) * ChannelListBound.FrameShare);
        Assert.Equal(ids, await Node.ListAllAsync(Wait, limit: int.MaxValue).Select(c => c.ChannelId).ToListAsync());

        foreach (var limit in new[] { 0, -1 })
        {
            var refused = Assert.IsType<CommandRejected>(await Node.Ask<object>(new ListChannels(Limit: limit), Wait));
            Assert.Equal((nameof(ListChannels), RejectReason.InvalidRequest), (refused.Command, refused.Reason));
            Assert.Contains("Limit", refused.Message);
        }
        await Assert.ThrowsAsync<RelayRejectedException>(async () => await Node.ListAllAsync(Wait, limit: 0).ToListAsync());
    }
}
