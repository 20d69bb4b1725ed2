using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using ActorRelay.Settings;

namespace ActorRelay.Persistence;

/// <summary>
/// The node's record of its open channels (Akka.Persistence; the journal and snapshot store are configuration: an
/// embedded SQLite file in the node process, any Akka.Persistence plugin elsewhere). A child of the node actor: the node
/// sends it <see cref="Record"/>s (fire and forget) and hears <see cref="JournalRecovered"/> once at start. Entries are
/// gathered for relay.persistence.flush-after (or until relay.persistence.batch-size) and persisted as one
/// <see cref="JournalBatch"/>, so thousands of opens a second are a few writes; every relay.persistence.snapshot-every
/// batches a snapshot of the open channels replaces the batches before it, which are deleted. Nothing per packet.
/// </summary>
internal sealed class ChannelJournalActor : ReceivePersistentActor, IWithTimers
{
    private readonly RelaySettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ChannelBook _book = new();
    private readonly List<JournalEntry> _pending = new();
    private int _batchesSinceSnapshot;

    public ITimerScheduler Timers { get; set; } = null!;

    public ChannelJournalActor(RelaySettings settings)
    {
        _settings = settings;
        if (settings.PersistenceJournalPlugin.Length > 0) JournalPluginId = settings.PersistenceJournalPlugin;
        if (settings.PersistenceSnapshotPlugin.Length > 0) SnapshotPluginId = settings.PersistenceSnapshotPlugin;

        Recover<SnapshotOffer>(o => { if (o.Snapshot is ChannelBookSnapshot s) _book.Restore(s); });
        Recover<JournalBatch>(b => { foreach (var e in b.Entries) _book.Apply(e); _batchesSinceSnapshot++; });
        Recover<RecoveryCompleted>(_ =>
        {
            _log.Info("Channel journal recovered: {Count} channel(s) to bring back", _book.Count);
            Context.Parent.Tell(new JournalRecovered(_book.Channels.ToList()));
            Self.Tell(WarmUp.Instance); // a command: written once recovery is over
        });
        // One empty batch is written as soon as the journal has recovered (while the node rebinds what it held, before
        // its "All set." as a rule): a store's first write prepares its whole write path (Akka.Persistence.Sql builds
        // and compiles its insert through linq2db: seconds of CPU for a node held to a fraction of a core), and that
        // belongs in the start-up, not in the first seconds of the node's calls (docs/benchmarks.md, "CPU quota: what
        // burst past the share"). If it fails, the journal stops as after any failed write; the node carries on.
        Command<WarmUp>(_ => PersistAsync(new JournalBatch([]), _ =>
            _batchesSinceSnapshot++)); // as a recovery counts it: an idle node that restarts often still snapshots (and deletes) in time

        Command<Record>(r =>
        {
            _pending.Add(r.Entry);
            if (_pending.Count >= _settings.PersistenceBatchSize) Flush();
            else if (!Timers.IsTimerActive(FlushDue.Instance)) Timers.StartSingleTimer(FlushDue.Instance, FlushDue.Instance, _settings.PersistenceFlushAfter);
        });
        Command<FlushDue>(_ => Flush());
        Command<FlushNow>(_ =>
        {
            var requester = Sender;
            Flush();
            // PersistAsync handlers run in order: this one runs once everything recorded before it is written
            DeferAsync(FlushNow.Instance, _ => requester.Tell(Flushed.Instance));
        });
        Command<SaveSnapshotSuccess>(s =>
        {
            // the snapshot holds everything: the batches before it and older snapshots can go
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning("Channel journal: snapshot failed ({Cause}); the batches stay until the next one", f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("Channel journal: deleting old batches failed: {Cause}", f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning("Channel journal: deleting old snapshots failed: {Cause}", f.Cause.Message));
    }

    public override string PersistenceId => $"actor-relay-channels-{_settings.NodeName}";

    public static Props Props(RelaySettings settings) => Akka.Actor.Props.Create(() => new ChannelJournalActor(settings));

    private void Flush()
    {
        Timers.Cancel(FlushDue.Instance);
        if (_pending.Count == 0) return;
        var batch = new JournalBatch(_pending.ToList());
        _pending.Clear();
        PersistAsync(batch, b =>
        {
            foreach (var e in b.Entries) _book.Apply(e);
            Context.Parent.Tell(new Written(b.Entries.Count));
            if (++_batchesSinceSnapshot < _settings.PersistenceSnapshotEvery) return;
            _batchesSinceSnapshot = 0;
            SaveSnapshot(_book.Snapshot());
        });
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "Channel journal: a write failed; channels keep relaying, but a restart may not bring back what it held");
        base.OnPersistFailure(cause, @event, sequenceNr); // stops the journal: the node carries on without it
    }

    /// <summary>Node → journal: record this.</summary>
    public sealed record Record(JournalEntry Entry);

    /// <summary>Node → journal: write what is pending now; <see cref="Flushed"/> follows once it is written (before the node stops).</summary>
    public sealed record FlushNow
    {
        public static readonly FlushNow Instance = new();
    }

    public sealed record Flushed
    {
        public static readonly Flushed Instance = new();
    }

    /// <summary>Journal → node: this many records are written.</summary>
    public sealed record Written(int Count);

    private sealed record FlushDue
    {
        public static readonly FlushDue Instance = new();
    }

    private sealed record WarmUp
    {
        public static readonly WarmUp Instance = new();
    }
}

/// <summary>Journal → node, once at start: the channels that were open when the node last stopped.</summary>
internal sealed record JournalRecovered(IReadOnlyList<RecordedChannel> Channels);
