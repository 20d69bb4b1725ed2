using System.Net;
using System.Net.Sockets;
using ActorRelay.Ng;

// Shared by the CsCheck properties and the fuzz target "sdp" (tests/ActorRelay.Fuzz links this file).
namespace ActorRelay.Tests.Properties;

public static class SdpChecks
{
    /// <summary>
    /// Targets that point each section where it already points, for the sections where the body says so unambiguously:
    /// an IP address whose type token matches its family, not IPv4-mapped, no scope, no multicast "/ttl" suffix, and a=rtcp
    /// lines with one port and the section's address (a relay address is unicast; RTCP goes where RTP goes). Other sections
    /// get no target. A zero (hold) address gets a relay address of its family (a zero address stays zero). Rewritten with
    /// <see cref="IdentityOptions"/>, such targets change no byte.
    /// </summary>
    public static SdpMediaTarget?[] IdentityTargets(SdpBody sdp) => sdp.Medias.Select(m =>
    {
        if (m.IsDisabled || (m.Connection ?? sdp.Session.Connection) is not { Ip: { } ip } c || !Plain(c)) return null;
        if (m.Rtcp.Any(r => r.Port != m.Rtcp[0].Port || r.Address is { } a && !(Plain(a) && a.Ip!.Equals(ip)))) return null;
        int? rtcp = m.Rtcp.Count > 0 ? m.Rtcp[0].Port : m.RtcpMux ? null : m.Port + 1;
        if (rtcp is 0 or > 65535) return null;
        if (c.IsZero) ip = ip.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Parse("203.0.113.1") : IPAddress.Parse("2001:db8::1");
        return new SdpMediaTarget(ip, m.Port, rtcp);
    }).ToArray();

    /// <summary>Directions kept; the origin replaced only when it already is the first target's address.</summary>
    public static SdpRewriteOptions IdentityOptions(SdpBody sdp, IReadOnlyList<SdpMediaTarget?> targets) => new()
    {
        KeepDirection = true,
        ReplaceOrigin = sdp.Session.Origin?.Address is { Ip: { } o } origin && Plain(origin)
                        && targets.FirstOrDefault(t => t is not null) is { } first && first.Address.Equals(o),
    };

    public static bool Plain(SdpAddressField a) =>
        a.Ip is { } ip && a.Address.Length == a.AddressSpan.Length
        && (ip.AddressFamily == AddressFamily.InterNetwork
            ? string.Equals(a.AddrType, "IP4", StringComparison.OrdinalIgnoreCase)
            : string.Equals(a.AddrType, "IP6", StringComparison.OrdinalIgnoreCase) && !ip.IsIPv4MappedToIPv6 && ip.ScopeId == 0);
}
