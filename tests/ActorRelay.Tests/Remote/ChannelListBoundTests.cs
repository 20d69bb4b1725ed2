using Akka.Actor;
using Akka.Configuration;
using ActorRelay.Control;
using ActorRelay.Protocol;
using ActorRelay.Tests.Properties;
using CsCheck;
using Xunit;

namespace ActorRelay.Tests.Remote;

/// <summary>
/// <see cref="ChannelListBound"/>: the largest ListChannels page, measured through the relay's serializer in a system
/// with remoting (as a node runs), fits its share of an Akka.Remote frame, and one channel more would not; no channel
/// a node can hold writes longer than the worst one measured.
/// </summary>
public sealed class ChannelListBoundTests(SerializerSystem fixture) : IClassFixture<SerializerSystem>
{
    private readonly ActorSystem _system = fixture.System;

    private ActorPath Node => new RootActorPath(((ExtendedActorSystem)_system).Provider.DefaultAddress) / "user" / "relay";

    private ChannelList Page(int count) =>
        new(Enumerable.Repeat(ChannelListBound.WorstChannel(_system, Node), count).ToList(), ChannelListBound.WorstChannel(_system, Node).ChannelId);

    [Fact]
    public void The_frame_size_is_akka_remotes_setting_or_its_default()
    {
        Assert.Equal(128_000, ChannelListBound.FrameSize(_system.Settings.Config));   // Akka.Remote's reference configuration
        Assert.Equal(256_000, ChannelListBound.FrameSize(ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.maximum-frame-size = 256000b")));
        Assert.Equal(ChannelListBound.DefaultFrameSize, ChannelListBound.FrameSize(ConfigurationFactory.Empty));
    }

    [Theory]
    [InlineData(128_000)]
    [InlineData(32_000)]
    [InlineData(1_000_000)]
    public void The_largest_page_of_the_worst_channels_fits_its_share_of_the_frame_and_one_more_does_not(int frameSize)
    {
        var max = ChannelListBound.MaxPage(_system, Node, frameSize);
        var room = frameSize * ChannelListBound.FrameShare;
        Assert.InRange(ChannelListBound.Size(_system, Page(max)), 0, room);
        Assert.True(ChannelListBound.Size(_system, Page(max + 1)) > room, $"{max + 1} channels still fit {room} bytes");
    }

    [Fact]
    public void At_the_default_frame_size_the_largest_page_is_above_the_default_page_size()
    {
        var max = ChannelListBound.MaxPage(_system, Node);
        Assert.InRange(max, 81, 1000);                                          // the README: "over 80"
        Assert.True(max > ActorRelay.Settings.RelaySettings.Default.ListPageSize, $"{max} channels a page");
    }

    [Fact]
    public void No_channel_a_node_can_hold_writes_longer_than_the_worst_one()
    {
        var worst = ChannelListBound.Size(_system, new ChannelList([ChannelListBound.WorstChannel(_system, Node)]));
        var refs = fixture.Refs;
        var endpoint = Gen.Select(Gen.OneOf("127.0.0.1", "::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1%2", "255.255.255.255"), Gen.Int[1, 65535])
            .Select((a, p) => new RelayEndpoint(a, p));
        Gen.Select(ProtocolMessages.Text.Where(t => t.Length is > 0 and <= 128), Gen.Enum<ChannelState>(), endpoint, endpoint, Gen.Int[0, refs.Length - 1])
            .Select((id, state, left, right, r) => new ChannelSummary(id, state, left, right, refs[r]))
            .Sample(c => Assert.InRange(ChannelListBound.Size(_system, new ChannelList([c])), 0, worst));
        // the longest id there is: 128 characters JSON escapes
        Assert.InRange(ChannelListBound.Size(_system, new ChannelList([new ChannelSummary(new string('\u2029', 128), ChannelState.Closing,
            new RelayEndpoint("::ffff:255.255.255.255", 65535), new RelayEndpoint("::ffff:255.255.255.255", 65535), refs[0])])), 0, worst);
    }
}
