using System.Net;
using Akka.Configuration;
using ActorRelay.Hosting;
using ActorRelay.Ng;
using Xunit;

namespace ActorRelay.Tests.Ng;

public sealed class NgSettingsTests
{
    private static NgSettings Read(string hocon) => NgSettings.From(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void The_shipped_defaults_start_no_endpoint_and_allow_loopback_only()
    {
        var s = NgSettings.Default;
        Assert.False(s.Enabled);
        Assert.Equal(["127.0.0.1", "::1"], s.Allow.Select(a => a.Text));
        Assert.Equal(TimeSpan.FromSeconds(180), s.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(180), s.SetupTimeout);
        Assert.Equal(2, s.Probation);
        Assert.Empty(s.Interfaces);
        Assert.Equal(TimeSpan.FromSeconds(30), s.ReplyCacheMaxAge);
        Assert.Equal(TimeSpan.FromSeconds(5), s.NodeTimeout);
        Assert.Equal(4 << 20, s.ReceiveBuffer);
    }

    [Fact]
    public void Listen_addresses_allow_list_and_interfaces_are_read()
    {
        var s = Read("""
            relay.ng {
              listen = ["127.0.0.1:2223", "[::1]:2224"]
              allow = ["10.0.0.0/8", "2001:db8::5"]
              interfaces { internal = "10.0.0.2", external = "203.0.113.1" }
              idle-timeout = 2m
            }
            """);
        Assert.True(s.Enabled);
        Assert.Equal([IPEndPoint.Parse("127.0.0.1:2223"), IPEndPoint.Parse("[::1]:2224")], s.Listen);
        Assert.Equal(["10.0.0.0/8", "2001:db8::5"], s.Allow.Select(a => a.Text));
        Assert.Equal(IPAddress.Parse("10.0.0.2"), s.Interfaces["internal"]);
        Assert.Equal(IPAddress.Parse("203.0.113.1"), s.Interfaces["external"]);
        Assert.Equal(TimeSpan.FromMinutes(2), s.IdleTimeout);
    }

    [Fact]
    public void A_comma_separated_string_is_a_list_as_an_environment_variable_gives_it()
    {
        var s = Read("relay.ng.listen = \"127.0.0.1:2223, 127.0.0.1:2225\"");
        Assert.Equal(2, s.Listen.Count);
    }

    [Theory]
    [InlineData("relay.ng.listen = [\"2223\"]", "relay.ng.listen")]
    [InlineData("relay.ng.listen = [\"localhost:2223\"]", "relay.ng.listen")]
    [InlineData("relay.ng.listen = [\"::1:2223\"]", "relay.ng.listen")]
    [InlineData("relay.ng.listen = [\"127.0.0.1:70000\"]", "relay.ng.listen")]
    [InlineData("relay.ng.allow = [\"10.0.0.1:5060\"]", "relay.ng.allow")]
    [InlineData("relay.ng.allow = [\"nobody\"]", "relay.ng.allow")]
    [InlineData("relay.ng.interfaces { internal = \"eth0\" }", "relay.ng.interfaces.internal")]
    [InlineData("relay.ng.idle-timeout = soon", "relay.ng.idle-timeout")]
    [InlineData("relay.ng.reply-cache.entries = 0", "relay.ng.reply-cache.entries")]
    [InlineData("relay.ng.node-timeout = 0", "relay.ng.node-timeout")]
    [InlineData("relay.ng.probation = 0", "relay.ng.probation")]
    [InlineData("relay.ng.receive-buffer = -1", "relay.ng.receive-buffer")]
    [InlineData("relay.ng.receive-buffer = 4MB", "relay.ng.receive-buffer")]
    public void A_bad_value_fails_naming_its_key(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => Read(hocon));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Relay_options_write_the_ng_keys()
    {
        var hocon = new RelayOptions { NgListen = ["127.0.0.1:2223"], NgAllow = ["10.0.0.5"] }.ToString();
        var s = Read(hocon);
        Assert.Equal([IPEndPoint.Parse("127.0.0.1:2223")], s.Listen);
        Assert.Equal(["10.0.0.5"], s.Allow.Select(a => a.Text));
    }

    [Fact]
    public void An_ng_socket_gets_the_receive_buffer_asked_for_as_far_as_the_kernel_allows()
    {
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        using var kernelDefault = NgEndpoint.Bind(loopback, receiveBuffer: 0);
        using var asked = NgEndpoint.Bind(loopback, receiveBuffer: 1 << 20);
        // Linux reports twice what it grants, and grants at most net.core.rmem_max (at least its stock 208 KB, which is
        // also the stock default): asking for 1 MB always ends above the default a socket gets without asking.
        Assert.True(asked.ReceiveBufferSize > kernelDefault.ReceiveBufferSize,
            $"asked 1 MB: {asked.ReceiveBufferSize} bytes, default {kernelDefault.ReceiveBufferSize}");
    }
}
