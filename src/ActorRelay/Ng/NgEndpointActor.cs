using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using ActorRelay.Latching;

namespace ActorRelay.Ng;

/// <summary>
/// One NG listen address: owns its UDP socket (bound by <see cref="NgEndpoint.Start"/>, handed over here), reads it
/// with a receive loop that drops datagrams from senders outside relay.ng.allow and tells the actor the others, and
/// answers each request exactly once: ping and malformed requests itself, the rest through the call book. A
/// retransmission (same sender and cookie) gets the reply sent before, without a second action (<see cref="NgReplyCache"/>);
/// one that arrives while its request is still being acted on is dropped (the proxy retries once more and then
/// gets the reply). The NG rate is a SIP proxy's, so clarity comes before speed here: one actor message per datagram.
/// </summary>
internal sealed class NgEndpointActor : ReceiveActor, IWithTimers
{
    private readonly Socket _socket;
    private readonly IPEndPoint _local;
    private readonly IActorRef _book;
    private readonly NgSettings _settings;
    private readonly RelayClock _clock;
    private readonly NgReplyCache _cache;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, Pending> _pending = new();
    private readonly EndPoint _anyRemote;
    private long _token;
    private long _refused;
    private long _refusedLogged;

    private sealed record Pending(IPEndPoint Source, string Key, string Cookie, string Command, long StartedMs);

    private sealed record Sweep
    {
        public static readonly Sweep Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public NgEndpointActor(Socket socket, IActorRef book, NgSettings settings, RelayClock clock)
    {
        _socket = socket;
        _local = (IPEndPoint)socket.LocalEndPoint!;
        _anyRemote = new IPEndPoint(_local.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        _book = book;
        _settings = settings;
        _clock = clock;
        _cache = new NgReplyCache(settings.ReplyCacheEntries, settings.ReplyCacheMaxAge, settings.ReplyCacheMaxBytes);
        Receive<NgDatagram>(OnDatagram);
        Receive<NgCommandReply>(OnReply);
        Receive<Sweep>(_ => OnSweep());
        Receive<NgReceiveFailed>(f =>
        {
            _log.Error(f.Error, "NG endpoint {Local}: receiving failed; restarting the receive loop", _local);
            StartReceiving();
        });
    }

    public static Props Props(Socket socket, IActorRef book, NgSettings settings, RelayClock clock) =>
        Akka.Actor.Props.Create(() => new NgEndpointActor(socket, book, settings, clock));

    protected override void PreStart()
    {
        _log.Info("NG endpoint listening on udp:{Local} (allowed senders: {Allow}; receive buffer {ReceiveBuffer} bytes)",
            _local, string.Join(", ", _settings.Allow), _socket.ReceiveBufferSize);
        if (_settings.ReceiveBuffer > 0 && _socket.ReceiveBufferSize < _settings.ReceiveBuffer)
            _log.Warning("NG endpoint {Local}: the kernel gave a receive buffer of {ReceiveBuffer} bytes, less than relay.ng.receive-buffer " +
                         "({Asked}); a burst of requests beyond it is dropped and retransmitted by the proxy a second later (raise net.core.rmem_max)",
                _local, _socket.ReceiveBufferSize, _settings.ReceiveBuffer);
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, TimeSpan.FromSeconds(1));
        StartReceiving();
    }

    protected override void PostStop() => _socket.Dispose(); // ends the receive loop

    private void StartReceiving()
    {
        var self = Self;
        _ = Task.Run(() => ReceiveLoop(self));
    }

    private async Task ReceiveLoop(IActorRef self)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(65_536);
        while (true)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, _anyRemote);
            }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize) { continue; }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted) { return; }
            catch (Exception e)
            {
                self.Tell(new NgReceiveFailed(e));
                return;
            }
            var source = (IPEndPoint)received.RemoteEndPoint;
            if (!Allowed(source))
            {
                Interlocked.Increment(ref _refused);
                continue;
            }
            self.Tell(new NgDatagram(buffer.AsSpan(0, received.ReceivedBytes).ToArray(), source));
        }
    }

    private bool Allowed(IPEndPoint source)
    {
        var packetSource = PacketSource.From(source);
        foreach (var filter in _settings.Allow)
            if (filter.Matches(packetSource)) return true;
        return false;
    }

    private void OnDatagram(NgDatagram d)
    {
        try
        {
            switch (NgFraming.Read(d.Bytes))
            {
                case NgUnanswerableFrame u:
                    _log.Warning("NG endpoint {Local}: dropped a datagram from {Source} that cannot be answered: {Why}", _local, d.Source, u.Reason);
                    return;
                case NgMalformedFrame m:
                    _log.Warning("NG endpoint {Local}: malformed request {Cookie} from {Source}: {Detail}", _local, m.Cookie, d.Source, m.Detail);
                    Send(d.Source, NgFraming.Frame(m.Cookie, NgReplies.Error(m.ErrorReason)));
                    return;
                case NgRequestFrame f:
                    OnRequest(f, d.Source);
                    return;
            }
        }
        catch (Exception e)
        {
            _log.Error(e, "NG endpoint {Local}: a datagram from {Source} could not be handled", _local, d.Source);
        }
    }

    private void OnRequest(NgRequestFrame frame, IPEndPoint source)
    {
        var key = $"{source} {frame.Cookie}";
        var now = _clock.NowMs;
        var lookup = _cache.Begin(key, now);
        if (lookup.Status == NgCookieStatus.Answered)
        {
            _log.Debug("NG endpoint {Local}: retransmission {Cookie} from {Source}: the same reply again", _local, frame.Cookie, source);
            Send(source, lookup.Reply);
            return;
        }
        if (lookup.Status == NgCookieStatus.InProgress)
        {
            _log.Debug("NG endpoint {Local}: retransmission {Cookie} from {Source} while its request is acted on: dropped", _local, frame.Cookie, source);
            return;
        }
        if (!NgRequest.TryParse(frame.Body, out var request, out var error))
        {
            _log.Warning("NG endpoint {Local}: request {Cookie} from {Source} refused: {Reason}", _local, frame.Cookie, source, error!.Reason);
            Answer(source, key, frame.Cookie, NgReplies.Error(error.Reason));
            return;
        }
        _log.Debug("NG endpoint {Local}: {Command} {Cookie} from {Source} (call {Call})", _local, request.CommandName, frame.Cookie, source, request.CallId);
        switch (request.Command)
        {
            case NgCommand.Ping:
                Answer(source, key, frame.Cookie, NgReplies.Pong());
                return;
            case NgCommand.Unknown:
                _log.Warning("NG endpoint {Local}: unrecognised command \"{Command}\" from {Source}", _local, request.CommandName, source);
                Answer(source, key, frame.Cookie, NgReplies.Error(NgErrors.UnrecognizedCommand));
                return;
        }
        var token = ++_token;
        _pending[token] = new Pending(source, key, frame.Cookie, request.CommandName, now);
        _book.Tell(new NgCommandRequest(request, token, frame.Body));
    }

    private void OnReply(NgCommandReply reply)
    {
        if (!_pending.Remove(reply.Token, out var p)) return; // answered by the sweep already
        Answer(p.Source, p.Key, p.Cookie, reply.Reply);
    }

    private void Answer(IPEndPoint to, string key, string cookie, BDictionary reply)
    {
        var framed = NgFraming.Frame(cookie, reply);
        _cache.Complete(key, framed, _clock.NowMs);
        Send(to, framed);
    }

    private void Send(IPEndPoint to, ReadOnlyMemory<byte> datagram)
    {
        try
        {
            _socket.SendTo(datagram.Span, SocketFlags.None, to);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _log.Warning("NG endpoint {Local}: the reply to {Source} could not be sent: {Error}", _local, to, e.Message);
        }
    }

    /// <summary>Once a second: answers requests the book left unanswered far too long (a safety net), and reports refused senders.</summary>
    private void OnSweep()
    {
        var limit = (long)(_settings.NodeTimeout.TotalMilliseconds * 3);
        var now = _clock.NowMs;
        foreach (var (token, p) in _pending.Where(p => now - p.Value.StartedMs > limit).ToList())
        {
            _pending.Remove(token);
            _log.Error("NG endpoint {Local}: {Command} {Cookie} from {Source} got no answer within {Limit} ms", _local, p.Command, p.Cookie, p.Source, limit);
            Answer(p.Source, p.Key, p.Cookie, NgReplies.Error("Internal error: no answer in time"));
        }
        var refused = Interlocked.Read(ref _refused);
        if (refused == _refusedLogged) return;
        _log.Warning("NG endpoint {Local}: refused {Count} datagrams from senders outside relay.ng.allow ({Total} since start)",
            _local, refused - _refusedLogged, refused);
        _refusedLogged = refused;
    }
}
