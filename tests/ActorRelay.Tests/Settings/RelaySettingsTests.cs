using System.Net;
using Akka.Configuration;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using Xunit;

namespace ActorRelay.Tests.Settings;

public sealed class RelaySettingsTests
{
    private static RelaySettings With(string hocon) =>
        RelaySettings.From(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void Defaults_come_from_hocon_relay_conf()
    {
        var s = RelaySettings.From(ConfigurationFactory.Empty);
        Assert.Equal("relay", s.NodeName);
        Assert.Equal(SideTransport.Socket, s.Transport);
        Assert.Equal(IPAddress.IPv6Any, s.BindAddress);
        Assert.Null(s.AdvertiseAddress);
        Assert.Equal((10000, 31999), (s.PortMin, s.PortMax));
        Assert.True(s.PortMax < 32768, "the pool must stay below the kernel's ephemeral range");
        Assert.Equal(8, s.BindAttempts);
        Assert.Equal(1500, s.MaxDatagram);
        Assert.Equal(TimeSpan.FromSeconds(60), s.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), s.SetupTimeout);
        Assert.Equal(TimeSpan.FromHours(4), s.MaxLifetime);
        Assert.Equal(new[] { "127.0.0.1", "::1" }, s.ControlAllow);
        Assert.Empty(s.ControlAdministrators);
        Assert.Equal(TimeSpan.FromSeconds(60), s.OpenerLostGrace);
        Assert.Equal(50, s.ListPageSize);
        Assert.Equal(LatchMode.Auto, s.LatchMode);
        Assert.Equal(1501, s.AkkaIoConfig().GetInt("akka.io.udp.disabled-buffer-pool.buffer-size"));
        Assert.Equal(SocketEngine.Auto, s.SocketEngine);
        Assert.Equal(0, s.RelayLoops);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), s.RelayLoopCount);
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.MaxQueueDelay);
        Assert.Equal(-5, s.RelayLoopNice);
        Assert.Equal(OperatingSystem.IsLinux(), s.UsesRelayLoops);
    }

    [Fact]
    public void Values_are_read_with_their_units()
    {
        var s = With("relay { transport = akka-io, bind-address = \"127.0.0.1\", advertise-address = \"203.0.113.9\", idle-timeout = 2m, max-lifetime = 1h, latch.mode = follow, max-datagram = 65507 }");
        Assert.Equal(SideTransport.AkkaIo, s.Transport);
        Assert.Equal(IPAddress.Loopback, s.BindAddress);
        Assert.Equal(IPAddress.Parse("203.0.113.9"), s.AdvertiseAddress);
        Assert.Equal(TimeSpan.FromMinutes(2), s.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), s.MaxLifetime);
        Assert.Equal(LatchMode.Follow, s.LatchMode);
        Assert.Equal(65508, s.AkkaIoConfig().GetInt("akka.io.udp.disabled-buffer-pool.buffer-size"));
        Assert.False(s.UsesRelayLoops); // akka-io has no relay loops

        var socket = With("relay { socket-engine = dotnet, relay-loops = 3, max-queue-delay = off }");
        Assert.Equal(SocketEngine.Dotnet, socket.SocketEngine);
        Assert.False(socket.UsesRelayLoops);
        Assert.Equal(3, socket.RelayLoopCount);
        Assert.Equal(TimeSpan.Zero, socket.MaxQueueDelay);
        Assert.Equal(TimeSpan.FromMilliseconds(40), With("relay.max-queue-delay = 40ms").MaxQueueDelay);
    }

    [Theory]
    [InlineData("relay.transport = carrier-pigeon", "relay.transport")]
    [InlineData("relay.control.list-page-size = 0", "relay.control.list-page-size")]
    [InlineData("relay.bind-address = \"not-an-ip\"", "relay.bind-address")]
    [InlineData("relay.ports { min = 0, max = 10 }", "relay.ports")]
    [InlineData("relay.ports { min = 30000, max = 20000 }", "relay.ports")]
    [InlineData("relay.max-datagram = 65508", "relay.max-datagram")]
    [InlineData("relay.max-datagram = 0", "relay.max-datagram")]
    [InlineData("relay.latch.mode = sometimes", "relay.latch.mode")]
    [InlineData("relay.ports.bind-attempts = 0", "bind-attempts")]
    [InlineData("relay.stats-interval = 0", "stats-interval")]
    [InlineData("relay.socket-engine = io_uring", "relay.socket-engine")]
    [InlineData("relay.relay-loops = -1", "relay.relay-loops")]
    [InlineData("relay.relay-loop-nice = -21", "relay.relay-loop-nice")]
    [InlineData("relay.relay-loop-nice = 20", "relay.relay-loop-nice")]
    [InlineData("relay.max-queue-delay = -5ms", "relay.max-queue-delay")]
    public void Invalid_values_fail_fast_naming_the_key(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => With(hocon));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Capacity_is_two_sockets_per_channel_within_the_open_file_limit_and_the_pool()
    {
        var s = RelaySettings.From(ConfigurationFactory.Empty);
        Assert.Equal((20000 - 512) / 2, NodeCapacity.Of(s, openFileLimit: 20000, openDescriptors: 200));
        Assert.Equal(11000, NodeCapacity.Of(s, openFileLimit: 1_000_000, openDescriptors: 200)); // 22,000 pool ports
        Assert.Equal(100, NodeCapacity.Of(s with { MaxChannels = 100 }, openFileLimit: 20000, openDescriptors: 200));
        Assert.Equal(0, NodeCapacity.Of(s, openFileLimit: 100, openDescriptors: 200));
    }

    [Fact]
    public void Capacity_keeps_what_the_process_holds_plus_headroom_when_that_is_more_than_the_setting()
    {
        // a node process holds about 200 descriptors before its first channel: a reserve of 64 cannot be trusted
        var s = RelaySettings.From(ConfigurationFactory.Empty) with { FileDescriptorsReserved = 64 };
        Assert.Equal(200 + NodeCapacity.Headroom, NodeCapacity.Reserved(s, 200));
        Assert.Equal(0, NodeCapacity.Of(s, openFileLimit: 256, openDescriptors: 200)); // it would have promised (256 - 64) / 2 = 96
        Assert.Equal((400 - 264) / 2, NodeCapacity.ChannelLimit(s, openFileLimit: 400, openDescriptors: 200));
        Assert.Equal(64L, NodeCapacity.Reserved(s, 0));
        Assert.Equal(512L, NodeCapacity.Reserved(s with { FileDescriptorsReserved = 512 }, 200)); // the setting, when it is more
    }

    [Fact]
    public void The_process_s_descriptors_are_counted()
    {
        if (!OperatingSystem.IsLinux()) return;
        // other tests open and close sockets meanwhile: two files more must show in one of a few tries (a count that
        // ignored open files never would)
        int before = 0, after = 0;
        for (var attempt = 0; attempt < 20 && after < before + 2; attempt++)
        {
            before = FileLimits.OpenDescriptors()!.Value;
            using var a = File.OpenRead(typeof(RelaySettingsTests).Assembly.Location);
            using var b = File.OpenRead(typeof(RelaySettingsTests).Assembly.Location);
            after = FileLimits.OpenDescriptors()!.Value;
        }
        Assert.True(after >= before + 2, $"{before} then {after} with two more files open");
        Assert.True(NodeCapacity.ChannelLimit(RelaySettings.Default with { FileDescriptorsReserved = 0 }, openFileLimit: 100_000)
                    <= (100_000 - FileLimits.OpenDescriptors()!.Value + 64 - NodeCapacity.Headroom) / 2 + 1); // 64: others' closes meanwhile
    }
}
