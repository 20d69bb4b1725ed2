using Akka.Actor;
using Akka.TestKit.Xunit2;
using ActorRelay.Persistence;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;

namespace ActorRelay.Tests.Persistence;

/// <summary>The journal's records: applied in order they give the open channels; they survive their serializer field for field.</summary>
public sealed class ChannelJournalTests() : TestKit(RelaySettings.DefaultConfig())
{
    private static readonly DateTimeOffset Opened = DateTimeOffset.Parse("2026-11-29T12:00:00Z");

    private static ChannelRecorded Open(string id, int left) => new(id,
        new OpenChannel(id, new SideRequest(ExpectedSource: "203.0.113.0/24"), new SideRequest(BindAddress: "127.0.0.1", EvenPort: true),
            new ChannelOptions(LatchMode.Rtp, TimeSpan.FromMinutes(2), null, TimeSpan.FromHours(4), TimeSpan.FromSeconds(3), 4), SubscribeOpener: false),
        left, left + 1, "akka.tcp://sip-server@10.0.0.5:4054", Opened);

    [Fact]
    public void Entries_applied_in_order_leave_the_channels_still_open_with_their_latches_and_listeners()
    {
        var book = new ChannelBook();
        book.Apply(Open("a", 20000));
        book.Apply(Open("b", 20002));
        book.Apply(new LatchRecorded("a", Side.Left, "198.51.100.7", 4000, 0xAAAA, true));
        book.Apply(new LatchRecorded("a", Side.Right, "::ffff:203.0.113.9", 5000, null, false));
        book.Apply(new ListenersRecorded("a", ["akka.tcp://sip-server@10.0.0.5:4054/user/calls"], "akka.tcp://sip-server@10.0.0.5:4055"));
        book.Apply(new ChannelForgotten("b"));
        book.Apply(new LatchRecorded("b", Side.Left, "198.51.100.8", 4000, null, false)); // after it closed: nothing
        var a = Assert.Single(book.Channels);
        Assert.Equal("a", a.Opened.ChannelId);
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("198.51.100.7"), 4000), a.Left!.EndPoint);
        Assert.Equal(0xAAAAu, a.Left.Ssrc);
        Assert.False(a.Right!.CarriesRtp);
        Assert.Equal("akka.tcp://sip-server@10.0.0.5:4055", a.Owner);
        Assert.Equal(["akka.tcp://sip-server@10.0.0.5:4054/user/calls"], a.Subscribers);

        var restored = new ChannelBook();
        restored.Restore(book.Snapshot());
        Assert.Equal(book.Snapshot().Channels.Single() with { Subscribers = a.Subscribers }, restored.Channels.Single() with { Subscribers = a.Subscribers });
    }

    [Fact]
    public void Batches_and_snapshots_round_trip_through_the_journals_serializer()
    {
        var serializer = (ChannelJournalSerializer)Sys.Serialization.FindSerializerForType(typeof(JournalBatch));
        var batch = new JournalBatch([Open("a", 20000), new LatchRecorded("a", Side.Left, "198.51.100.7", 4000, 0xAAAA, true),
            new ListenersRecorded("a", ["akka.tcp://x@h:1/user/y"], null), new ChannelForgotten("a")]);
        var back = (JournalBatch)serializer.FromBinary(serializer.ToBinary(batch), serializer.Manifest(batch));
        Assert.Equal(batch.Entries.Count, back.Entries.Count);
        Assert.Equal(batch.Entries[0], back.Entries[0]);
        Assert.Equal(batch.Entries[1], back.Entries[1]);
        Assert.Equal(((ListenersRecorded)batch.Entries[2]).Subscribers, ((ListenersRecorded)back.Entries[2]).Subscribers);
        Assert.Equal(batch.Entries[3], back.Entries[3]);

        var book = new ChannelBook();
        foreach (var e in batch.Entries.Take(3)) book.Apply(e);
        var snapshot = book.Snapshot();
        var again = (ChannelBookSnapshot)serializer.FromBinary(serializer.ToBinary(snapshot), serializer.Manifest(snapshot));
        Assert.Equal(snapshot.Channels.Single().Opened, again.Channels.Single().Opened);
        Assert.Equal(snapshot.Channels.Single().Left, again.Channels.Single().Left);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "System.IO.FileInfo"));
    }
}
