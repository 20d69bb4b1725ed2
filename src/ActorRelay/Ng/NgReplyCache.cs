namespace ActorRelay.Ng;

public enum NgCookieStatus
{
    /// <summary>First sight of the cookie: act on the request, then <see cref="NgReplyCache.Complete"/> (or <see cref="NgReplyCache.Abandon"/>).</summary>
    New,
    /// <summary>A retransmission of a request still being acted on: do nothing (drop it, or wait for the first reply).</summary>
    InProgress,
    /// <summary>A retransmission of an answered request: send <see cref="NgCookieLookup.Reply"/> again, act on nothing.</summary>
    Answered,
}

public readonly record struct NgCookieLookup(NgCookieStatus Status, ReadOnlyMemory<byte> Reply);

/// <summary>
/// Retransmission detection: cookie → framed reply, so a SIP proxy's retransmitted request (same cookie) gets the
/// same reply and never triggers a second offer or delete. Bounded in entries, in total reply bytes and in age
/// (an entry expires <c>maxAge</c> after it was begun or answered; rtpengine keeps replies 30 to 60 s). Time is
/// passed in (monotonic milliseconds, e.g. <see cref="RelayClock.NowMs"/>); nothing here reads a clock. Key by
/// cookie alone as rtpengine does, or prefix the sender's address to keep two proxies' cookies apart.
/// Not thread-safe: one owner (the endpoint actor).
/// </summary>
public sealed class NgReplyCache
{
    private sealed class Entry(string cookie, long stamp)
    {
        public readonly string Cookie = cookie;
        public long Stamp = stamp;
        public ReadOnlyMemory<byte>? Reply;
    }

    private readonly Dictionary<string, LinkedListNode<Entry>> _byCookie = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _byAge = new(); // oldest stamp first
    private readonly int _capacity;
    private readonly long _maxAgeMs;
    private readonly long _maxBytes;
    private long _bytes;
    private long _lastNow = long.MinValue;

    public NgReplyCache(int capacity, TimeSpan maxAge, long maxBytes = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxAge, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        _capacity = capacity;
        _maxAgeMs = (long)maxAge.TotalMilliseconds;
        _maxBytes = maxBytes;
    }

    public int Count => _byCookie.Count;
    public long Bytes => _bytes;

    /// <summary>Looks the cookie up; a new cookie is recorded as in progress, so its retransmissions are recognised before the reply exists.</summary>
    public NgCookieLookup Begin(string cookie, long nowMs)
    {
        var now = Advance(nowMs);
        if (_byCookie.TryGetValue(cookie, out var node))
            return node.Value.Reply is { } reply ? new(NgCookieStatus.Answered, reply) : new(NgCookieStatus.InProgress, default);
        Add(new Entry(cookie, now));
        return new(NgCookieStatus.New, default);
    }

    /// <summary>Records the reply sent for a cookie (also when its in-progress entry was evicted meanwhile).</summary>
    public void Complete(string cookie, ReadOnlyMemory<byte> reply, long nowMs)
    {
        var now = Advance(nowMs);
        if (_byCookie.TryGetValue(cookie, out var node)) Remove(node);
        Add(new Entry(cookie, now) { Reply = reply });
    }

    /// <summary>Forgets a cookie whose request was not answered (so a retransmission is acted on afresh).</summary>
    public void Abandon(string cookie)
    {
        if (_byCookie.TryGetValue(cookie, out var node)) Remove(node);
    }

    private long Advance(long nowMs)
    {
        _lastNow = Math.Max(_lastNow, nowMs); // a clock going backwards never un-expires anything
        while (_byAge.First is { } oldest && _lastNow - oldest.Value.Stamp >= _maxAgeMs) Remove(oldest);
        return _lastNow;
    }

    private void Add(Entry entry)
    {
        var size = entry.Reply?.Length ?? 0;
        while (_byAge.First is { } oldest && (_byCookie.Count >= _capacity || _bytes + size > _maxBytes)) Remove(oldest);
        if (size > _maxBytes) return; // a reply larger than the whole budget is not kept
        _byCookie[entry.Cookie] = _byAge.AddLast(entry);
        _bytes += size;
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _byAge.Remove(node);
        _byCookie.Remove(node.Value.Cookie);
        _bytes -= node.Value.Reply?.Length ?? 0;
    }
}
