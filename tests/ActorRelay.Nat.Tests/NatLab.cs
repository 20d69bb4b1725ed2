using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Xunit;

// Every lab puts 203.0.113.1 on a bridge in the root namespace, so two labs must never exist at once:
// the assembly's test classes (real-NAT latching, SIP calls) run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ActorRelay.Nat.Tests;

/// <summary>
/// A small internet built from network namespaces, removed again on Dispose (also after a failure):
/// <code>
///   root namespace (the relay, 203.0.113.1) ── bridge ar&lt;id&gt;br ──┬── NAT A  203.0.113.10 (MASQUERADE, keeps ports) ── client A 198.51.100.2
///                                                               ├── NAT B  203.0.113.20 (MASQUERADE --random-fully) ── client B 198.51.100.130
///                                                               └── attacker 203.0.113.66
/// </code>
/// Only TEST-NET addresses, only inside namespaces this lab made. Sockets for the clients and the attacker
/// are created inside their namespaces (setns on a dedicated thread) and used from the test.
/// </summary>
public sealed class NatLab : IDisposable
{
    public static readonly IPAddress RelayAddress = IPAddress.Parse("203.0.113.1");
    public static readonly IPAddress NatAPublic = IPAddress.Parse("203.0.113.10");
    public static readonly IPAddress NatBPublic = IPAddress.Parse("203.0.113.20");
    public static readonly IPAddress AttackerAddress = IPAddress.Parse("203.0.113.66");
    public static readonly IPAddress ClientAAddress = IPAddress.Parse("198.51.100.2");
    public static readonly IPAddress ClientBAddress = IPAddress.Parse("198.51.100.130");

    private readonly string _id;
    private readonly List<string> _namespaces = new();
    private readonly List<string> _rootLinks = new();

    public NatLab()
    {
        _id = Random.Shared.Next(0x1000, 0xFFFF).ToString("x");
        try { Build(); }
        catch { Dispose(); throw; }
    }

    public string NatA => $"ar{_id}-na";
    public string NatB => $"ar{_id}-nb";
    public string ClientA => $"ar{_id}-ca";
    public string ClientB => $"ar{_id}-cb";
    public string Attacker => $"ar{_id}-at";
    private string Bridge => $"ar{_id}br";

    /// <summary>Why these tests cannot run here, or null when they can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux";
        if (geteuid() != 0) return "network namespaces and iptables need root (run ./test.sh as root; CI does)";
        foreach (var tool in new[] { "ip", "iptables", "conntrack" })
            if (!new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Any(d => File.Exists(Path.Combine(d, tool))))
                return $"{tool} is not installed (scripts/nat-test-deps.sh installs it)";
        return null;
    }

    /// <summary>Skips with a reason where the lab cannot be built; under CI a missing lab is a failure.</summary>
    public static void RequireOrSkip()
    {
        var why = Unavailable();
        if (why is null) return;
        if (Environment.GetEnvironmentVariable("CI") == "true")
            throw new InvalidOperationException($"NAT tests cannot run under CI: {why}");
        Skip.If(true, why);
    }

    /// <summary>Removes namespaces and links of labs that died with an earlier run (prefix "ar", TEST-NET only).</summary>
    public static void SweepStale()
    {
        foreach (var ns in Run("ip", "netns", "list").Split('\n').Select(l => l.Split(' ')[0]))
            if (System.Text.RegularExpressions.Regex.IsMatch(ns, "^ar[0-9a-f]{4}-(na|nb|ca|cb|at)$")) TryRun("ip", "netns", "del", ns);
        foreach (var line in Run("ip", "-o", "link", "show").Split('\n'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"^\d+: (ar[0-9a-f]{4}(br|pa|pb|pt))[@:]");
            if (m.Success) TryRun("ip", "link", "del", m.Groups[1].Value);
        }
    }

    private void Build()
    {
        Run("ip", "link", "add", Bridge, "type", "bridge");
        _rootLinks.Add(Bridge);
        Run("ip", "addr", "add", "203.0.113.1/24", "dev", Bridge);
        Run("ip", "link", "set", Bridge, "up");

        foreach (var ns in new[] { NatA, NatB, ClientA, ClientB, Attacker })
        {
            Run("ip", "netns", "add", ns);
            _namespaces.Add(ns);
            In(ns, "ip", "link", "set", "lo", "up");
        }
        Public(NatA, "pa", "203.0.113.10/24");
        Public(NatB, "pb", "203.0.113.20/24");
        Public(Attacker, "pt", "203.0.113.66/24");
        Inside(NatA, ClientA, "198.51.100.1/25", "198.51.100.2/25", "198.51.100.1");
        Inside(NatB, ClientB, "198.51.100.129/25", "198.51.100.130/25", "198.51.100.129");
        foreach (var nat in new[] { NatA, NatB }) In(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        In(NatA, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE");
        In(NatB, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE", "--random-fully");
    }

    private void Public(string ns, string tag, string cidr)
    {
        var rootSide = $"ar{_id}{tag}";
        Run("ip", "link", "add", rootSide, "type", "veth", "peer", "name", "eth0", "netns", ns);
        _rootLinks.Add(rootSide);
        Run("ip", "link", "set", rootSide, "master", Bridge, "up");
        In(ns, "ip", "addr", "add", cidr, "dev", "eth0");
        In(ns, "ip", "link", "set", "eth0", "up");
    }

    private void Inside(string nat, string client, string natCidr, string clientCidr, string gateway)
    {
        In(nat, "ip", "link", "add", "in0", "type", "veth", "peer", "name", "eth0", "netns", client);
        In(nat, "ip", "addr", "add", natCidr, "dev", "in0");
        In(nat, "ip", "link", "set", "in0", "up");
        In(client, "ip", "addr", "add", clientCidr, "dev", "eth0");
        In(client, "ip", "link", "set", "eth0", "up");
        In(client, "ip", "route", "add", "default", "via", gateway);
    }

    /// <summary>Forgets every UDP mapping of a NAT, as a NAT reboot or a mapping timeout would.</summary>
    public void FlushConntrack(string nat) => TryRun("ip", "netns", "exec", nat, "conntrack", "-D", "-p", "udp");

    /// <summary>Runs a command inside one of this lab's namespaces (an iptables rule on a NAT, say); throws if it fails.</summary>
    public string Exec(string ns, params string[] args)
    {
        if (!_namespaces.Contains(ns)) throw new ArgumentException($"{ns} is not a namespace of this lab", nameof(ns));
        return Run(["ip", "netns", "exec", ns, .. args]);
    }

    /// <summary>A UDP socket created inside <paramref name="ns"/>, bound to <paramref name="bind"/>.</summary>
    public static Socket SocketIn(string ns, IPEndPoint bind)
    {
        Socket? socket = null;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{ns}");
                if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns({ns}) failed: errno {Marshal.GetLastPInvokeError()}");
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(bind);
                socket = s;
            }
            catch (Exception e) { error = e; }
        });
        t.Start();
        t.Join();
        return socket ?? throw new InvalidOperationException($"no socket in {ns}", error);
    }

    public void Dispose()
    {
        foreach (var ns in _namespaces) TryRun("ip", "netns", "del", ns);
        foreach (var link in _rootLinks.AsEnumerable().Reverse()) TryRun("ip", "link", "del", link);
    }

    private static void In(string ns, params string[] args) => Run(["ip", "netns", "exec", ns, .. args]);

    private static string Run(params string[] args)
    {
        var (code, output) = Exec(args);
        if (code != 0) throw new InvalidOperationException($"`{string.Join(' ', args)}` failed ({code}): {output}");
        return output;
    }

    private static void TryRun(params string[] args) => Exec(args);

    private static (int Code, string Output) Exec(string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args.Skip(1)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(20_000)) { p.Kill(true); return (-1, "timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private const int CloneNewNet = 0x40000000;

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    [DllImport("libc")]
    private static extern uint geteuid();
}
