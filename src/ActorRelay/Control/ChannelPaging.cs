using ActorRelay.Protocol;

namespace ActorRelay.Control;

/// <summary>
/// Paging of <see cref="ListChannels"/>: a page is the channels after a cursor (the last id of the page before, ordinal
/// order), at most a limit of them, and names the cursor of the next page when more follow. A node pages its own
/// channels (<see cref="Page"/>); a cluster's entry point merges its nodes' pages of the same cursor into one
/// (<see cref="Merge"/>). Pure.
/// </summary>
public static class ChannelPaging
{
    /// <summary>
    /// The page size to serve for a request's <paramref name="requested"/> limit: the node's <paramref name="pageSize"/>
    /// when none is asked for, never more than <paramref name="maxPage"/> (a larger one is served as the largest: its
    /// NextAfter leads on); an error for a limit below 1.
    /// </summary>
    public static (int Limit, string? Error) Limit(int? requested, int pageSize, int maxPage)
    {
        if (maxPage < 1) throw new ArgumentOutOfRangeException(nameof(maxPage), maxPage, "the largest page holds at least one channel");
        if (requested is < 1) return (0, $"Limit must be at least 1, got {requested}");
        return (Math.Min(requested ?? pageSize, maxPage), null);
    }

    /// <summary>Whether <paramref name="id"/> comes after the cursor <paramref name="after"/> (null: before everything).</summary>
    public static bool IsAfter(string id, string? after) => after is null || string.CompareOrdinal(id, after) > 0;

    /// <summary>
    /// The page of <paramref name="channels"/> (in any order, ids unique) after <paramref name="after"/>: the first
    /// <paramref name="limit"/> by ordinal id, and the next page's cursor (the page's last id) when more follow.
    /// </summary>
    public static ChannelList Page(IEnumerable<ChannelSummary> channels, string? after, int limit)
    {
        if (limit < 1) throw new ArgumentOutOfRangeException(nameof(limit), limit, "at least 1");
        // one more than the page: whether another page follows
        var page = channels.Where(c => IsAfter(c.ChannelId, after))
            .OrderBy(c => c.ChannelId, StringComparer.Ordinal).Take(limit + 1).ToList();
        if (page.Count <= limit) return new ChannelList(page);
        page.RemoveAt(limit);
        return new ChannelList(page, page[^1].ChannelId);
    }

    /// <summary>
    /// One page from the pages several nodes gave for the same cursor: their channels merged by ordinal id, at most
    /// <paramref name="limit"/>, cut where the first node that has more stopped (a node may serve fewer than asked: its
    /// channels after that point are not known yet, and the next page starts there). The page does not end between
    /// two channels of the same id (on two nodes): the cursor would skip the second.
    /// </summary>
    public static ChannelList Merge(IEnumerable<ChannelList> pages, int limit)
    {
        if (limit < 1) throw new ArgumentOutOfRangeException(nameof(limit), limit, "at least 1");
        var all = pages.ToList();
        var cut = all.Where(p => p.NextAfter is not null).Select(p => p.NextAfter!).Order(StringComparer.Ordinal).FirstOrDefault();
        var merged = all.SelectMany(p => p.Channels).OrderBy(c => c.ChannelId, StringComparer.Ordinal).ToList();
        var known = cut is null ? merged.Count : merged.FindLastIndex(c => string.CompareOrdinal(c.ChannelId, cut) <= 0) + 1;
        var count = Math.Min(limit, known);
        while (count > 0 && count < known && merged[count].ChannelId == merged[count - 1].ChannelId) count++;
        var more = count < merged.Count || cut is not null;
        var page = merged.GetRange(0, count);
        return new ChannelList(page, more && count > 0 ? page[^1].ChannelId : more ? cut : null);
    }
}
