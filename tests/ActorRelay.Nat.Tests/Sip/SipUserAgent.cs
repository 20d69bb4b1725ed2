using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>One stream a user agent offers or answers: its kind (audio, video), its SSRC and the SSRC it expects from the peer.</summary>
public sealed record StreamPlan(string Kind, uint Ssrc, uint PeerSsrc);

/// <summary>
/// A dialog of a <see cref="SipUserAgent"/> and its media. Mutated only on the agent's own thread; the test
/// reads its streams' counters and awaits <see cref="Confirmed"/> / <see cref="Ended"/>.
/// </summary>
public sealed class SipCall
{
    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal SipCall(string callId, bool isCaller, string localTag, string localUri, string remoteUri)
    {
        CallId = callId;
        IsCaller = isCaller;
        LocalTag = localTag;
        LocalUri = localUri;
        RemoteUri = remoteUri;
    }

    public string CallId { get; }
    public bool IsCaller { get; }
    public string LocalTag { get; }
    public string? RemoteTag { get; internal set; }
    internal string LocalUri { get; }
    internal string RemoteUri { get; }
    public string RemoteTarget { get; internal set; } = "";
    public IReadOnlyList<string> RouteSet { get; internal set; } = [];
    internal uint LocalCSeq { get; set; }
    internal uint RemoteCSeq { get; set; }
    internal ulong SdpVersion { get; set; }
    internal ulong SessionId { get; } = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
    internal PendingAnswer? Pending { get; set; }
    public List<RtpStream> Streams { get; } = new();
    /// <summary>The streams of the last session description received (the relay's addresses and ports).</summary>
    public IReadOnlyList<SdpMedia> RemoteMedia { get; internal set; } = [];
    /// <summary>The dialog is established: the caller sent its ACK, the callee received it.</summary>
    public Task Confirmed => _confirmed.Task;
    /// <summary>A BYE ended the dialog (sent and answered, or received).</summary>
    public Task Ended => _ended.Task;
    public bool HasEnded => _ended.Task.IsCompleted;

    internal void Confirm() => _confirmed.TrySetResult();
    internal void End() => _ended.TrySetResult();

    internal string FromValue => IsCaller ? $"<{LocalUri}>;tag={LocalTag}" : $"<{RemoteUri}>;tag={RemoteTag}";
    internal string ToValue => IsCaller ? $"<{RemoteUri}>" + (RemoteTag is null ? "" : $";tag={RemoteTag}") : $"<{LocalUri}>;tag={LocalTag}";
    internal string LocalFromValue => $"<{LocalUri}>;tag={LocalTag}";
    internal string RemoteToValue => $"<{RemoteUri}>;tag={RemoteTag}";

    public override string ToString() => $"{CallId} ({(IsCaller ? "caller" : "callee")})";
}

/// <summary>A 2xx to an INVITE this agent sent and is retransmitting until the ACK arrives (RFC 3261 13.3.1.4).</summary>
internal sealed class PendingAnswer(uint cseq, byte[] bytes, IPEndPoint to)
{
    public uint CSeq { get; } = cseq;
    public byte[] Bytes { get; } = bytes;
    public IPEndPoint To { get; } = to;
    public TimeSpan Interval { get; set; } = SipUserAgent.T1;
    public DateTime GiveUpAt { get; } = DateTime.UtcNow + 64 * SipUserAgent.T1;
}

/// <summary>
/// A small scripted SIP user agent over UDP (RFC 3261), for one user, on one socket the test created (inside a
/// client's network namespace, behind its NAT). Every request it starts goes to its outbound proxy; in-dialog
/// requests carry the dialog's route set (loose routing) and go to its first hop. It registers and keeps its
/// NAT mapping open (CRLF keep-alives, re-REGISTER at half the granted expiry), places calls, answers incoming
/// INVITEs with 180 and 200 + SDP per the plan the test gave it, sends re-INVITEs and BYEs, and answers them.
/// Retransmissions follow RFC 3261's UDP timers (A/B, E/F, the 2xx retransmission until ACK), so nothing here
/// depends on a lucky packet. All protocol state lives on the agent's own thread; the public methods post to it.
/// </summary>
public sealed class SipUserAgent : IDisposable
{
    public static readonly TimeSpan T1 = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan T2 = TimeSpan.FromSeconds(4);

    private readonly Socket _socket;
    private readonly IPEndPoint _proxy;
    private readonly string _domain;
    private readonly Func<MediaSockets> _openMediaSocket;
    private readonly Action<string> _log;
    private readonly ConcurrentQueue<Action> _commands = new();
    private readonly PriorityQueue<Action, DateTime> _timers = new();
    private readonly Dictionary<string, ClientTransaction> _clients = new();
    private readonly Dictionary<string, byte[]> _serverResponses = new();   // branch + method -> last response
    private readonly Dictionary<string, SipCall> _calls = new();            // Call-ID -> dialog
    private readonly Thread _thread;
    private volatile bool _stop;
    private TaskCompletionSource<SipCall> _incoming = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IReadOnlyList<StreamPlan>? _answerPlan;
    private uint _registerCSeq;
    private readonly string _registerCallId;

    public SipUserAgent(string user, Socket socket, IPEndPoint proxy, Func<MediaSockets> openMediaSocket, Action<string> log)
    {
        User = user;
        _socket = socket;
        _proxy = proxy;
        _domain = proxy.Address.ToString();
        _openMediaSocket = openMediaSocket;
        _log = log;
        Local = (IPEndPoint)socket.LocalEndPoint!;
        _registerCallId = NewId() + "@" + Local.Address;
        _thread = new Thread(Loop) { IsBackground = true, Name = $"sip {user}" };
        _thread.Start();
    }

    public string User { get; }
    public IPEndPoint Local { get; }
    /// <summary>Keep-alive period for the NAT mapping towards the proxy (well below conntrack's 30 s for unreplied UDP).</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(10);
    public int RequestedExpiry { get; init; } = 120;
    public int Registrations { get; private set; }

    private string Aor => $"sip:{User}@{_domain}";
    private string ContactUri => $"sip:{User}@{Local.Address}:{Local.Port}";

    // ---- public API (thread-safe) --------------------------------------------------------------

    public Task RegisterAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() => SendRegister(done));
        return done.Task;
    }

    /// <summary>The plan for the next incoming call: one stream per offered m= line, in order.</summary>
    public void AnswerNextWith(IReadOnlyList<StreamPlan> plan) => Volatile.Write(ref _answerPlan, plan);

    /// <summary>Completes when an incoming INVITE was answered with 200 OK (media is flowing from this side).</summary>
    public Task<SipCall> NextIncomingCall() => _incoming.Task;

    /// <summary>INVITE <paramref name="target"/>; completes when a 2xx arrived and was ACKed (media flowing from this side).</summary>
    public Task<SipCall> CallAsync(string target, IReadOnlyList<StreamPlan> plan)
    {
        var done = new TaskCompletionSource<SipCall>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() => StartCall(target, plan, done));
        return done.Task;
    }

    /// <summary>A re-INVITE with a new offer (optionally moving the audio stream to a new local port); completes once ACKed.</summary>
    public Task ReInviteAsync(SipCall call, bool newAudioPort)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() => StartReInvite(call, newAudioPort, done));
        return done.Task;
    }

    /// <summary>BYE; completes on its final response (any: the dialog is over either way).</summary>
    public Task HangupAsync(SipCall call)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() => StartBye(call, done));
        return done.Task;
    }

    private void Post(Action action) => _commands.Enqueue(action);

    // ---- the agent's thread ------------------------------------------------------------------

    private void Loop()
    {
        var buffer = new byte[SipMessage.MaxDatagram];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        Schedule(DateTime.UtcNow + KeepAlive, SendKeepAlive);
        while (!_stop)
        {
            while (_commands.TryDequeue(out var command)) Guard(command);
            var now = DateTime.UtcNow;
            while (_timers.TryPeek(out _, out var due) && due <= now) Guard(_timers.Dequeue());
            try
            {
                if (!_socket.Poll(10_000, SelectMode.SelectRead)) continue;
                while (_commands.TryDequeue(out var command)) Guard(command);   // posted while polling: they came first
                while (_socket.Available > 0)
                {
                    var n = _socket.ReceiveFrom(buffer, ref from);
                    if (n <= 4 && buffer.AsSpan(0, n).Trim("\r\n"u8).IsEmpty) continue;   // a keep-alive
                    SipMessage msg;
                    try { msg = SipMessage.Parse(buffer.AsSpan(0, n)); }
                    catch (SipParseException e) { _log($"{User}: dropped a datagram from {from}: {e.Message}"); continue; }
                    var source = (IPEndPoint)from;
                    Guard(() => { if (msg.IsRequest) OnRequest(msg, source); else OnResponse(msg); });
                }
            }
            catch (SocketException) { }
            catch (ObjectDisposedException) { return; }
        }
    }

    private void Guard(Action action)
    {
        try { action(); }
        catch (Exception e) { _log($"{User}: {e.GetType().Name}: {e.Message}"); }
    }

    private void Schedule(DateTime due, Action action) => _timers.Enqueue(action, due);

    private void Send(byte[] bytes, IPEndPoint to, string what)
    {
        try { _socket.SendTo(bytes, to); }
        catch (SocketException e) { _log($"{User}: sending {what} to {to} failed: {e.SocketErrorCode}"); }
    }

    private void Send(SipMessage msg, IPEndPoint to)
    {
        _log($"{User} -> {to}: {msg.StartLine} ({msg.CSeq.Method} {msg.CSeq.Number}, {msg.CallId})");
        Send(msg.ToBytes(), to, msg.StartLine);
    }

    private void SendKeepAlive()
    {
        Send("\r\n\r\n"u8.ToArray(), _proxy, "keep-alive");
        Schedule(DateTime.UtcNow + KeepAlive, SendKeepAlive);
    }

    // ---- client transactions (RFC 3261 17.1, UDP) -----------------------------------------------

    private sealed class ClientTransaction(SipMessage request, IPEndPoint to, Action<SipMessage> onFinal, Action<string> onFailure)
    {
        public SipMessage Request { get; } = request;
        public byte[] Bytes { get; } = request.ToBytes();
        public IPEndPoint To { get; } = to;
        public bool IsInvite => Request.Method == "INVITE";
        public Action<SipMessage> OnFinal { get; } = onFinal;
        public Action<string> OnFailure { get; } = onFailure;
        public bool Provisional { get; set; }
        public bool Completed { get; set; }
        public byte[]? Ack { get; set; }
        public IPEndPoint? AckTo { get; set; }
        public TimeSpan Interval { get; set; } = T1;
        public DateTime GiveUpAt { get; } = DateTime.UtcNow + 64 * T1;
    }

    private void StartTransaction(SipMessage request, IPEndPoint to, Action<SipMessage> onFinal, Action<string> onFailure)
    {
        var tx = new ClientTransaction(request, to, onFinal, onFailure);
        _clients[request.TopBranch] = tx;
        Send(request, to);
        Schedule(DateTime.UtcNow + tx.Interval, () => Retransmit(tx));
    }

    /// <summary>Timers A/B (INVITE: until a provisional response) and E/F (others: capped at T2).</summary>
    private void Retransmit(ClientTransaction tx)
    {
        if (tx.Completed) return;
        if (DateTime.UtcNow >= tx.GiveUpAt)
        {
            tx.Completed = true;
            tx.OnFailure($"{tx.Request.Method} timed out (no final response in 64*T1)");
            return;
        }
        if (tx.IsInvite && tx.Provisional)
        {
            Schedule(tx.GiveUpAt, () => Retransmit(tx));            // Timer B still runs; the next hop retransmits now
            return;
        }
        _log($"{User}: retransmitting {tx.Request.Method} {tx.Request.CSeq.Number}");
        Send(tx.Bytes, tx.To, tx.Request.Method!);
        tx.Interval = tx.IsInvite ? tx.Interval * 2 : TimeSpan.FromTicks(Math.Min((tx.Interval * 2).Ticks, T2.Ticks));
        if (!tx.IsInvite && tx.Provisional) tx.Interval = T2;
        Schedule(DateTime.UtcNow + tx.Interval, () => Retransmit(tx));
    }

    private void OnResponse(SipMessage response)
    {
        var (_, method) = response.CSeq;
        if (!_clients.TryGetValue(response.TopBranch, out var tx) || tx.Request.Method != method)
        {
            _log($"{User} <- stray {response.StartLine} ({method})");
            return;
        }
        if (response.StatusCode < 200)
        {
            tx.Provisional = true;
            return;
        }
        _log($"{User} <- {response.StartLine} ({method} {response.CSeq.Number})");
        if (tx.Completed)
        {
            // a retransmitted final response: repeat our ACK (for a 2xx, the one the dialog sent)
            if (tx.Ack is not null) Send(tx.Ack, tx.AckTo!, "ACK");
            return;
        }
        tx.Completed = true;
        if (tx.IsInvite && response.StatusCode >= 300)
        {
            var ack = NonSuccessAck(tx.Request, response);
            tx.Ack = ack.ToBytes();
            tx.AckTo = tx.To;
            Send(ack, tx.To);
        }
        tx.OnFinal(response);
    }

    /// <summary>The ACK of a non-2xx final response: part of the INVITE transaction (same branch, RFC 3261 17.1.1.3).</summary>
    private static SipMessage NonSuccessAck(SipMessage invite, SipMessage response)
    {
        var ack = SipMessage.Request("ACK", invite.RequestUri!)
            .Add("Via", invite["Via"]!)
            .Add("Max-Forwards", "70")
            .Add("From", invite["From"]!)
            .Add("To", response["To"]!)
            .Add("Call-ID", invite.CallId)
            .Add("CSeq", $"{invite.CSeq.Number} ACK");
        foreach (var route in invite.Values("Route")) ack.Add("Route", route);
        return ack;
    }

    private string Via() => $"SIP/2.0/UDP {Local.Address}:{Local.Port};branch=z9hG4bK{NewId()};rport";

    private static string NewId() => Convert.ToHexString(BitConverter.GetBytes(Random.Shared.NextInt64())).ToLowerInvariant();

    // ---- REGISTER --------------------------------------------------------------------------------

    private void SendRegister(TaskCompletionSource? done)
    {
        var request = SipMessage.Request("REGISTER", $"sip:{_domain}")
            .Add("Via", Via())
            .Add("Max-Forwards", "70")
            .Add("From", $"<{Aor}>;tag={NewId()}")
            .Add("To", $"<{Aor}>")
            .Add("Call-ID", _registerCallId)
            .Add("CSeq", $"{++_registerCSeq} REGISTER")
            .Add("Contact", $"<{ContactUri}>")
            .Add("Expires", RequestedExpiry.ToString(CultureInfo.InvariantCulture));
        StartTransaction(request, _proxy, response =>
        {
            if (response.StatusCode is < 200 or >= 300)
            {
                done?.TrySetException(new InvalidOperationException($"{User}: REGISTER answered {response.StartLine}"));
                return;
            }
            Registrations++;
            var granted = GrantedExpiry(response) ?? RequestedExpiry;
            Schedule(DateTime.UtcNow + TimeSpan.FromSeconds(Math.Max(5, granted / 2)), () => SendRegister(null));
            done?.TrySetResult();
        }, why => done?.TrySetException(new TimeoutException($"{User}: {why}")));
    }

    private int? GrantedExpiry(SipMessage response)
    {
        foreach (var contact in response.Values("Contact"))
            if (SipHeader.Uri(contact) == ContactUri && int.TryParse(SipHeader.Param(contact, "expires"), out var e)) return e;
        return int.TryParse(response["Expires"], out var h) ? h : null;
    }

    // ---- calls (UAC side) ---------------------------------------------------------------------

    private void StartCall(string target, IReadOnlyList<StreamPlan> plan, TaskCompletionSource<SipCall> done)
    {
        var call = new SipCall(NewId() + "@" + Local.Address, isCaller: true, NewId(), Aor, $"sip:{target}@{_domain}")
        {
            LocalCSeq = 1,
        };
        foreach (var p in plan) call.Streams.Add(new RtpStream($"{User}/{p.Kind}", _openMediaSocket(), p.Ssrc, p.PeerSsrc));
        _calls[call.CallId] = call;
        var invite = SipMessage.Request("INVITE", $"sip:{target}@{_domain}")
            .Add("Via", Via())
            .Add("Max-Forwards", "70")
            .Add("From", call.LocalFromValue)
            .Add("To", $"<{call.RemoteUri}>")
            .Add("Call-ID", call.CallId)
            .Add("CSeq", $"{call.LocalCSeq} INVITE")
            .Add("Contact", $"<{ContactUri}>")
            .Add("Content-Type", "application/sdp");
        invite.Body = Offer(call, plan.Select(p => p.Kind).ToList());
        StartTransaction(invite, _proxy, response =>
        {
            if (response.StatusCode >= 300)
            {
                _calls.Remove(call.CallId);
                foreach (var s in call.Streams) s.Dispose();
                done.TrySetException(new InvalidOperationException($"{User}: INVITE answered {response.StartLine}"));
                return;
            }
            call.RemoteTag = response.ToTag ?? throw new SipParseException("2xx without a To tag");
            call.RemoteTarget = SipHeader.Uri(response["Contact"] ?? throw new SipParseException("2xx without Contact"));
            call.RouteSet = response.Values("Record-Route").Reverse().ToList();
            Acknowledge(call, response);
            UseRemoteSdp(call, response.Body);
            foreach (var s in call.Streams) s.StartSending();
            call.Confirm();
            done.TrySetResult(call);
        }, why => done.TrySetException(new TimeoutException($"{User}: {why}")));
    }

    private string Offer(SipCall call, List<string> kinds)
    {
        var audio = call.Streams[kinds.IndexOf("audio")].LocalPort;
        int? video = kinds.Contains("video") ? call.Streams[kinds.IndexOf("video")].LocalPort : null;
        return Sdp.Write(Local.Address, call.SessionId, call.SdpVersion++, audio, video);
    }

    /// <summary>The ACK of a 2xx: a request of its own within the dialog (RFC 3261 13.2.2.4); kept to answer retransmitted 2xx.</summary>
    private void Acknowledge(SipCall call, SipMessage response)
    {
        var ack = InDialog(call, "ACK", response.CSeq.Number);
        var to = FirstHop(call);
        Send(ack, to);
        var tx = _clients[response.TopBranch];
        tx.Ack = ack.ToBytes();
        tx.AckTo = to;
    }

    private SipMessage InDialog(SipCall call, string method, uint cseq)
    {
        var msg = SipMessage.Request(method, call.RemoteTarget)
            .Add("Via", Via())
            .Add("Max-Forwards", "70")
            .Add("From", call.LocalFromValue)
            .Add("To", call.RemoteToValue)
            .Add("Call-ID", call.CallId)
            .Add("CSeq", $"{cseq} {method}");
        foreach (var route in call.RouteSet) msg.Add("Route", route);
        return msg;
    }

    /// <summary>Loose routing: the first Route, else the remote target (RFC 3261 12.2.1.1; strict routers are not supported).</summary>
    private static IPEndPoint FirstHop(SipCall call) =>
        SipHeader.UriEndPoint(call.RouteSet.Count > 0 ? SipHeader.Uri(call.RouteSet[0]) : call.RemoteTarget);

    private void UseRemoteSdp(SipCall call, string body)
    {
        var media = Sdp.Parse(body);
        if (media.Count != call.Streams.Count)
            throw new SipParseException($"{media.Count} m= lines for {call.Streams.Count} streams");
        call.RemoteMedia = media;
        for (var i = 0; i < media.Count; i++) call.Streams[i].SendTo(media[i].RtpEndPoint, media[i].RtcpEndPoint);
    }

    private void StartReInvite(SipCall call, bool newAudioPort, TaskCompletionSource done)
    {
        if (newAudioPort) call.Streams[0].MoveTo(_openMediaSocket());
        var invite = InDialog(call, "INVITE", ++call.LocalCSeq)
            .Add("Contact", $"<{ContactUri}>")
            .Add("Content-Type", "application/sdp");
        invite.Body = Offer(call, call.RemoteMedia.Select(m => m.Kind).ToList());
        StartTransaction(invite, FirstHop(call), response =>
        {
            if (response.StatusCode >= 300)
            {
                done.TrySetException(new InvalidOperationException($"{User}: re-INVITE answered {response.StartLine}"));
                return;
            }
            Acknowledge(call, response);
            UseRemoteSdp(call, response.Body);
            done.TrySetResult();
        }, why => done.TrySetException(new TimeoutException($"{User}: {why}")));
    }

    private void StartBye(SipCall call, TaskCompletionSource done)
    {
        foreach (var s in call.Streams) s.StopSending();
        var bye = InDialog(call, "BYE", ++call.LocalCSeq);
        StartTransaction(bye, FirstHop(call), response =>
        {
            call.End();
            if (response.StatusCode is >= 200 and < 300) done.TrySetResult();
            else done.TrySetException(new InvalidOperationException($"{User}: BYE answered {response.StartLine}"));
        }, why =>
        {
            call.End();
            done.TrySetException(new TimeoutException($"{User}: {why}"));
        });
    }

    // ---- requests (UAS side) ------------------------------------------------------------------

    private void OnRequest(SipMessage request, IPEndPoint source)
    {
        _log($"{User} <- {request.StartLine} ({request.CSeq.Method} {request.CSeq.Number}, {request.CallId})");
        if (request.Method == "ACK")
        {
            if (_calls.TryGetValue(request.CallId, out var acked) && acked.Pending?.CSeq == request.CSeq.Number)
            {
                acked.Pending = null;
                acked.Confirm();
            }
            return;
        }
        var key = request.TopBranch + " " + request.Method;
        if (_serverResponses.TryGetValue(key, out var last))
        {
            Send(last, ResponseTarget(request, source), "retransmitted response");
            return;
        }
        switch (request.Method)
        {
            case "INVITE" when request.ToTag is null:
                OnInvite(request, source);
                break;
            case "INVITE":
                OnReInvite(request, source);
                break;
            case "BYE":
                if (!_calls.TryGetValue(request.CallId, out var ended) || ended.RemoteTag != request.FromTag)
                {
                    Respond(request, source, 481, "Call/Transaction Does Not Exist");
                    break;
                }
                foreach (var s in ended.Streams) s.StopSending();
                Respond(request, source, 200, "OK");
                ended.End();
                break;
            case "OPTIONS":
            case "CANCEL":
                Respond(request, source, 200, "OK");
                break;
            default:
                Respond(request, source, 501, "Not Implemented");
                break;
        }
    }

    private void OnInvite(SipMessage invite, IPEndPoint source)
    {
        var plan = Interlocked.Exchange(ref _answerPlan, null);
        if (plan is null)
        {
            Respond(invite, source, 486, "Busy Here");
            return;
        }
        var offered = Sdp.Parse(invite.Body);
        if (offered.Count != plan.Count)
        {
            Respond(invite, source, 488, "Not Acceptable Here");
            return;
        }
        var call = new SipCall(invite.CallId, isCaller: false, NewId(), SipHeader.Uri(invite["To"]!), SipHeader.Uri(invite["From"]!))
        {
            RemoteTag = invite.FromTag,
            RemoteTarget = SipHeader.Uri(invite["Contact"] ?? throw new SipParseException("INVITE without Contact")),
            RouteSet = invite.Values("Record-Route").ToList(),
            RemoteCSeq = invite.CSeq.Number,
        };
        foreach (var p in plan) call.Streams.Add(new RtpStream($"{User}/{p.Kind}", _openMediaSocket(), p.Ssrc, p.PeerSsrc));
        _calls[call.CallId] = call;
        UseRemoteSdp(call, invite.Body);

        Respond(invite, source, 180, "Ringing", call);
        AnswerInvite(call, invite, source);
        foreach (var s in call.Streams) s.StartSending();
        _incoming.TrySetResult(call);
        _incoming = new TaskCompletionSource<SipCall>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private void OnReInvite(SipMessage invite, IPEndPoint source)
    {
        if (!_calls.TryGetValue(invite.CallId, out var call) || call.RemoteTag != invite.FromTag)
        {
            Respond(invite, source, 481, "Call/Transaction Does Not Exist");
            return;
        }
        call.RemoteCSeq = invite.CSeq.Number;
        if (invite["Contact"] is { } contact) call.RemoteTarget = SipHeader.Uri(contact);
        UseRemoteSdp(call, invite.Body);
        AnswerInvite(call, invite, source);
    }

    /// <summary>200 OK with this side's SDP, retransmitted (T1 doubling up to T2) until the ACK arrives.</summary>
    private void AnswerInvite(SipCall call, SipMessage invite, IPEndPoint source)
    {
        var ok = ResponseTo(invite, 200, "OK", call)
            .Add("Contact", $"<{ContactUri}>")
            .Add("Content-Type", "application/sdp");
        ok.Body = Offer(call, call.RemoteMedia.Select(m => m.Kind).ToList());
        var to = ResponseTarget(invite, source);
        var bytes = ok.ToBytes();
        _serverResponses[invite.TopBranch + " INVITE"] = bytes;
        Send(ok, to);
        var pending = new PendingAnswer(invite.CSeq.Number, bytes, to);
        call.Pending = pending;
        Schedule(DateTime.UtcNow + pending.Interval, () => RetransmitAnswer(call, pending));
    }

    private void RetransmitAnswer(SipCall call, PendingAnswer pending)
    {
        if (call.Pending != pending) return;                     // ACKed (or superseded)
        if (DateTime.UtcNow >= pending.GiveUpAt)
        {
            _log($"{User}: no ACK for the 2xx of {call.CallId} in 64*T1");
            call.Pending = null;
            return;
        }
        _log($"{User}: retransmitting 200 OK (INVITE {pending.CSeq})");
        Send(pending.Bytes, pending.To, "200 OK");
        pending.Interval = TimeSpan.FromTicks(Math.Min((pending.Interval * 2).Ticks, T2.Ticks));
        Schedule(DateTime.UtcNow + pending.Interval, () => RetransmitAnswer(call, pending));
    }

    private void Respond(SipMessage request, IPEndPoint source, int status, string reason, SipCall? call = null)
    {
        var response = ResponseTo(request, status, reason, call);
        var bytes = response.ToBytes();
        if (status >= 200) _serverResponses[request.TopBranch + " " + request.Method] = bytes;
        Send(response, ResponseTarget(request, source));
    }

    private SipMessage ResponseTo(SipMessage request, int status, string reason, SipCall? call)
    {
        var response = SipMessage.Response(status, reason);
        foreach (var via in request.Values("Via")) response.Add("Via", via);
        response.Add("From", request["From"]!);
        var to = request["To"]!;
        response.Add("To", call is not null && status > 100 ? SipHeader.WithTag(to, call.LocalTag) : to);
        response.Add("Call-ID", request.CallId);
        response.Add("CSeq", request["CSeq"]!);
        if (request.Method == "INVITE" && status is > 100 and < 300)
            foreach (var rr in request.Values("Record-Route")) response.Add("Record-Route", rr);
        return response;
    }

    /// <summary>Where a response goes (RFC 3261 18.2.2 with RFC 3581): the source when the top Via asks for rport,
    /// else its received address or its sent-by.</summary>
    private static IPEndPoint ResponseTarget(SipMessage request, IPEndPoint source)
    {
        var via = request["Via"]!;
        if (SipHeader.Param(via, "rport") is not null) return source;
        var sentBy = via.Split(';')[0].Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (sentBy.Length != 2) return source;
        var hostPort = SipHeader.UriEndPointOrNull("sip:" + sentBy[1]);
        var received = SipHeader.Param(via, "received");
        if (received is not null && IPAddress.TryParse(received, out var ip)) return new IPEndPoint(ip, hostPort?.Port ?? 5060);
        return hostPort ?? source;
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        foreach (var call in _calls.Values)
            foreach (var s in call.Streams) s.Dispose();
        _socket.Dispose();
    }
}
