using System.Net;
using ActorRelay.Latching;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class NgLatchingTests
{
    [Theory]
    [InlineData("203.0.113.10", NgAddressKind.Public)]
    [InlineData("198.51.100.2", NgAddressKind.Public)]
    [InlineData("8.8.8.8", NgAddressKind.Public)]
    [InlineData("2001:db8::1", NgAddressKind.Public)]
    [InlineData("10.1.2.3", NgAddressKind.Private)]
    [InlineData("172.16.0.1", NgAddressKind.Private)]
    [InlineData("172.31.255.255", NgAddressKind.Private)]
    [InlineData("192.168.1.20", NgAddressKind.Private)]
    [InlineData("100.64.0.1", NgAddressKind.Private)]
    [InlineData("100.127.255.254", NgAddressKind.Private)]
    [InlineData("169.254.10.10", NgAddressKind.Private)]
    [InlineData("127.0.0.1", NgAddressKind.Private)]
    [InlineData("::1", NgAddressKind.Private)]
    [InlineData("fe80::1", NgAddressKind.Private)]
    [InlineData("fd00::5", NgAddressKind.Private)]
    [InlineData("::ffff:192.168.0.9", NgAddressKind.Private)]
    [InlineData("0.0.0.0", NgAddressKind.Unusable)]
    [InlineData("::", NgAddressKind.Unusable)]
    [InlineData("224.0.0.1", NgAddressKind.Unusable)]
    [InlineData("255.255.255.255", NgAddressKind.Unusable)]
    [InlineData("240.0.0.1", NgAddressKind.Unusable)]
    [InlineData("ff02::1", NgAddressKind.Unusable)]
    // just outside the private blocks
    [InlineData("172.32.0.1", NgAddressKind.Public)]
    [InlineData("100.128.0.1", NgAddressKind.Public)]
    [InlineData("192.169.0.1", NgAddressKind.Public)]
    public void Addresses_are_classified_by_what_they_can_say_about_a_source(string address, NgAddressKind kind) =>
        Assert.Equal(kind, NgLatching.Classify(IPAddress.Parse(address)));

    private static NgRequest Offer(string? flags = null, string? receivedFrom = null, string? mediaAddress = null) => new()
    {
        Command = NgCommand.Offer,
        CommandName = "offer",
        Flags = flags is null ? NgFlags.None : Enum.Parse<NgFlags>(flags),
        ReceivedFrom = receivedFrom is null ? null : IPAddress.Parse(receivedFrom),
        MediaAddress = mediaAddress is null ? null : IPAddress.Parse(mediaAddress),
    };

    private static string? Expected(NgRequest r, string? sdp) =>
        NgLatching.ExpectedSource(r, sdp is null ? null : IPAddress.Parse(sdp)).Address?.ToString();

    [Fact]
    public void Sip_source_address_expects_the_public_received_from_whatever_the_sdp_says()
    {
        Assert.Equal("203.0.113.10", Expected(Offer("SipSourceAddress", "203.0.113.10"), "10.0.0.7"));
        Assert.Equal("203.0.113.10", Expected(Offer("SipSourceAddress", "203.0.113.10"), "198.51.100.2"));
        Assert.Null(Expected(Offer("SipSourceAddress", "192.168.1.5"), "198.51.100.2"));   // a private SIP source says nothing
        Assert.Null(Expected(Offer("SipSourceAddress"), "198.51.100.2"));                   // nothing to go by
    }

    [Fact]
    public void Trust_address_and_no_flag_expect_a_public_sdp_address_only_where_the_sip_came_from()
    {
        foreach (var flags in new[] { "TrustAddress", null })
        {
            Assert.Equal("198.51.100.7", Expected(Offer(flags, "198.51.100.7"), "198.51.100.7"));
            Assert.Equal("198.51.100.7", Expected(Offer(flags), "198.51.100.7"));                // no received-from: the SDP alone
            Assert.Null(Expected(Offer(flags, "203.0.113.10"), "198.51.100.2"));                 // behind a NAT (or another host): none
            Assert.Null(Expected(Offer(flags, "203.0.113.10"), "10.0.0.7"));                     // private SDP address: never
            Assert.Null(Expected(Offer(flags, "203.0.113.10"), "0.0.0.0"));                      // hold: never
            Assert.Null(Expected(Offer(flags, "203.0.113.10"), null));                           // no c= at all
        }
    }

    [Fact]
    public void Media_address_is_taken_as_given_unless_it_cannot_be_a_source()
    {
        Assert.Equal("10.9.9.9", Expected(Offer("SipSourceAddress", "203.0.113.10", "10.9.9.9"), "198.51.100.2"));
        Assert.Equal("2001:db8::7", Expected(Offer(null, null, "2001:db8::7"), "198.51.100.2"));
        Assert.Null(Expected(Offer(null, null, "224.1.1.1"), "198.51.100.2"));
    }

    [Fact]
    public void The_filter_text_is_the_address_or_any_source_and_nobody_matches_no_valid_source()
    {
        Assert.Equal("203.0.113.10", new NgExpectedSource(IPAddress.Parse("203.0.113.10"), "").Filter);
        Assert.Equal("::/0", new NgExpectedSource(null, "").Filter);
        Assert.True(SourceFilter.TryParse(NgExpectedSource.AnySource, out var any, out _));
        Assert.True(any!.Matches(PacketSource.From(IPEndPoint.Parse("203.0.113.66:4000"))));
        Assert.True(any.Matches(PacketSource.From(IPEndPoint.Parse("[2001:db8::66]:4000"))));
        Assert.True(SourceFilter.TryParse(NgExpectedSource.Nobody, out var nobody, out _));
        foreach (var source in new[] { "203.0.113.66:4000", "127.0.0.1:5000", "[2001:db8::66]:4000", "[::1]:9" })
            Assert.False(nobody!.Matches(PacketSource.From(IPEndPoint.Parse(source))));
    }

    [Fact]
    public void Latching_flags_that_are_not_implemented_are_named_and_the_inherent_ones_are_not()
    {
        var r = Offer("Asymmetric, MediaHandover, NoPortLatching, StrictSource, PortLatching, Symmetric, TrustAddress");
        var unsupported = NgLatching.Unsupported(r).ToList();
        Assert.Equal(3, unsupported.Count);
        Assert.StartsWith("asymmetric", unsupported[0]);
        Assert.StartsWith("media-handover", unsupported[1]);
        Assert.StartsWith("no-port-latching", unsupported[2]);
        Assert.Empty(NgLatching.Unsupported(Offer("StrictSource, PortLatching, Symmetric, SipSourceAddress")));
    }
}

public sealed class NgChannelIdsTests
{
    [Fact]
    public void Ids_are_readable_per_stream_and_kind()
    {
        Assert.Equal("a84b4c76e66710@pc33/1928301774/1", NgChannelIds.For("a84b4c76e66710@pc33", "1928301774", 0, rtcp: false));
        Assert.Equal("a84b4c76e66710@pc33/1928301774/2/rtcp", NgChannelIds.For("a84b4c76e66710@pc33", "1928301774", 1, rtcp: true));
        Assert.Equal("c/t/1~2", NgChannelIds.For("c", "t", 0, rtcp: false, generation: 1));
    }

    [Fact]
    public void Long_call_ids_are_hashed_within_the_nodes_limit_and_stay_apart()
    {
        var longId = new string('x', 200);
        var a = NgChannelIds.For(longId + "a", "tag", 0, rtcp: true, generation: 12);
        var b = NgChannelIds.For(longId + "b", "tag", 0, rtcp: true, generation: 12);
        Assert.True(a.Length <= NgChannelIds.MaxLength, a);
        Assert.True(b.Length <= NgChannelIds.MaxLength, b);
        Assert.NotEqual(a, b);
        Assert.StartsWith(new string('x', 60) + "#", a);
        Assert.EndsWith("/1/rtcp~13", a);
        Assert.NotEqual(NgChannelIds.For(longId, "tag-a", 0, false), NgChannelIds.For(longId, "tag-b", 0, false));
        var tagLong = NgChannelIds.For("call", new string('t', 300), 3, false);
        Assert.True(tagLong.Length <= NgChannelIds.MaxLength);
    }
}
