using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace ActorRelay.Channels;

/// <summary>
/// The mailbox of channel, side and NG call actors (<c>relay.channel-mailbox</c>): a node holds thousands of them and
/// each receives a handful of messages in its life, so its queue starts empty and grows only when messages wait.
/// Akka's default queue (a ConcurrentQueue) allocates a 32-slot segment, about 1 KB, for every actor up front: three
/// per channel, one per NG call. Supports stashing (<see cref="IUnboundedDequeBasedMessageQueueSemantics"/>).
/// </summary>
public sealed class CompactMailbox : MailboxType, IProducesMessageQueue<CompactMessageQueue>
{
    public const string ConfigPath = "relay.channel-mailbox";

    /// <summary>The deployment of channel and side actors: this mailbox, built once (see <see cref="ActorProps"/>).</summary>
    public static Deploy Deployment { get; } = ActorProps.WithMailbox(ConfigPath);

    public CompactMailbox(Akka.Actor.Settings settings, Config config) : base(settings, config) { }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CompactMessageQueue();
}

/// <summary>
/// An unbounded double-ended queue behind a lock: a ring buffer that is empty until the first message, doubles
/// when full and is released again once drained after a burst. Enqueued from any thread; dequeued by the
/// mailbox; <see cref="EnqueueFirst"/> by the owning actor when it unstashes.
/// </summary>
public sealed class CompactMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    private const int ShrinkAbove = 16;
    private Envelope[] _items = [];
    private int _head;
    private int _count;

    public bool HasMessages => Volatile.Read(ref _count) > 0;
    public int Count => Volatile.Read(ref _count);

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (this)
        {
            if (_count == _items.Length) Grow();
            _items[(_head + _count) % _items.Length] = envelope;
            Volatile.Write(ref _count, _count + 1);
        }
    }

    public void EnqueueFirst(Envelope envelope)
    {
        lock (this)
        {
            if (_count == _items.Length) Grow();
            _head = (_head - 1 + _items.Length) % _items.Length;
            _items[_head] = envelope;
            Volatile.Write(ref _count, _count + 1);
        }
    }

    public bool TryDequeue(out Envelope envelope)
    {
        lock (this)
        {
            if (_count == 0)
            {
                envelope = default;
                return false;
            }
            envelope = _items[_head];
            _items[_head] = default;
            _head = (_head + 1) % _items.Length;
            Volatile.Write(ref _count, _count - 1);
            if (_count == 0 && _items.Length > ShrinkAbove)
            {
                _items = [];
                _head = 0;
            }
            return true;
        }
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
    }

    private void Grow()
    {
        var bigger = new Envelope[Math.Max(4, _items.Length * 2)];
        for (var i = 0; i < _count; i++) bigger[i] = _items[(_head + i) % _items.Length];
        _items = bigger;
        _head = 0;
    }
}
