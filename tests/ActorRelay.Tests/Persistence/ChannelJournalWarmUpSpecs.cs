using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.TestKit.Xunit2;
using ActorRelay.Persistence;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Persistence;

/// <summary>An in-memory journal whose writes fail while <see cref="FailWrites"/> is set (a full disk, a lost database).</summary>
public sealed class FailingWritesJournal : MemoryJournal
{
    public static volatile bool FailWrites;

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken) =>
        FailWrites ? Task.FromException<IImmutableList<Exception>>(new IOException("disk full")) : base.WriteMessagesAsync(messages, cancellationToken);
}

/// <summary>
/// The channel journal writes once (an empty batch) as soon as it has told the node what it recovered, so a store's
/// first write, which prepares its write path, is part of the node's start and not of its first calls; a journal whose
/// first write fails has handed over what it read, then stops.
/// </summary>
public sealed class ChannelJournalWarmUpSpecs(ITestOutputHelper output) : TestKit(ConfigurationFactory.ParseString("""
    relay {
      node-name = "warm"
      persistence { enabled = on, flush-after = 5ms, journal-plugin = "akka.persistence.journal.failing" }
    }
    akka.persistence {
      journal.failing {
        class = "ActorRelay.Tests.Persistence.FailingWritesJournal, ActorRelay.Tests"
        plugin-dispatcher = "akka.actor.default-dispatcher"
      }
      snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
    }
    """).WithFallback(RelaySettings.DefaultConfig()), output: output)
{
    private const string PersistenceId = "actor-relay-channels-warm";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private long HighestWritten()
    {
        var reader = CreateTestProbe();
        Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor("akka.persistence.journal.failing")
            .Tell(new ReplayMessages(0, long.MaxValue, long.MaxValue, PersistenceId, reader.Ref), reader.Ref);
        while (true)
        {
            var m = reader.ExpectMsg<object>(Wait);
            if (m is RecoverySuccess done) return done.HighestSequenceNr;
        }
    }

    [Fact]
    public void The_journal_writes_once_as_it_recovers_and_a_failed_first_write_stops_it_after_the_report()
    {
        FailingWritesJournal.FailWrites = false;
        var settings = RelaySettings.From(Sys.Settings.Config);
        IgnoreMessages<ChannelJournalActor.Written>();

        var journal = ChildActorOf(ChannelJournalActor.Props(settings));
        Assert.Empty(ExpectMsg<JournalRecovered>(Wait).Channels);
        AwaitAssert(() => Assert.Equal(1, HighestWritten()), Wait); // the empty batch, written right after the report

        journal.Tell(new ChannelJournalActor.Record(new ChannelRecorded("call-1", new OpenChannel("call-1", SubscribeOpener: false),
            20000, 20001, null, DateTimeOffset.UtcNow)));
        journal.Tell(ChannelJournalActor.FlushNow.Instance);
        ExpectMsg<ChannelJournalActor.Flushed>(Wait);
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal, Wait);

        // the store now refuses writes: the next journal recovers the channel, reports it, its first write fails and
        // it stops (the node then carries on without a journal)
        FailingWritesJournal.FailWrites = true;
        try
        {
            var failing = ChildActorOf(ChannelJournalActor.Props(settings));
            Watch(failing);
            Assert.Equal(["call-1"], ExpectMsg<JournalRecovered>(Wait).Channels.Select(c => c.Opened.ChannelId));
            ExpectTerminated(failing, Wait);
        }
        finally
        {
            FailingWritesJournal.FailWrites = false;
        }
    }
}
