using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ActorRelay.Nat.Tests.Sip;

/// <summary>How the generated kamailio.cfg hands media to the NG relay.</summary>
public sealed record KamailioOptions
{
    /// <summary>Where Kamailio listens for SIP (UDP); the lab's public address.</summary>
    public IPEndPoint Listen { get; init; } = new(NatLab.RelayAddress, 5060);

    /// <summary>The rtpengine module's rtpengine_sock: the NG address, e.g. udp:127.0.0.1:2223.</summary>
    public required string NgSocket { get; init; }

    /// <summary>Flags of rtpengine_offer (and rtpengine_manage on offers). "trust-address" makes the relay use the
    /// SDP's address; without it (or with "SIP-source-address") it uses the address the SIP message came from.</summary>
    public string OfferFlags { get; init; } = "replace-origin replace-session-connection";

    /// <summary>Flags of rtpengine_answer (and rtpengine_manage on answers).</summary>
    public string AnswerFlags { get; init; } = "replace-origin replace-session-connection";

    /// <summary>rtpengine_manage everywhere instead of rtpengine_offer / rtpengine_answer / rtpengine_delete.</summary>
    public bool UseManage { get; init; }

    public int Children { get; init; } = 2;
}

/// <summary>
/// A real Kamailio (Debian's package) as the SIP proxy of the lab, in the root namespace on the lab's public
/// address: registrar and location in memory (no authentication), NAT handling for clients behind NAT
/// (force_rport, fix_nated_register, fix_nated_contact), record-routing, and media through an NG relay with
/// rtpengine_offer / rtpengine_answer / rtpengine_delete. The kamailio.cfg is generated into a temp directory
/// (<see cref="Config"/>); Kamailio runs in the foreground (-DD -E) and is stopped on Dispose, also after a failed
/// test; its log is in <see cref="Log"/>.
/// </summary>
public sealed class KamailioProxy : IDisposable
{
    public const string Binary = "/usr/sbin/kamailio";
    public const string ModulePath = "/usr/lib/x86_64-linux-gnu/kamailio/modules";

    private readonly ManagedProcess _process;
    private readonly string _dir;

    private KamailioProxy(KamailioOptions options)
    {
        Options = options;
        _dir = Directory.CreateTempSubdirectory(ManagedProcess.Marker + "kamailio-").FullName;
        Config = Render(options);
        var cfg = Path.Combine(_dir, "kamailio.cfg");
        File.WriteAllText(cfg, Config);
        _process = new ManagedProcess("kamailio", Binary,
            ["-f", cfg, "-DD", "-E", "-Y", _dir, "-w", _dir, "-m", "64", "-M", "8", "-L", ModulePath]);
    }

    public KamailioOptions Options { get; }
    public IPEndPoint Address => Options.Listen;
    public string Config { get; }
    public string Log => _process.Log;

    public static bool Installed => File.Exists(Binary) && File.Exists(Path.Combine(ModulePath, "rtpengine.so"));

    /// <summary>Starts Kamailio and returns once it answers an OPTIONS ping; throws (with its log) if it cannot.</summary>
    public static KamailioProxy Start(KamailioOptions options)
    {
        var proxy = new KamailioProxy(options);
        try
        {
            proxy.AwaitReady(TimeSpan.FromSeconds(15));
            return proxy;
        }
        catch
        {
            proxy.Dispose();
            throw;
        }
    }

    private void AwaitReady(TimeSpan within)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(Address.Address, 0));
        var local = (IPEndPoint)probe.LocalEndPoint!;
        var options = SipMessage.Request("OPTIONS", $"sip:{Address.Address}:{Address.Port}")
            .Add("Via", $"SIP/2.0/UDP {local.Address}:{local.Port};branch=z9hG4bKprobe{Environment.TickCount64};rport")
            .Add("Max-Forwards", "70")
            .Add("From", $"<sip:probe@{local.Address}>;tag=probe")
            .Add("To", $"<sip:{Address.Address}>")
            .Add("Call-ID", $"probe-{Guid.NewGuid():N}")
            .Add("CSeq", "1 OPTIONS")
            .ToBytes();
        var buffer = new byte[SipMessage.MaxDatagram];
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"kamailio exited ({_process.ExitCode}) while starting:\n{Log}\n--- kamailio.cfg ---\n{Config}");
            probe.SendTo(options, Address);
            if (!probe.Poll(200_000, SelectMode.SelectRead)) continue;
            try
            {
                var n = probe.Receive(buffer);
                if (SipMessage.Parse(buffer.AsSpan(0, n)).StatusCode == 200) return;
            }
            catch (SocketException) { }                 // not listening yet
            catch (SipParseException) { }
        }
        throw new InvalidOperationException($"kamailio did not answer OPTIONS within {within.TotalSeconds} s:\n{Log}");
    }

    /// <summary>The generated configuration (public so a test can show it).</summary>
    public static string Render(KamailioOptions o)
    {
        string Offer(string flags) => o.UseManage ? $"rtpengine_manage(\"{flags}\")" : $"rtpengine_offer(\"{flags}\")";
        string Answer(string flags) => o.UseManage ? $"rtpengine_manage(\"{flags}\")" : $"rtpengine_answer(\"{flags}\")";
        var delete = o.UseManage ? "rtpengine_manage()" : "rtpengine_delete()";
        var sb = new StringBuilder();
        sb.Append($$"""
            #!KAMAILIO
            # Generated by ActorRelay's SIP tests: a registrar and record-routing proxy for clients behind NAT,
            # media through an NG relay. Not for production: no authentication, no database.

            debug=2
            log_stderror=yes
            children={{o.Children}}
            auto_aliases=no
            dns=no
            rev_dns=no
            use_dns_cache=no
            listen=udp:{{o.Listen.Address}}:{{o.Listen.Port}}

            loadmodule "tm.so"
            loadmodule "sl.so"
            loadmodule "rr.so"
            loadmodule "pv.so"
            loadmodule "maxfwd.so"
            loadmodule "usrloc.so"
            loadmodule "registrar.so"
            loadmodule "textops.so"
            loadmodule "siputils.so"
            loadmodule "xlog.so"
            loadmodule "nathelper.so"
            loadmodule "rtpengine.so"

            modparam("usrloc", "db_mode", 0)
            modparam("registrar", "received_avp", "$avp(RECEIVED)")
            modparam("nathelper", "received_avp", "$avp(RECEIVED)")
            modparam("rtpengine", "rtpengine_sock", "{{o.NgSocket}}")

            request_route {
                if (!mf_process_maxfwd_header("10")) {
                    sl_send_reply("483", "Too Many Hops");
                    exit;
                }
                # replies go back to where the request came from (the client's NAT mapping)
                force_rport();

                if (is_method("OPTIONS") && uri == myself && $rU == $null) {
                    sl_send_reply("200", "Keepalive");
                    exit;
                }
                if (has_totag()) {
                    route(WITHINDLG);
                    exit;
                }
                if (is_method("CANCEL")) {
                    if (t_check_trans()) route(RELAY);
                    exit;
                }
                if (is_method("ACK")) {
                    if (t_check_trans()) t_relay();
                    exit;
                }
                # absorbs retransmissions of requests already being handled
                t_check_trans();

                if (is_method("REGISTER")) {
                    # Contact is the client's private address: store where the REGISTER really came from
                    if (nat_uac_test("19")) fix_nated_register();
                    if (!save("location")) sl_reply_error();
                    exit;
                }
                if ($rU == $null) {
                    sl_send_reply("484", "Address Incomplete");
                    exit;
                }
                if (is_method("INVITE")) record_route();
                if (!lookup("location")) {
                    sl_send_reply("404", "Not Found");
                    exit;
                }
                route(RELAY);
            }

            route[WITHINDLG] {
                if (loose_route()) {
                    if (is_method("BYE")) {
                        xlog("L_INFO", "BYE $ci: deleting the media session\n");
                        {{delete}};
                    }
                    route(RELAY);
                    exit;
                }
                if (is_method("ACK")) {
                    if (t_check_trans()) t_relay();
                    exit;
                }
                sl_send_reply("404", "Not here");
            }

            route[RELAY] {
                if (is_method("INVITE")) {
                    if (nat_uac_test("19")) fix_nated_contact();
                    if (has_body("application/sdp")) {
                        if (!{{Offer(o.OfferFlags)}}) {
                            xlog("L_ERR", "NG offer failed for $ci\n");
                            sl_send_reply("503", "Media Relay Unavailable");
                            exit;
                        }
                    }
                    t_on_reply("REPLY");
                    t_on_failure("FAILED");
                }
                if (!t_relay()) sl_reply_error();
                exit;
            }

            onreply_route[REPLY] {
                # every user agent of the lab is behind a NAT; a reply's top Via is Kamailio's own, so there
                # is nothing to test it by: its Contact becomes the address the reply came from
                if (is_present_hf("Contact")) fix_nated_contact();
                if (has_body("application/sdp")) {
                    if (!{{Answer(o.AnswerFlags)}}) xlog("L_ERR", "NG answer failed for $ci\n");
                }
            }

            failure_route[FAILED] {
                {{delete}};
            }

            """);
        return sb.ToString();
    }

    public void Dispose()
    {
        _process.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
