using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ActorRelay.Client;
using ActorRelay.Control;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ActorRelay.Tests.Remote;

/// <summary>
/// A supervisor in another ActorSystem lists a node's 1,000 channels over Akka.Remote (TCP on loopback) page by page:
/// in one reply they would be larger than Akka.Remote's largest frame (128,000 bytes), which drops such a reply and
/// leaves the Ask to time out; each page fits it.
/// </summary>
public sealed class ChannelListPagingRemoteSpecs : TestKit
{
    private const int Channels = 1000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly (int Min, int Max) _ports = TestPorts.Block(2 * Channels + 8);
    private readonly ActorSystem _relaySystem;
    private readonly IActorRef _node;

    private static Config Remote(string extra = "") => ConfigurationFactory.ParseString($@"
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        {extra}");

    public ChannelListPagingRemoteSpecs(ITestOutputHelper output) : base(Remote().WithFallback(RelayProtocolSerializer.Config), "supervisor", output)
    {
        // the supervisor is an administrator: it lists the channels the node's own process opened
        var relayConfig = Remote("relay.control.administrators = [\"127.0.0.1\"]\nakka.loglevel = WARNING").WithFallback(RelaySettings.DefaultConfig());
        _relaySystem = ActorSystem.Create("relay-node", relayConfig);
        var settings = RelaySettings.From(relayConfig) with { PortMin = _ports.Min, PortMax = _ports.Max, BindAddress = IPAddress.Loopback };
        _node = _relaySystem.ActorOf(RelayNodeActor.Props(settings), "relay");
    }

    protected override void AfterAll()
    {
        _relaySystem.Terminate().Wait(Wait);
        base.AfterAll();
    }

    [Fact]
    public async Task A_supervisor_lists_1000_channels_over_the_wire_page_by_page_where_one_reply_would_exceed_the_frame()
    {
        // ids of a realistic length (an NG call's: call-id/tag/stream), opened in the node's own process (fast)
        var ids = Enumerable.Range(0, Channels).Select(i => $"{i:D4}-a84b4c76e66710@pc33.example.com/1928301774/1").ToList();
        for (var batch = 0; batch < Channels; batch += 100)
            foreach (var reply in await Task.WhenAll(ids.Skip(batch).Take(100).Select(id => _node.Ask<object>(new OpenChannel(id, SubscribeOpener: false), Wait))))
                Assert.IsType<ChannelOpened>(reply);

        var address = ((ExtendedActorSystem)_relaySystem).Provider.DefaultAddress;
        var node = await Sys.ActorSelection($"{address}/user/relay").ResolveOne(Wait);
        var frame = ChannelListBound.FrameSize(_relaySystem.Settings.Config);
        Assert.Equal(128_000, frame);

        var pages = new List<ChannelList>();
        string? after = null;
        do
        {
            var page = await node.Ask<ChannelList>(new ListChannels(after), Wait);
            pages.Add(page);
            after = page.NextAfter;
        } while (after is not null);
        var listed = pages.SelectMany(p => p.Channels).ToList();
        Assert.Equal(ids, listed.Select(c => c.ChannelId));                              // all, once each, in order
        Assert.All(listed, c => Assert.True(c.Channel.Path.Address.HasGlobalScope));      // refs usable from the supervisor
        Assert.Equal((Channels + 49) / 50, pages.Count);                                  // relay.control.list-page-size
        Output.WriteLine($"{pages.Count} pages, the largest {pages.Max(p => ChannelListBound.Size(_relaySystem, p))} bytes");

        // each page, as the node wrote it, fits the frame; the whole list in one reply would not
        Assert.All(pages, p => Assert.InRange(ChannelListBound.Size(_relaySystem, p), 1, frame * ChannelListBound.FrameShare));
        Assert.True(ChannelListBound.Size(_relaySystem, new ChannelList(listed)) > frame, "1,000 channels in one reply fit a frame");

        // the largest pages the node serves cross the wire too, and the walk helper reads them all
        var largest = await node.Ask<ChannelList>(new ListChannels(Limit: int.MaxValue), Wait);
        Assert.Equal(ChannelListBound.MaxPage(_relaySystem, _node.Path), largest.Channels.Count);
        Output.WriteLine($"the largest page: {largest.Channels.Count} channels, {ChannelListBound.Size(_relaySystem, largest)} bytes of these; " +
                         $"worst channels {ChannelListBound.Measure(_relaySystem, _node.Path)}");
        Assert.Equal(ids, await node.ListAllAsync(Wait, limit: int.MaxValue).Select(c => c.ChannelId).ToListAsync());
    }
}
