using System.Runtime.CompilerServices;
using Akka.Actor;
using ActorRelay.Control;
using ActorRelay.Protocol;

namespace ActorRelay.Client;

/// <summary>
/// Walks every page of <see cref="ListChannels"/>: asks for the first page (or the page after a cursor), then for the
/// page after each reply's <see cref="ChannelList.NextAfter"/> until a page names none. The channels come in ordinal
/// order of id, each once (see <see cref="ChannelList"/> for channels that open or close during the walk); the next page
/// is asked for only when the caller reads on, so a caller that stops early asks no more.
/// </summary>
public static class ChannelPages
{
    /// <summary>Every channel of the pages <paramref name="ask"/> answers, from the page after <paramref name="after"/> (null: the first).</summary>
    /// <exception cref="InvalidOperationException">A page's cursor does not move forward (a node that pages wrongly): the walk would not end.</exception>
    public static async IAsyncEnumerable<ChannelSummary> WalkAsync(Func<ListChannels, CancellationToken, Task<ChannelList>> ask,
        string? after = null, int? limit = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var cursor = after;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await ask(new ListChannels(cursor, limit), cancellationToken).ConfigureAwait(false);
            foreach (var channel in page.Channels) yield return channel;
            if (page.NextAfter is null) yield break;
            if (!ChannelPaging.IsAfter(page.NextAfter, cursor))
                throw new InvalidOperationException($"ListChannels after \"{cursor}\" answered a next page after \"{page.NextAfter}\", which does not move on");
            cursor = page.NextAfter;
        }
    }

    /// <summary>
    /// Every channel the node (or a cluster's placement entry point) at <paramref name="node"/> lists for the caller (from
    /// the page after <paramref name="after"/>, null: the first), over the raw protocol: each page is an Ask that waits at
    /// most <paramref name="pageTimeout"/>.
    /// </summary>
    /// <exception cref="RelayRejectedException">The node refused the listing (not authorized, a Limit below 1).</exception>
    public static IAsyncEnumerable<ChannelSummary> ListAllAsync(this ICanTell node, TimeSpan pageTimeout, string? after = null, int? limit = null,
        CancellationToken cancellationToken = default) =>
        WalkAsync(async (list, ct) => await node.Ask<object>(list, pageTimeout, ct).ConfigureAwait(false) switch
        {
            ChannelList page => page,
            CommandRejected r => throw new RelayRejectedException(r, r.Reason, $"{r.Command}: {r.Reason}: {r.Message}"),
            var other => throw new InvalidOperationException($"unexpected reply {other} to {list}"),
        }, after, limit, cancellationToken);
}
