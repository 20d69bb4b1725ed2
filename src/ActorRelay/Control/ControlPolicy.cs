using System.Net;
using Akka.Actor;
using Akka.Configuration;

namespace ActorRelay.Control;

/// <summary>
/// Who may use the node's control plane, and for what (relay.control). Pure: decides from the sender's ActorSystem
/// address. The node's own process (a local sender) may do everything. Over Akka.Remote:
/// <list type="bullet">
/// <item>only systems matching <c>allow</c> may use it at all (default: loopback only);</item>
/// <item>a channel belongs to the system that opened it: only that system (same name on the same host, any port, so a
///   restarted supervisor picks its calls up again) or an administrator may close, re-signal, query or subscribe to it;</item>
/// <item>privileged commands (drain, a forced garbage collection, node-wide subscriptions, listing every channel) are
///   for <c>administrators</c> only (default: none over the wire).</item>
/// </list>
/// A sender's address is what Akka.Remote carries; it authenticates nobody. Where the network is not trusted, mutual
/// TLS (relay.remote.tls) decides who can connect at all; these rules then apply among those.
/// </summary>
public sealed class ControlPolicy
{
    private readonly IReadOnlyList<SystemPattern> _allow, _administrators;

    public ControlPolicy(IEnumerable<string> allow, IEnumerable<string> administrators)
    {
        _allow = allow.Select(p => SystemPattern.Parse(p, "relay.control.allow")).ToList();
        _administrators = administrators.Select(p => SystemPattern.Parse(p, "relay.control.administrators")).ToList();
    }

    /// <summary>Everyone allowed, nobody remote an administrator.</summary>
    public static readonly ControlPolicy Open = new(["*"], []);

    public bool IsAllowed(Address sender) => IsLocal(sender) || _allow.Any(p => p.Matches(sender)) || IsAdministrator(sender);

    public bool IsAdministrator(Address sender) => IsLocal(sender) || _administrators.Any(p => p.Matches(sender));

    /// <summary>True when <paramref name="sender"/> may act on a channel opened by <paramref name="owner"/>.</summary>
    public bool MayUse(Address sender, Address owner) => IsAdministrator(sender) || SameSupervisor(sender, owner);

    /// <summary>The same supervisor: the same system name on the same host (its remoting port may change on a restart).</summary>
    public static bool SameSupervisor(Address a, Address b) =>
        a.System == b.System && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && IsLocal(a) == IsLocal(b);

    public static bool IsLocal(Address a) => a.HasLocalScope;

    /// <summary>
    /// One entry of allow or administrators: <c>*</c> (anyone), <c>HOST</c> (any system on that host),
    /// <c>SYSTEM@HOST</c>, or <c>SYSTEM@HOST:PORT</c>; HOST is an address or a name (IPv6 in brackets with a port).
    /// </summary>
    public sealed record SystemPattern(string? System, string? Host, int? Port)
    {
        public bool Matches(Address a)
        {
            if (IsLocal(a)) return false;
            if (System is not null && System != a.System) return false;
            if (Port is not null && Port != a.Port) return false;
            return Host is null || SameHost(Host, a.Host ?? "");
        }

        private static bool SameHost(string pattern, string host)
        {
            if (string.Equals(pattern, host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase)) return true;
            return IPAddress.TryParse(pattern, out var p) && IPAddress.TryParse(host.Trim('[', ']'), out var h) &&
                   (p.IsIPv4MappedToIPv6 ? p.MapToIPv4() : p).Equals(h.IsIPv4MappedToIPv6 ? h.MapToIPv4() : h);
        }

        public static SystemPattern Parse(string text, string key)
        {
            var t = text.Trim();
            if (t == "*") return new(null, null, null);
            string? system = null;
            var at = t.IndexOf('@');
            if (at >= 0) { system = t[..at]; t = t[(at + 1)..]; }
            int? port = null;
            if (t.StartsWith('['))
            {
                var close = t.IndexOf(']');
                if (close < 0) throw new ConfigurationException($"{key}: missing ] in \"{text}\"");
                if (close + 1 < t.Length)
                {
                    if (t[close + 1] != ':' || !int.TryParse(t[(close + 2)..], out var p6)) throw new ConfigurationException($"{key}: bad port in \"{text}\"");
                    port = p6;
                }
                t = t[1..close];
            }
            else if (t.Count(c => c == ':') == 1)
            {
                var colon = t.IndexOf(':');
                if (!int.TryParse(t[(colon + 1)..], out var p4)) throw new ConfigurationException($"{key}: bad port in \"{text}\"");
                port = p4;
                t = t[..colon];
            }
            if (t.Length == 0 || system is "") throw new ConfigurationException($"{key}: \"{text}\" is not *, HOST, SYSTEM@HOST or SYSTEM@HOST:PORT");
            if (port is < 1 or > 65535) throw new ConfigurationException($"{key}: port out of range in \"{text}\"");
            return new(system, t == "*" ? null : t, port);
        }
    }
}
