using Akka.Actor;
using ActorRelay.Control;
using ActorRelay.Protocol;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Node;

/// <summary>
/// <see cref="ChannelPaging"/>: the page size served, a node's pages, and a cluster's page merged from its nodes' pages;
/// walking the pages from the first lists every channel once, in ordinal order of id.
/// </summary>
public sealed class ChannelPagingTests
{
    private static readonly RelayEndpoint Ep = new("127.0.0.1", 2000);

    private static ChannelSummary C(string id) => new(id, ChannelState.Open, Ep, Ep, ActorRefs.Nobody);

    private static IEnumerable<string> Ids(ChannelList page) => page.Channels.Select(c => c.ChannelId);

    /// <summary>Every page from the first, by asking <paramref name="page"/> for the page after each cursor (and checking the cursor moves on).</summary>
    private static List<ChannelList> Walk(Func<string?, ChannelList> page)
    {
        var pages = new List<ChannelList>();
        string? after = null;
        do
        {
            var p = page(after);
            pages.Add(p);
            Assert.True(p.NextAfter is null || ChannelPaging.IsAfter(p.NextAfter, after), $"the cursor {p.NextAfter} does not move on from {after}");
            after = p.NextAfter;
            Assert.True(pages.Count < 10_000, "the walk does not end");
        } while (after is not null);
        return pages;
    }

    [Fact]
    public void The_page_size_is_the_nodes_unless_asked_never_above_the_largest_page_and_a_limit_below_1_is_an_error()
    {
        Assert.Equal((50, null), ChannelPaging.Limit(null, 50, 80));
        Assert.Equal((7, null), ChannelPaging.Limit(7, 50, 80));
        Assert.Equal((80, null), ChannelPaging.Limit(81, 50, 80));            // clamped: NextAfter leads on
        Assert.Equal((80, null), ChannelPaging.Limit(int.MaxValue, 50, 80));
        Assert.Equal((80, null), ChannelPaging.Limit(null, 500, 80));          // a page size set above the frame's room
        Assert.Equal(1, ChannelPaging.Limit(1, 50, 80).Limit);
        Assert.Contains("at least 1", ChannelPaging.Limit(0, 50, 80).Error);
        Assert.Contains("-3", ChannelPaging.Limit(-3, 50, 80).Error);
        Assert.NotNull(ChannelPaging.Limit(int.MinValue, 50, 80).Error);
    }

    [Fact]
    public void The_cursor_compares_ordinally()
    {
        Assert.True(ChannelPaging.IsAfter("a", null));
        Assert.True(ChannelPaging.IsAfter("a", "B"));                 // ordinal: lower case after upper case
        Assert.False(ChannelPaging.IsAfter("a", "a"));                // after, not from
        Assert.True(ChannelPaging.IsAfter("a/", "a"));
        Assert.True(ChannelPaging.IsAfter("é", "z"));
        Assert.False(ChannelPaging.IsAfter("call-10", "call-9"));     // text, not numbers
    }

    [Fact]
    public void A_nodes_pages_hold_at_most_the_limit_in_order_and_name_the_next_cursor_until_the_last()
    {
        var channels = new[] { "c", "a", "e", "B", "d", "b" }.Select(C).ToList();
        var first = ChannelPaging.Page(channels, null, 2);
        Assert.Equal(["B", "a"], Ids(first));
        Assert.Equal("a", first.NextAfter);
        var second = ChannelPaging.Page(channels, "a", 2);
        Assert.Equal(["b", "c"], Ids(second));
        Assert.Equal("c", second.NextAfter);
        var last = ChannelPaging.Page(channels, "c", 2);
        Assert.Equal(["d", "e"], Ids(last));
        Assert.Null(last.NextAfter);                                   // exactly full, and nothing follows: no empty page after it
        Assert.Empty(ChannelPaging.Page(channels, "e", 2).Channels);
        Assert.Null(ChannelPaging.Page(channels, "e", 2).NextAfter);
        Assert.Equal(["c", "d"], Ids(ChannelPaging.Page(channels, "bb", 2))); // a cursor need not be an id
        Assert.Empty(ChannelPaging.Page([], null, 5).Channels);
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelPaging.Page(channels, null, 0));
    }

    [Fact]
    public void Walking_a_nodes_pages_lists_every_channel_once_in_order_whatever_the_ids_and_limit()
    {
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 6].HashSet[0, 60], Gen.Int[1, 12]).Sample((ids, limit) =>
        {
            var channels = ids.Select(C).ToList();
            var pages = Walk(after => ChannelPaging.Page(channels, after, limit));
            Assert.All(pages, p => Assert.InRange(p.Channels.Count, 0, limit));
            Assert.All(pages.SkipLast(1), p => Assert.Equal(limit, p.Channels.Count));
            Assert.Equal(ids.Order(StringComparer.Ordinal), pages.SelectMany(Ids));
            Assert.Equal(ids.Count == 0 ? 1 : (ids.Count + limit - 1) / limit, pages.Count);
        });
    }

    [Fact]
    public void A_walk_is_stable_while_channels_close_and_open_between_pages()
    {
        var open = Enumerable.Range(0, 30).Select(i => $"ch-{i:D2}").ToHashSet();
        var stayed = open.ToHashSet();
        var listed = new List<string>();
        string? after = null;
        var round = 0;
        do
        {
            var page = ChannelPaging.Page(open.Select(C), after, 4);
            listed.AddRange(Ids(page));
            after = page.NextAfter;
            // between pages: one channel closes (one already listed, or one still to come), another opens on either side of the cursor
            var gone = open.Order(StringComparer.Ordinal).ElementAt(round * 7 % open.Count);
            open.Remove(gone);
            stayed.Remove(gone);
            open.Add($"ch-{round * 11 % 40:D2}x");
            round++;
        } while (after is not null);
        Assert.Equal(listed.Count, listed.Distinct().Count());               // no channel twice
        Assert.Empty(stayed.Except(listed));                                 // none missing of those open throughout
        Assert.Equal(listed.Order(StringComparer.Ordinal), listed);         // one order
    }

    [Fact]
    public void A_clusters_page_merges_the_nodes_pages_and_walks_every_channel_once()
    {
        // each node serves at most its own largest page (nodes with longer addresses hold fewer): the merge cuts where the
        // first node that has more stopped, so none of its channels is skipped
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 5].HashSet[0, 80], Gen.Int[1, 4], Gen.Int[1, 10], Gen.Int[0, 1000]).Sample((ids, nodeCount, limit, seed) =>
        {
            var random = new Random(seed);
            var nodes = Enumerable.Range(0, nodeCount).Select(_ => new List<ChannelSummary>()).ToArray();
            foreach (var id in ids) nodes[random.Next(nodeCount)].Add(C(id));
            var maxPages = nodes.Select(_ => random.Next(1, 12)).ToArray();
            var pages = Walk(after => ChannelPaging.Merge(
                nodes.Select((n, i) => ChannelPaging.Page(n, after, Math.Min(limit, maxPages[i]))), limit));
            Assert.All(pages, p => Assert.InRange(p.Channels.Count, 0, limit));
            Assert.Equal(ids.Order(StringComparer.Ordinal), pages.SelectMany(Ids));
        });
    }

    [Fact]
    public void A_merged_page_names_the_next_cursor_when_any_node_has_more()
    {
        var a = new ChannelList([C("a1"), C("a2")], "a2");           // a has more after a2
        var b = new ChannelList([C("b1")]);
        var page = ChannelPaging.Merge([a, b], 5);
        Assert.Equal(["a1", "a2"], Ids(page));                        // b1 comes after a's unknown rest: not yet
        Assert.Equal("a2", page.NextAfter);
        var full = ChannelPaging.Merge([new ChannelList([C("a"), C("c")]), new ChannelList([C("b"), C("d")])], 3);
        Assert.Equal(["a", "b", "c"], Ids(full));
        Assert.Equal("c", full.NextAfter);
        var last = ChannelPaging.Merge([new ChannelList([C("a")]), new ChannelList([]), new ChannelList([C("b")])], 2);
        Assert.Equal(["a", "b"], Ids(last));
        Assert.Null(last.NextAfter);
        Assert.Null(ChannelPaging.Merge([], 3).NextAfter);
    }

    [Fact]
    public void A_merged_page_does_not_end_between_two_channels_of_one_id()
    {
        // two nodes holding one id (a race the placement avoids): the cursor after it would skip the second
        var page = ChannelPaging.Merge([new ChannelList([C("a"), C("x")]), new ChannelList([C("x"), C("y")])], 2);
        Assert.Equal(["a", "x", "x"], Ids(page));
        Assert.Equal("x", page.NextAfter);
        Assert.Equal(["y"], Ids(ChannelPaging.Merge([new ChannelList([]), new ChannelList([C("y")])], 2)));
    }
}
