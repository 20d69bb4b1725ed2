using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit.Xunit2;
using ActorRelay.Persistence;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;

namespace ActorRelay.Tests.Persistence;

/// <summary>
/// The channel journal stays as large as the channels open, not as the node's history: thousands of calls opened,
/// latched and closed through <see cref="ChannelJournalActor"/> (in-memory journal and snapshot store) leave fewer
/// batches than relay.persistence.snapshot-every, one snapshot holding only the channels still open, and a restart that
/// brings back exactly those.
/// </summary>
public sealed class ChannelJournalBoundsSpecs() : TestKit(ConfigurationFactory.ParseString("""
    relay {
      node-name = "bounds"
      persistence { enabled = on, flush-after = 5ms, batch-size = 50, snapshot-every = 10 }
    }
    akka.persistence {
      journal.plugin = "akka.persistence.journal.inmem"
      snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
    }
    """).WithFallback(RelaySettings.DefaultConfig()))
{
    private const int Calls = 3000, AtOnce = 20, StillOpen = 5;
    private const string PersistenceId = "actor-relay-channels-bounds";
    private static readonly DateTimeOffset OpenedAt = DateTimeOffset.Parse("2026-11-29T12:00:00Z");

    private static ChannelRecorded Opened(int call) =>
        new($"call-{call}", new OpenChannel($"call-{call}", SubscribeOpener: false), 20000 + 2 * call, 20001 + 2 * call, null, OpenedAt);

    [Fact]
    public void Thousands_of_calls_through_the_journal_leave_fewer_batches_than_a_snapshot_interval_and_one_snapshot_of_the_open_channels()
    {
        var settings = RelaySettings.From(Sys.Settings.Config);
        IgnoreMessages<ChannelJournalActor.Written>();
        var journal = ChildActorOf(ChannelJournalActor.Props(settings));
        Assert.Empty(ExpectMsg<JournalRecovered>(TimeSpan.FromSeconds(10)).Channels);

        // calls as a node sees them: opened, both sides latched, closed; AtOnce open at a time, the last StillOpen left open
        for (var call = 0; call < Calls; call++)
        {
            journal.Tell(new ChannelJournalActor.Record(Opened(call)));
            journal.Tell(new ChannelJournalActor.Record(new LatchRecorded($"call-{call}", Side.Left, "198.51.100.7", 4000 + call % 1000, 0xAAAA, true)));
            journal.Tell(new ChannelJournalActor.Record(new LatchRecorded($"call-{call}", Side.Right, "203.0.113.9", 5000 + call % 1000, 0xBBBB, true)));
            if (call >= AtOnce) journal.Tell(new ChannelJournalActor.Record(new ChannelForgotten($"call-{call - AtOnce}")));
        }
        for (var call = Calls - AtOnce; call < Calls - StillOpen; call++)
            journal.Tell(new ChannelJournalActor.Record(new ChannelForgotten($"call-{call}")));
        journal.Tell(ChannelJournalActor.FlushNow.Instance);
        ExpectMsg<ChannelJournalActor.Flushed>(TimeSpan.FromSeconds(20));

        var entries = 3 * Calls + (Calls - StillOpen);
        var batchesWritten = (entries + settings.PersistenceBatchSize - 1) / settings.PersistenceBatchSize;
        var reader = CreateTestProbe();
        var store = Akka.Persistence.Persistence.Instance.Apply(Sys);
        // the snapshot and the deletions it allows run after the last write: awaited, with a deadline
        AwaitAssert(() =>
        {
            store.JournalFor(null).Tell(new ReplayMessages(0, long.MaxValue, long.MaxValue, PersistenceId, reader.Ref), reader.Ref);
            var stored = 0;
            long highest;
            while (true)
            {
                var m = reader.ExpectMsg<object>(TimeSpan.FromSeconds(5));
                if (m is ReplayedMessage) { stored++; continue; }
                highest = Assert.IsType<RecoverySuccess>(m).HighestSequenceNr;
                break;
            }
            Assert.True(highest >= batchesWritten / 2, $"only {highest} batches written for {entries} records"); // the history was long
            Assert.True(stored < settings.PersistenceSnapshotEvery, $"{stored} of {highest} batches still stored");

            store.SnapshotStoreFor(null).Tell(new LoadSnapshot(PersistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), reader.Ref);
            var latest = reader.ExpectMsg<LoadSnapshotResult>(TimeSpan.FromSeconds(5)).Snapshot;
            Assert.NotNull(latest);
            // at a batch's end a call may be opened before the oldest one's forget, which comes in the next batch: AtOnce + 1
            Assert.True(((ChannelBookSnapshot)latest.Snapshot).Channels.Count <= AtOnce + 1, "the snapshot holds more than the channels open");
            Assert.True(highest - latest.Metadata.SequenceNr < settings.PersistenceSnapshotEvery);
            store.SnapshotStoreFor(null).Tell(new LoadSnapshot(PersistenceId, new SnapshotSelectionCriteria(latest.Metadata.SequenceNr - 1), long.MaxValue), reader.Ref);
            Assert.Null(reader.ExpectMsg<LoadSnapshotResult>(TimeSpan.FromSeconds(5)).Snapshot); // older snapshots deleted
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100));

        // a restart brings back exactly the channels still open, latched
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal, TimeSpan.FromSeconds(10));
        ChildActorOf(ChannelJournalActor.Props(settings));
        var back = ExpectMsg<JournalRecovered>(TimeSpan.FromSeconds(10)).Channels;
        Assert.Equal(Enumerable.Range(Calls - StillOpen, StillOpen).Select(c => $"call-{c}"), back.Select(c => c.Opened.ChannelId).Order(StringComparer.Ordinal));
        Assert.All(back, c => Assert.True(c.Left is { Ssrc: 0xAAAA } && c.Right is { Ssrc: 0xBBBB }));
    }
}
