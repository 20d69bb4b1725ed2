using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using ActorRelay.Client;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace ActorRelay.Tests.Remote;

/// <summary>A supervisor application using the client (Akka.Hosting) against a relay node in another ActorSystem.</summary>
public sealed class RelayClientSpecs : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly (int Min, int Max) _ports = TestPorts.Block();
    private readonly int _remotePort = FreeTcpPort();
    private ActorSystem? _relay;
    private IHost? _supervisor;

    private static int FreeTcpPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private string NodeAddress => $"akka.tcp://actor-relay@127.0.0.1:{_remotePort}";

    private void StartRelay(string extra = "")
    {
        var config = ConfigurationFactory.ParseString($$"""
                akka.actor.provider = remote
                akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{_remotePort}} }
                {{extra}}
                """).WithFallback(RelayProtocolSerializer.NodeOnlyConfig).WithFallback(RelaySettings.DefaultConfig());
        _relay = ActorSystem.Create("actor-relay", config);
        var settings = RelaySettings.From(config) with { PortMin = _ports.Min, PortMax = _ports.Max, BindAddress = IPAddress.Loopback };
        _relay.ActorOf(RelayNodeActor.Props(settings), "relay");
    }

    private async Task<IRelayClient> StartSupervisorAsync(string nodeAddress)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("sip-server", (akka, _) => akka
            .WithRemoting("127.0.0.1", 0)
            .WithActorRelayClient(nodeAddress, o =>
            {
                o.AttemptTimeout = TimeSpan.FromSeconds(1);
                o.ReconnectInterval = TimeSpan.FromMilliseconds(200);
            }));
        _supervisor = builder.Build();
        await _supervisor.StartAsync();
        return RelayClient.For(_supervisor.Services.GetRequiredService<ActorSystem>());
    }

    public async ValueTask DisposeAsync()
    {
        if (_supervisor is not null) { await _supervisor.StopAsync(); _supervisor.Dispose(); }
        if (_relay is not null) await _relay.Terminate();
    }

    private static async Task<T> Next<T>(IAsyncEnumerator<IChannelEvent> events) where T : IChannelEvent
    {
        using var cts = new CancellationTokenSource(Wait);
        while (await events.MoveNextAsync().AsTask().WaitAsync(cts.Token))
            if (events.Current is T t) return t;
        throw new InvalidOperationException("events ended");
    }

    [Fact]
    public async Task The_client_opens_hears_the_events_and_closes_with_the_final_counters()
    {
        StartRelay();
        var client = await StartSupervisorAsync(NodeAddress);
        await using var events = client.Events().GetAsyncEnumerator();
        var opened = await client.OpenAsync(new OpenChannel("call-1"));
        using var a = new UdpPeer();
        a.SendTo(opened.Left, [1]);
        Assert.Equal(Side.Left, (await Next<SideLatched>(events)).Side); // to the client's own actor, not an Ask's
        var closed = await client.CloseAsync("call-1");
        Assert.Equal(1, closed.Final.Left.PacketsReceived);
        Assert.Equal("call-1", (await Next<ChannelClosed>(events)).ChannelId);
        var rejected = await Assert.ThrowsAsync<RelayRejectedException>(() => client.OpenAsync(new OpenChannel("bad", new SideRequest(0))));
        Assert.Equal(RejectReason.PortOutOfRange, rejected.Reason);
        await Assert.ThrowsAsync<RelayChannelNotFoundException>(() => client.GetAsync("call-1"));
    }

    [Fact]
    public async Task The_client_lists_its_channels_page_by_page_and_walks_them_all()
    {
        StartRelay("relay.control.list-page-size = 2");
        var client = await StartSupervisorAsync(NodeAddress);
        var ids = new[] { "call-3", "call-1", "call-5", "call-2", "call-4" };
        foreach (var id in ids) await client.OpenAsync(new OpenChannel(id));

        var first = await client.ListAsync();
        Assert.Equal(["call-1", "call-2"], first.Channels.Select(c => c.ChannelId));
        Assert.Equal("call-2", first.NextAfter);
        var next = await client.ListAsync(new ListChannels(first.NextAfter, Limit: 1));
        Assert.Equal(["call-3"], next.Channels.Select(c => c.ChannelId));
        Assert.Equal(ids.Order(StringComparer.Ordinal), await client.ListAllAsync().Select(c => c.ChannelId).ToListAsync());
        var refused = await Assert.ThrowsAsync<RelayRejectedException>(() => client.ListAsync(new ListChannels(Limit: 0)));
        Assert.Equal(RejectReason.InvalidRequest, refused.Reason);
    }

    [Fact]
    public async Task After_the_node_restarts_the_client_reconnects_reports_the_channels_it_lost_and_opens_again()
    {
        StartRelay();
        var client = await StartSupervisorAsync(NodeAddress);
        await using var events = client.Events().GetAsyncEnumerator();
        await client.OpenAsync(new OpenChannel("before-restart"));

        await _relay!.Terminate(); // the node restarts (without persistence it forgets its channels)
        StartRelay();

        var lost = await Next<ChannelLost>(events);
        Assert.Equal("before-restart", lost.ChannelId);
        var opened = await client.OpenAsync(new OpenChannel("after-restart"));
        Assert.InRange(opened.Left.Port, _ports.Min, _ports.Max);
    }

    [Fact]
    public async Task An_unreachable_node_is_a_clear_error_not_a_timeout()
    {
        var client = await StartSupervisorAsync($"akka.tcp://actor-relay@127.0.0.1:{FreeTcpPort()}"); // nobody listens
        var e = await Assert.ThrowsAsync<RelayUnavailableException>(() => client.OpenAsync(new OpenChannel("nowhere")).WaitAsync(Wait));
        Assert.Contains("unreachable", e.Message);
    }
}
