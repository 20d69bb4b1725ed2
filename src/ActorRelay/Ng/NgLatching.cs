using System.Net;
using System.Net.Sockets;

namespace ActorRelay.Ng;

/// <summary>What an address can say about where a client's media comes from.</summary>
public enum NgAddressKind
{
    /// <summary>Routable: it may be where the client's packets come from.</summary>
    Public,
    /// <summary>RFC 1918, 100.64.0.0/10 (carrier-grade NAT), link-local, loopback, fc00::/7: the client's inside of a NAT.</summary>
    Private,
    /// <summary>Unspecified (0.0.0.0/8, ::, a hold address), multicast, 240.0.0.0/4 and broadcast: never a source.</summary>
    Unusable,
}

/// <summary>
/// The expected source of a party's side: an address (any port), or null for none (the side latches by its mode's
/// rules alone), with the reason for the log.
/// </summary>
public readonly record struct NgExpectedSource(IPAddress? Address, string Why)
{
    /// <summary>What <see cref="Protocol.SideRequest.ExpectedSource"/> / <see cref="Protocol.ResignalSide"/> take: the address, or
    /// "::/0" (any source) for none, which also replaces an earlier expected source.</summary>
    public string Filter => Address?.ToString() ?? AnySource;

    public const string AnySource = "::/0";

    /// <summary>
    /// The expected source of a side whose client has not been told where to send yet (before the call's first
    /// answer): "0.0.0.0", which no valid source matches, so nothing sprayed at a fresh channel can latch it.
    /// </summary>
    public const string Nobody = "0.0.0.0";
}

/// <summary>
/// How an NG request's address keys and flags become a side's expected source, and which latching flags
/// ActorRelay does not implement (for the reply's warning). Pure.
/// <para>ActorRelay's latches are strict once latched, and an expected source is a hard rule: a wrong one cuts the
/// call. So an address becomes an expected source only when the request makes it trustworthy:</para>
/// <list type="bullet">
/// <item><c>media-address</c>: that address (the operator said where media comes from).</item>
/// <item><c>SIP-source-address</c>: <c>received-from</c> (the client's NAT, any port) when it is public.</item>
/// <item><c>trust-address</c>, and no address flag (rtpengine's default): the SDP's address when it is public and
/// the SIP message came from it too (or no received-from was given). A public SDP address that differs from the SIP
/// source is either a NAT's inside that is not an RFC 1918 address or media from another host than the
/// signalling; rtpengine would only send there until packets say otherwise, so ActorRelay gives no expected
/// source and relies on its latch mode.</item>
/// <item>A private or unusable address never becomes an expected source.</item>
/// </list>
/// </summary>
public static class NgLatching
{
    public static NgAddressKind Classify(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 => NgAddressKind.Unusable,
                >= 224 => NgAddressKind.Unusable,                       // multicast, 240/4, broadcast
                10 or 127 => NgAddressKind.Private,
                100 when (b[1] & 0xC0) == 64 => NgAddressKind.Private,  // 100.64.0.0/10
                169 when b[1] == 254 => NgAddressKind.Private,
                172 when (b[1] & 0xF0) == 16 => NgAddressKind.Private,
                192 when b[1] == 168 => NgAddressKind.Private,
                _ => NgAddressKind.Public,
            };
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return NgAddressKind.Unusable;
        if (address.Equals(IPAddress.IPv6Any) || address.IsIPv6Multicast) return NgAddressKind.Unusable;
        if (address.Equals(IPAddress.IPv6Loopback) || address.IsIPv6LinkLocal || address.IsIPv6UniqueLocal || address.IsIPv6SiteLocal)
            return NgAddressKind.Private;
        return NgAddressKind.Public;
    }

    /// <summary>The expected source of the party that sent <paramref name="request"/>'s SDP, whose address for this stream is <paramref name="sdpAddress"/>.</summary>
    public static NgExpectedSource ExpectedSource(NgRequest request, IPAddress? sdpAddress)
    {
        if (request.MediaAddress is { } media)
            return Classify(media) == NgAddressKind.Unusable
                ? new(null, $"media-address {media} is not a usable source")
                : new(media, "media-address");
        var from = request.ReceivedFrom;
        if (request.Has(NgFlags.SipSourceAddress))
        {
            if (from is null) return new(null, "SIP-source-address without received-from");
            var kind = Classify(from);
            return kind == NgAddressKind.Public
                ? new(Normal(from), "SIP-source-address: received-from")
                : new(null, $"SIP-source-address: received-from {from} is {kind.ToString().ToLowerInvariant()}");
        }
        var flag = request.Has(NgFlags.TrustAddress) ? "trust-address" : "default (trust-address)";
        if (sdpAddress is null) return new(null, $"{flag}: no address in the SDP");
        var sdpKind = Classify(sdpAddress);
        if (sdpKind != NgAddressKind.Public) return new(null, $"{flag}: the SDP address {sdpAddress} is {sdpKind.ToString().ToLowerInvariant()}");
        if (from is not null && !Normal(from).Equals(Normal(sdpAddress)))
            return new(null, $"{flag}: the SDP address {sdpAddress} is not where the SIP came from ({from})");
        return new(Normal(sdpAddress), $"{flag}: the SDP address");
    }

    /// <summary>Latching flags of <paramref name="request"/> that ActorRelay does not implement, worded for the reply's warning and the log.</summary>
    public static IEnumerable<string> Unsupported(NgRequest request)
    {
        if (request.Has(NgFlags.Asymmetric))
            yield return "asymmetric (not implemented: a side latches from the packets it receives)";
        if (request.Has(NgFlags.MediaHandover))
            yield return "media-handover (not implemented: a latched side follows only its own RTP stream, same SSRC, to a new source)";
        if (request.Has(NgFlags.NoPortLatching))
            yield return "no-port-latching (not implemented: a call keeps its ports until deleted)";
    }

    private static IPAddress Normal(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
