using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using ActorRelay.Hosting;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace ActorRelay.Tests.Hosting;

/// <summary>The relay hosted in an application's own ActorSystem with Akka.Hosting, as the README shows it.</summary>
public sealed class RelayHostingSpecs
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void Relay_options_are_written_as_hocon_over_the_defaults()
    {
        var options = new RelayOptions
        {
            Transport = SideTransport.AkkaIo, BindAddress = IPAddress.Parse("::1"), AdvertiseAddress = IPAddress.Parse("203.0.113.9"),
            PortMin = 20000, PortMax = 20999, MaxDatagram = 9000, IdleTimeout = TimeSpan.FromSeconds(90), MaxLifetime = TimeSpan.FromHours(4),
            LatchMode = LatchMode.Rtp, Probation = 3, SocketEngine = SocketEngine.Dotnet, NodeName = "media",
            ControlAllow = ["*"], ControlAdministrators = ["sip@10.0.0.5"], OpenerLostGrace = TimeSpan.FromSeconds(30),
            MetricsListen = ["127.0.0.1:9464"], QualityEnabled = false, ListPageSize = 20,
        };
        var config = ConfigurationFactory.ParseString(options.ToString()).WithFallback(RelaySettings.DefaultConfig());
        var s = RelaySettings.From(config);
        Assert.Equal(RelaySettings.Default with
        {
            Transport = SideTransport.AkkaIo, BindAddress = IPAddress.Parse("::1"), AdvertiseAddress = IPAddress.Parse("203.0.113.9"),
            PortMin = 20000, PortMax = 20999, MaxDatagram = 9000, IdleTimeout = TimeSpan.FromSeconds(90), MaxLifetime = TimeSpan.FromHours(4),
            LatchMode = LatchMode.Rtp, Probation = 3, SocketEngine = SocketEngine.Dotnet, NodeName = "media",
            OpenerLostGrace = TimeSpan.FromSeconds(30), ListPageSize = 20,
            ControlAllow = s.ControlAllow, ControlAdministrators = s.ControlAdministrators, ClusterSeeds = s.ClusterSeeds, MetricsListen = s.MetricsListen, // lists: compared below
            QualityEnabled = false,
        }, s);
        Assert.Equal(["127.0.0.1:9464"], s.MetricsListen);
        Assert.Equal(["*"], s.ControlAllow);
        Assert.Equal(["sip@10.0.0.5"], s.ControlAdministrators);
        Assert.Empty(s.ClusterSeeds); // alone unless seeds are set
        Assert.Equal(9001, config.GetInt("akka.io.udp.direct-buffer-pool.buffer-size")); // Akka.IO lets 9000 bytes through
        Assert.Equal(9001, config.GetInt("akka.io.udp.disabled-buffer-pool.buffer-size")); // whichever pool is configured
        Assert.Equal("", new RelayOptions().ToString());
    }

    [Fact]
    public void An_akka_io_node_refuses_receive_buffers_no_larger_than_the_largest_datagram_naming_the_pool_in_use()
    {
        var defaults = RelaySettings.DefaultConfig();
        RelayHostingExtensions.CheckAkkaIoBuffer(defaults, 1500); // relay.conf's pool: 1501-byte buffers
        var small = Assert.Throws<ConfigurationException>(() => RelayHostingExtensions.CheckAkkaIoBuffer(defaults, 9000));
        Assert.Contains("akka.io.udp.direct-buffer-pool.buffer-size (1501) must exceed relay.max-datagram (9000)", small.Message);
        var disabled = ConfigurationFactory.ParseString("akka.io.udp.buffer-pool = \"akka.io.udp.disabled-buffer-pool\"\n" +
            "akka.io.udp.disabled-buffer-pool.buffer-size = 512").WithFallback(defaults);
        var other = Assert.Throws<ConfigurationException>(() => RelayHostingExtensions.CheckAkkaIoBuffer(disabled, 1500));
        Assert.Contains("akka.io.udp.disabled-buffer-pool.buffer-size (512)", other.Message);
        RelayHostingExtensions.CheckAkkaIoBuffer(ConfigurationFactory.ParseString(RelaySettings.AkkaIoHocon(9000)).WithFallback(defaults), 9000);
    }

    [Fact]
    public async Task An_in_process_relay_on_akka_io_relays_datagrams_up_to_a_configured_9000_bytes()
    {
        var ports = TestPorts.Block();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("sip-server", (akka, _) => akka.WithActorRelay(new RelayOptions
        {
            Transport = SideTransport.AkkaIo, MaxDatagram = 9000, BindAddress = IPAddress.Loopback, PortMin = ports.Min, PortMax = ports.Max,
        }));
        using var host = builder.Build();
        await host.StartAsync();
        var relay = host.Services.GetRequiredService<IRequiredActor<RelayNode>>();
        var node = await relay.GetAsync();
        Assert.Equal("akka-io", (await node.Ask<NodeStatus>(GetNodeStatus.Instance, Wait)).Transport);

        var opened = await node.Ask<ChannelOpened>(new OpenChannel("call-42", SubscribeOpener: false), Wait);
        using var a = new UdpPeer();
        using var b = new UdpPeer();
        a.SendTo(opened.Left, [1]);
        await WaitUntilAsync(async () => (await node.Ask<ChannelSnapshot>(new GetChannel("call-42"), Wait)).Left.Latched is not null);
        b.SendTo(opened.Right, [2]);
        Assert.Equal([2], await a.ExpectAsync(Wait));
        var jumbo = Enumerable.Range(0, 9000).Select(i => (byte)(i * 13)).ToArray();
        a.SendTo(opened.Left, jumbo);
        Assert.Equal(jumbo, await b.ExpectAsync(Wait));

        await host.StopAsync(); // coordinated shutdown drains the node: every port free
        Assert.True(TestPorts.Bindable(opened.Left.Port) && TestPorts.Bindable(opened.Right.Port), "ports still bound after the host stopped");
    }

    [Fact]
    public async Task A_supervisor_host_with_the_relay_protocol_drives_a_relay_host_over_akka_remote()
    {
        var ports = TestPorts.Block();
        var relayBuilder = Host.CreateApplicationBuilder();
        relayBuilder.Services.AddAkka("actor-relay", (akka, _) => akka
            .WithRemoting("127.0.0.1", 0)
            .WithActorRelay(new RelayOptions { BindAddress = IPAddress.Loopback, PortMin = ports.Min, PortMax = ports.Max }));
        using var relayHost = relayBuilder.Build();
        await relayHost.StartAsync();
        var relaySystem = (ExtendedActorSystem)relayHost.Services.GetRequiredService<ActorSystem>();

        var supervisorBuilder = Host.CreateApplicationBuilder();
        supervisorBuilder.Services.AddAkka("sip-server", (akka, _) => akka.WithRemoting("127.0.0.1", 0).WithActorRelayProtocol());
        using var supervisorHost = supervisorBuilder.Build();
        await supervisorHost.StartAsync();
        try
        {
            var supervisor = supervisorHost.Services.GetRequiredService<ActorSystem>();
            var node = await supervisor.ActorSelection($"{relaySystem.Provider.DefaultAddress}/user/relay").ResolveOne(Wait);
            var opened = await node.Ask<ChannelOpened>(new OpenChannel("remote-call", SubscribeOpener: false), Wait);
            Assert.InRange(opened.Left.Port, ports.Min, ports.Max);
            Assert.IsType<ChannelClosed>(await node.Ask<object>(new CloseChannel("remote-call"), Wait));
        }
        finally
        {
            await supervisorHost.StopAsync();
            await relayHost.StopAsync();
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met");
            await Task.Yield();
        }
    }
}
