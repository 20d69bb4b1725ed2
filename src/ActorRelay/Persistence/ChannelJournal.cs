using System.Net;
using System.Text.Json.Serialization;
using ActorRelay.Protocol;

namespace ActorRelay.Persistence;

// What a node records so that a restart brings its channels back: one entry per channel event that a restart needs
// (opened, a latch, who listens, closed), never anything per packet. Entries are immutable values; the journal persists
// them in batches (one JournalBatch per flush) and a snapshot of the whole book now and then, after which older batches
// are deleted, so the journal stays as large as the channels open, not as the node's history.

/// <summary>One thing the journal records about a channel.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$entry")]
[JsonDerivedType(typeof(ChannelRecorded), "opened")]
[JsonDerivedType(typeof(LatchRecorded), "latch")]
[JsonDerivedType(typeof(ListenersRecorded), "listeners")]
[JsonDerivedType(typeof(ChannelForgotten), "closed")]
internal abstract record JournalEntry(string ChannelId);

/// <summary>
/// A channel opened: its request (without who asked), the ports it holds, the system that owns it (null: the node's own
/// process) and when it opened (its lifetime counts from then, across restarts).
/// </summary>
internal sealed record ChannelRecorded(string ChannelId, OpenChannel Request, int LeftPort, int RightPort, string? Owner,
    DateTimeOffset OpenedAt) : JournalEntry(ChannelId);

/// <summary>A side latched (or moved, or its source now carries RTP): the source as "address:port", its SSRC when RTP.</summary>
internal sealed record LatchRecorded(string ChannelId, Side Side, string Address, int Port, uint? Ssrc, bool CarriesRtp) : JournalEntry(ChannelId)
{
    [JsonIgnore]
    public IPEndPoint EndPoint => new(IPAddress.Parse(Address), Port);
}

/// <summary>Who listens to a channel now (actor paths), and its owner (a supervisor that came back may own it again).</summary>
internal sealed record ListenersRecorded(string ChannelId, IReadOnlyList<string> Subscribers, string? Owner) : JournalEntry(ChannelId)
{
    public IReadOnlyList<string> Subscribers { get; init; } = Subscribers.ToArray();
}

/// <summary>The channel closed (or failed to come back): its ports are free.</summary>
internal sealed record ChannelForgotten(string ChannelId) : JournalEntry(ChannelId);

/// <summary>What the journal persists: the entries of one flush.</summary>
internal sealed record JournalBatch(IReadOnlyList<JournalEntry> Entries)
{
    public IReadOnlyList<JournalEntry> Entries { get; init; } = Entries.ToArray();
}

/// <summary>Everything recorded about one channel that is open.</summary>
internal sealed record RecordedChannel(ChannelRecorded Opened, LatchRecorded? Left, LatchRecorded? Right, IReadOnlyList<string> Subscribers, string? Owner)
{
    public IReadOnlyList<string> Subscribers { get; init; } = Subscribers.ToArray();
}

/// <summary>A snapshot: every channel open when it was taken.</summary>
internal sealed record ChannelBookSnapshot(IReadOnlyList<RecordedChannel> Channels)
{
    public IReadOnlyList<RecordedChannel> Channels { get; init; } = Channels.ToArray();
}

/// <summary>The channels the journal knows to be open: entries applied in order. Pure.</summary>
internal sealed class ChannelBook
{
    private readonly Dictionary<string, RecordedChannel> _channels = new(StringComparer.Ordinal);

    public int Count => _channels.Count;
    public IReadOnlyCollection<RecordedChannel> Channels => _channels.Values;

    public void Apply(JournalEntry entry)
    {
        switch (entry)
        {
            case ChannelRecorded o:
                _channels[o.ChannelId] = new RecordedChannel(o, null, null, [], o.Owner);
                break;
            case LatchRecorded l when _channels.TryGetValue(l.ChannelId, out var c):
                _channels[l.ChannelId] = l.Side == Side.Left ? c with { Left = l } : c with { Right = l };
                break;
            case ListenersRecorded s when _channels.TryGetValue(s.ChannelId, out var c):
                _channels[s.ChannelId] = c with { Subscribers = s.Subscribers, Owner = s.Owner };
                break;
            case ChannelForgotten f:
                _channels.Remove(f.ChannelId);
                break;
        }
    }

    public ChannelBookSnapshot Snapshot() => new(_channels.Values.OrderBy(c => c.Opened.ChannelId, StringComparer.Ordinal).ToList());

    public void Restore(ChannelBookSnapshot snapshot)
    {
        _channels.Clear();
        foreach (var c in snapshot.Channels) _channels[c.Opened.ChannelId] = c;
    }
}
