using System.Net;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>
/// SIP calls between user agents behind two NATs through a real Kamailio whose rtpengine module drives the
/// relay under test over the NG protocol. Each variant (a subclass) names its relay; every variant must pass the
/// same tests: calls (some concurrent) with RTP both ways through the relay, a BYE that frees the relay's call,
/// re-INVITEs that keep media flowing, two streams (audio and video) in one call, either address flag set, and
/// an attacker spraying the relay's whole port range during calls who receives nothing. Each test builds its
/// own lab, relay and Kamailio and removes them (also after a failure, when the user agents' events, the NG
/// exchanges and both daemons' logs go to the test output). One test at a time (one class: xunit runs its tests
/// sequentially; the NAT lab also keeps the assembly's test classes from running side by side).
/// <para>A variant is a subclass naming its relay: <see cref="ActorRelayKamailioCallSpecs"/> (the product: under CI=true a
/// missing lab or Kamailio fails it, see <see cref="SipRequirements"/>; ./test.sh runs scripts/sip-test-deps.sh as
/// root before the tests) and <see cref="RtpengineKamailioCallSpecs"/> (the opt-in reference).</para>
/// </summary>
public abstract class KamailioCallSpecs(ITestOutputHelper output)
{
    /// <summary>How long one SIP step (register, call setup, BYE) may take.</summary>
    protected static readonly TimeSpan Step = TimeSpan.FromSeconds(10);
    /// <summary>How long one test's body may take.</summary>
    protected static readonly TimeSpan TestLimit = TimeSpan.FromSeconds(60);
    /// <summary>Packets each stream sends per measured phase: 2 s at 50 packets/s.</summary>
    protected const int PhasePackets = 100;
    protected const double MinDelivered = 0.90;

    protected readonly ITestOutputHelper Out = output;

    /// <summary>A new, not yet started instance of the relay under test.</summary>
    protected abstract IMediaRelayUnderTest CreateRelay();

    /// <summary>The reference variant's name (opt-in, see <see cref="SipRequirements"/>), or null for the product.</summary>
    protected abstract string? Reference { get; }

    /// <summary>Whether the relay under test is installed here.</summary>
    protected abstract bool RelayInstalled { get; }

    /// <summary>
    /// Runs after each test's body, when every call of the test has been hung up: a variant that can see inside its
    /// relay checks that nothing of the calls is left there (ActorRelay: every channel closed, every port free).
    /// </summary>
    protected virtual Task AssertRelayHoldsNothing(SipRig rig) => Task.CompletedTask;

    /// <summary>
    /// The rtpengine module's flags for offers and answers unless a test says otherwise: rewrite the SDP's origin
    /// and connection addresses (to the relay's), and tell the relay to take each side's address from where its
    /// SIP came from (its NAT's public address), not from the SDP (the client's private address).
    /// </summary>
    public const string DefaultFlags = "replace-origin replace-session-connection SIP-source-address";

    /// <summary>The flags this variant's Kamailio passes with offers and answers.</summary>
    protected virtual string Flags => DefaultFlags;

    /// <summary>Kamailio as the tests run it unless a test says otherwise.</summary>
    protected virtual KamailioOptions Options(string ngSocket) =>
        new() { NgSocket = ngSocket, OfferFlags = Flags, AnswerFlags = Flags };

    // ---- the tests ------------------------------------------------------------------------------

    [SkippableFact]
    public Task Ten_calls_five_at_a_time_carry_rtp_both_ways_through_the_relay_and_each_bye_frees_its_call() => WithRig(async rig =>
    {
        for (var wave = 0; wave < 2; wave++)
        {
            var calls = await Task.WhenAll(Enumerable.Range(wave * 5, 5).Select(i => Establish(rig, i)));
            var phases = await Task.WhenAll(calls.Select(c => Measure(rig, c, from: null)));
            for (var i = 0; i < calls.Length; i++) AssertDelivered(calls[i], phases[i]);
            await Task.WhenAll(calls.Select(c => HangUp(rig, c, byCaller: c.Index % 2 == 0)));
        }
        Assert.Empty(rig.Ng.List(Step));
    });

    [SkippableFact]
    public Task A_bye_frees_the_call_on_the_relay_and_kamailio_sent_offer_answer_and_delete_for_it() => WithRig(async rig =>
    {
        var call = await Establish(rig, 0);
        AssertDelivered(call, await Measure(rig, call, from: null));
        var id = call.CallA.CallId;
        Assert.Equal("ok", rig.Ng.Query(id, Step).Str("result"));
        Assert.Contains(id, rig.Ng.List(Step));

        await HangUp(rig, call, byCaller: true);
        Assert.DoesNotContain(id, rig.Ng.List(Step));

        var commands = rig.Tap.Exchanges.Where(e => e.Request.Str("call-id") == id).ToList();
        Assert.Equal(new[] { "offer", "answer", "delete" }, commands.Select(e => e.Command));
        Assert.All(commands, e => Assert.Equal("ok", e.Reply?.Str("result")));
        Out.WriteLine("NG exchanges of one call, as Kamailio's rtpengine module sent them:");
        foreach (var e in rig.Tap.Exchanges) Out.WriteLine($"  {e.Request}\n    => {e.Reply}");
    });

    [SkippableFact]
    public Task A_reinvite_moving_the_callers_audio_to_a_new_port_and_one_from_the_callee_keep_media_flowing() => WithRig(async rig =>
    {
        var call = await Establish(rig, 0);
        AssertDelivered(call, await Measure(rig, call, from: null), "before the re-INVITEs");

        var oldPort = call.CallA.Streams[0].LocalPort;
        var before = Snapshot(call);
        AssertDelivered(call, await Measure(rig, call, before,
            during: () => call.A.ReInviteAsync(call.CallA, newAudioPort: true).WaitAsync(Step)), "across the caller's re-INVITE to a new port");
        Assert.NotEqual(oldPort, call.CallA.Streams[0].LocalPort);

        before = Snapshot(call);
        AssertDelivered(call, await Measure(rig, call, before,
            during: () => call.B.ReInviteAsync(call.CallB, newAudioPort: false).WaitAsync(Step)), "across the callee's re-INVITE");

        var offers = rig.Tap.Exchanges.Count(e => e.Command == "offer" && e.Request.Str("call-id") == call.CallA.CallId);
        Assert.Equal(3, offers);
        await HangUp(rig, call, byCaller: false);
    });

    /// <summary>
    /// The spray starts once the three calls' media flows (each end heard its peer's RTP and RTCP: the relay has
    /// met both clients on all four of each call's ports) and runs through a measured phase and the BYEs. A spray
    /// that starts before a client's first packet is a harder case (a relay that learns from the first packet
    /// it sees loses it); the NAT lab's latching specs cover it at the channel level.
    /// </summary>
    [SkippableFact]
    public Task An_attacker_spraying_the_relays_whole_port_range_during_three_calls_receives_nothing() => WithRig(async rig =>
    {
        var calls = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Establish(rig, i)));
        var streams = calls.SelectMany(c => c.CallA.Streams.Concat(c.CallB.Streams)).ToList();
        await Until(() => streams.All(s => s.Counts.Received >= 5 && s.Rtcp.Received >= 1), "media and RTCP both ways in every call");
        var before = calls.Select(Snapshot).ToList();
        using var attacker = new RelaySprayer(rig.Lab, rig.Relay.PortMin, rig.Relay.PortMax);
        await Until(() => attacker.Rounds >= 5, "the spray to run");
        var roundsBefore = attacker.Rounds;
        var phases = await Task.WhenAll(calls.Select((c, i) => Measure(rig, c, before[i])));
        var rounds = attacker.Rounds - roundsBefore;
        await Task.WhenAll(calls.Select(c => HangUp(rig, c, byCaller: true)));
        attacker.Dispose();
        Out.WriteLine($"attacker: {attacker.Sent} packets over ports {rig.Relay.PortMin}-{rig.Relay.PortMax}, {rounds} rounds " +
                      $"during the measured phase; received {attacker.Bled}");
        foreach (var (source, count) in attacker.BledFrom) Out.WriteLine($"  attacker received {count} from {source}");
        Assert.True(rounds >= 10, $"the spray must have overlapped the measured media (only {rounds} rounds over the range)");
        Assert.Equal(0, attacker.Bled);
        for (var i = 0; i < calls.Length; i++) AssertDelivered(calls[i], phases[i]);      // and it injected nothing
    });

    [SkippableFact]
    public Task A_call_with_audio_and_video_carries_both_streams_both_ways() => WithRig(async rig =>
    {
        var call = await Establish(rig, 0, video: true);
        Assert.Equal(new[] { "audio", "video" }, call.CallA.RemoteMedia.Select(m => m.Kind));
        Assert.NotEqual(call.CallA.RemoteMedia[0].Port, call.CallA.RemoteMedia[1].Port);
        AssertDelivered(call, await Measure(rig, call, from: null));
        await HangUp(rig, call, byCaller: true);
    });

    [SkippableTheory]
    [InlineData("replace-origin replace-session-connection SIP-source-address")]
    [InlineData("replace-origin replace-session-connection trust-address")]
    public Task A_call_carries_media_whichever_address_the_relay_is_told_to_use(string flags) => WithRig(async rig =>
    {
        var call = await Establish(rig, 0);
        AssertDelivered(call, await Measure(rig, call, from: null));
        await HangUp(rig, call, byCaller: true);
        var offer = rig.Tap.Exchanges.First(e => e.Command == "offer").Request;
        Out.WriteLine($"offer with \"{flags}\": {offer}");
    }, ng => Options(ng) with { OfferFlags = flags, AnswerFlags = flags });

    /// <summary>
    /// NAT A loses the first INVITE (before Kamailio), the first 200 OK to it (after Kamailio had the relay's
    /// answer) and the first BYE: the user agents' retransmissions carry the call, and the relay copes with what
    /// Kamailio does about a retransmitted 200 OK (it runs the reply route again: a second NG answer).
    /// </summary>
    [SkippableFact]
    public Task Lost_invite_200_and_bye_are_retransmitted_and_the_call_still_carries_media() => WithRig(async rig =>
    {
        DropFirst(rig.Lab, "-i", "in0", "INVITE sip:");                 // alice -> Kamailio
        DropFirst(rig.Lab, "-o", "in0", "SIP/2.0 200 OK", "|20|INVITE|0d0a|"); // Kamailio -> alice: the 200 of the INVITE
        DropFirst(rig.Lab, "-i", "in0", "BYE sip:");                    // alice -> Kamailio
        var call = await Establish(rig, 0);
        AssertDelivered(call, await Measure(rig, call, Snapshot(call)));
        await HangUp(rig, call, byCaller: true);

        var events = rig.Events;
        foreach (var what in new[] { "alice0: retransmitting INVITE", "bob0: retransmitting 200 OK", "alice0: retransmitting BYE" })
            Assert.True(events.Any(e => e.Contains(what)), $"expected '{what}' (did the NAT drop it?)");
        var commands = rig.Tap.Exchanges.Where(e => e.Request.Str("call-id") == call.CallA.CallId).Select(e => e.Command).ToList();
        Out.WriteLine($"NG commands for the call: {string.Join(", ", commands)}");
        Assert.Equal("offer", commands.First());
        Assert.Equal("delete", commands.Last());
        Assert.Contains("answer", commands);
    });

    /// <summary>NAT A drops the first datagram through it (in0 = towards its client) that contains every one of
    /// <paramref name="strings"/> (text, or iptables hex-string syntax when it holds a '|').</summary>
    private static void DropFirst(NatLab lab, string direction, string device, params string[] strings)
    {
        var name = $"drop{Interlocked.Increment(ref _drops)}";
        var match = new List<string> { direction, device, "-p", "udp" };
        foreach (var s in strings) match.AddRange(["-m", "string", "--algo", "bm", s.Contains('|') ? "--hex-string" : "--string", s]);
        // the first match records its sender and is dropped; later ones from that sender pass (inserted above it)
        lab.Exec(lab.NatA, ["iptables", "-I", "FORWARD", .. match, "-m", "recent", "--name", name, "--set", "-j", "DROP"]);
        lab.Exec(lab.NatA, ["iptables", "-I", "FORWARD", .. match, "-m", "recent", "--name", name, "--rcheck", "-j", "ACCEPT"]);
    }

    private static int _drops;

    // ---- the steps --------------------------------------------------------------------------------

    protected sealed record CallPair(int Index, SipUserAgent A, SipUserAgent B, SipCall CallA, SipCall CallB);

    /// <summary>Counts of every stream, A's then B's.</summary>
    protected sealed record MediaSnapshot(RtpCounts[] A, RtpCounts[] B);

    /// <summary>A's user alice{index} behind NAT A calls bob{index} behind NAT B; both registered first.</summary>
    protected async Task<CallPair> Establish(SipRig rig, int index, bool video = false)
    {
        var a = rig.Agent('A', $"alice{index}");
        var b = rig.Agent('B', $"bob{index}");
        await Task.WhenAll(a.RegisterAsync(), b.RegisterAsync()).WaitAsync(Step);
        b.AnswerNextWith(Plan(index, 'B', video));
        var incoming = b.NextIncomingCall();
        var callA = await a.CallAsync(b.User, Plan(index, 'A', video)).WaitAsync(Step);
        var callB = await incoming.WaitAsync(Step);
        await callB.Confirmed.WaitAsync(Step);
        // both sides were told to send their media to the relay
        foreach (var m in callA.RemoteMedia.Concat(callB.RemoteMedia))
        {
            Assert.Equal(NatLab.RelayAddress, m.Address);
            Assert.InRange(m.Port, rig.Relay.PortMin, rig.Relay.PortMax);
        }
        rig.Note($"call {index} up: {callA.CallId}; A sends to {string.Join(", ", callA.RemoteMedia.Select(m => m.RtpEndPoint))}, " +
                 $"B to {string.Join(", ", callB.RemoteMedia.Select(m => m.RtpEndPoint))}");
        return new CallPair(index, a, b, callA, callB);
    }

    /// <summary>SSRCs that name the call, the side and the stream: A's audio of call 3 is a0000030.</summary>
    protected static IReadOnlyList<StreamPlan> Plan(int index, char side, bool video)
    {
        uint Ssrc(char s, int stream) => (s == 'A' ? 0xA0000000u : 0xB0000000u) | (uint)(index << 4) | (uint)stream;
        var other = side == 'A' ? 'B' : 'A';
        var plan = new List<StreamPlan> { new("audio", Ssrc(side, 0), Ssrc(other, 0)) };
        if (video) plan.Add(new StreamPlan("video", Ssrc(side, 1), Ssrc(other, 1)));
        return plan;
    }

    protected static MediaSnapshot Snapshot(CallPair c) =>
        new(c.CallA.Streams.Select(s => s.Counts).ToArray(), c.CallB.Streams.Select(s => s.Counts).ToArray());

    /// <summary>
    /// One phase of media: both sides send (at 50 packets/s) until every stream sent <see cref="PhasePackets"/>
    /// more than in <paramref name="from"/> (null: since the call began, so call setup and the relay's learning
    /// count too), running <paramref name="during"/> meanwhile; then both stop, the packets in flight arrive,
    /// and what each stream sent and heard in the phase is returned. Waits are deadlines, never the measure.
    /// </summary>
    protected async Task<MediaSnapshot> Measure(SipRig rig, CallPair c, MediaSnapshot? from, Func<Task>? during = null)
    {
        var start = from ?? new MediaSnapshot(new RtpCounts[c.CallA.Streams.Count], new RtpCounts[c.CallB.Streams.Count]);
        var all = c.CallA.Streams.Concat(c.CallB.Streams).ToList();
        var baseSent = start.A.Concat(start.B).Select(s => s.Sent).ToList();
        foreach (var s in all) s.StartSending();
        if (during is not null) await during();
        await Until(() => all.Select((s, i) => s.Counts.Sent - baseSent[i] >= PhasePackets).All(x => x), "every stream to send a phase",
            TimeSpan.FromSeconds(PhasePackets * 0.02 * 3 + 5));
        foreach (var s in all) s.StopSending();
        await Drain(c);
        var end = Snapshot(c);
        var phase = new MediaSnapshot(end.A.Zip(start.A, (e, s) => e - s).ToArray(), end.B.Zip(start.B, (e, s) => e - s).ToArray());
        rig.Note($"call {c.Index} phase: A {string.Join(" | ", phase.A)}; B {string.Join(" | ", phase.B)}");
        return phase;
    }

    /// <summary>Until every stream heard all its peer sent, or nothing more arrived for 300 ms (at most 3 s).</summary>
    private static async Task Drain(CallPair c)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        long last = -1;
        var quietSince = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            var snap = Snapshot(c);
            var heard = snap.A.Sum(s => s.Received + s.Foreign) + snap.B.Sum(s => s.Received + s.Foreign);
            var complete = snap.A.Zip(snap.B).All(p => p.First.Received >= p.Second.Sent && p.Second.Received >= p.First.Sent);
            if (complete) return;
            if (heard != last) { last = heard; quietSince = DateTime.UtcNow; }
            else if (DateTime.UtcNow - quietSince > TimeSpan.FromMilliseconds(300)) return;
            await Task.Delay(20);
        }
    }

    /// <summary>Each way of each stream delivered at least 90 % of what was sent, and nothing foreign arrived.</summary>
    protected void AssertDelivered(CallPair c, MediaSnapshot phase, string when = "")
    {
        for (var i = 0; i < phase.A.Length; i++)
        {
            var kind = c.CallA.RemoteMedia[i].Kind;
            Check($"{kind} A→B", phase.A[i].Sent, phase.B[i]);
            Check($"{kind} B→A", phase.B[i].Sent, phase.A[i]);
        }

        void Check(string way, long sent, RtpCounts heard)
        {
            var what = $"call {c.Index} {way} {when}: sent {sent}, {heard}";
            Out.WriteLine(what);
            Assert.True(sent >= PhasePackets, $"{what}: too few sent");
            Assert.True(heard.Received >= MinDelivered * sent, $"{what}: less than {MinDelivered:P0} delivered");
            Assert.True(heard.Foreign == 0, $"{what}: packets that are not the peer's arrived");
        }
    }

    /// <summary>BYE from the caller or the callee, the other side sees it, and the relay no longer knows the call.</summary>
    protected async Task HangUp(SipRig rig, CallPair c, bool byCaller)
    {
        if (byCaller) await c.A.HangupAsync(c.CallA).WaitAsync(Step);
        else await c.B.HangupAsync(c.CallB).WaitAsync(Step);
        await (byCaller ? c.CallB.Ended : c.CallA.Ended).WaitAsync(Step);
        await Until(() => rig.Ng.Query(c.CallA.CallId, Step).Str("result") != "ok", $"the relay to forget call {c.Index}");
        rig.Note($"call {c.Index} hung up by {(byCaller ? "caller" : "callee")}; the relay's query: {rig.Ng.Query(c.CallA.CallId, Step)}");
    }

    protected static async Task Until(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(5));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Set to 1: the rig's report (user agents' events, NG exchanges with whole SDPs, logs) goes to the output of passing tests too.</summary>
    public const string VerboseVariable = "ACTORRELAY_SIP_VERBOSE";

    /// <summary>Runs a test on a fresh rig; after a failure the rig's report goes to the test output.</summary>
    protected async Task WithRig(Func<SipRig, Task> body, Func<string, KamailioOptions>? options = null)
    {
        SipRequirements.RequireOrSkip(Reference, RelayInstalled);
        var started = DateTime.UtcNow;
        using var rig = SipRig.Start(CreateRelay(), options ?? Options);
        try
        {
            await body(rig).WaitAsync(TestLimit);      // a hung step fails the test (and the rig goes) instead of hanging the run
            await AssertRelayHoldsNothing(rig).WaitAsync(Step);
            Out.WriteLine($"done in {(DateTime.UtcNow - started).TotalSeconds:0.0} s (rig included)");
            if (Environment.GetEnvironmentVariable(VerboseVariable) == "1") Out.WriteLine(rig.Report(maxString: 4000));
        }
        catch (Exception e)
        {
            Out.WriteLine($"FAILED: {e.Message}");
            Out.WriteLine(rig.Report());
            throw;
        }
    }
}

/// <summary>
/// The harness against Debian's rtpengine, the reference NG relay. This proves the harness (Kamailio, the
/// user agents, the lab), not ActorRelay: it runs only when ACTORRELAY_SIP_REFERENCE=rtpengine is set (it is
/// skipped otherwise, also under CI=true, because nothing CI runs installs rtpengine; install it by hand:
/// apt-get install rtpengine-daemon).
/// </summary>
public sealed class RtpengineKamailioCallSpecs(ITestOutputHelper output) : KamailioCallSpecs(output)
{
    protected override IMediaRelayUnderTest CreateRelay() => new RtpengineRelay();
    protected override string? Reference => "rtpengine";

    /// <summary>
    /// rtpengine forwards what reaches a port from any source unless told strict-source (then only from the
    /// endpoint it learned); without it the attacker's packets reach the clients and, on the RTCP ports, bounce
    /// back to the attacker. It learns immediately (see <see cref="RtpengineRelay"/>).
    /// </summary>
    protected override string Flags => DefaultFlags + " strict-source";
    protected override bool RelayInstalled => RtpengineRelay.Installed;
}
