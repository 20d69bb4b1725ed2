using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using ActorRelay.Control;
using ActorRelay.Node;
using ActorRelay.Protocol;
using ActorRelay.Settings;
using ActorRelay.Tests.Support;
using Xunit;

namespace ActorRelay.Tests.Remote;

/// <summary>
/// Mutual TLS on the control plane: a supervisor whose certificate is issued by the trusted CA drives the node; one
/// with a certificate of its own making cannot even connect. Certificates are made by the test (a private CA).
/// </summary>
public sealed class RemoteTlsSpecs : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly List<ActorSystem> _systems = new();
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2Collection _trusted;

    public RemoteTlsSpecs()
    {
        using var caKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=ActorRelay test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = Usable(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(2)));
        _trusted = [X509CertificateLoader.LoadCertificate(_ca.RawData)];
    }

    public void Dispose()
    {
        foreach (var s in _systems) s.Terminate().Wait(Wait);
    }

    /// <summary>A certificate with its private key, usable by SslStream (through PKCS#12), issued by the CA or by itself.</summary>
    private X509Certificate2 Certificate(string subject, bool byCa)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        var from = DateTimeOffset.UtcNow.AddDays(-1);
        var until = DateTimeOffset.UtcNow.AddDays(1);
        if (!byCa) return Usable(request.CreateSelfSigned(from, until));
        using var issued = request.Create(_ca, from, until, RandomNumberGenerator.GetBytes(8));
        return Usable(issued.CopyWithPrivateKey(key));
    }

    private static X509Certificate2 Usable(X509Certificate2 c) => X509CertificateLoader.LoadPkcs12(c.Export(X509ContentType.Pfx), null);

    private ActorSystem Start(string name, X509Certificate2 certificate, Config? extra = null)
    {
        var config = ConfigurationFactory.ParseString("""
                akka.actor.provider = remote
                akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
                """)
            .WithFallback(RelayTls.Hocon).WithFallback(extra ?? Config.Empty).WithFallback(RelayProtocolSerializer.Config);
        var system = ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config).And(RelayTls.Setup(certificate, _trusted)));
        _systems.Add(system);
        return system;
    }

    [Fact]
    public async Task A_supervisor_with_a_certificate_from_the_trusted_ca_is_served_and_one_without_cannot_connect()
    {
        var ports = TestPorts.Block();
        var relay = Start("actor-relay", Certificate("relay-node", byCa: true), RelaySettings.DefaultConfig());
        var settings = RelaySettings.From(relay.Settings.Config) with { PortMin = ports.Min, PortMax = ports.Max };
        relay.ActorOf(RelayNodeActor.Props(settings), "relay");
        var path = $"{((ExtendedActorSystem)relay).Provider.DefaultAddress}/user/relay";
        Assert.StartsWith("akka.ssl.tcp://", path);

        var supervisor = Start("sip-server", Certificate("sip-server", byCa: true));
        var node = await supervisor.ActorSelection(path).ResolveOne(Wait);
        var opened = await node.Ask<ChannelOpened>(new OpenChannel("over-tls", SubscribeOpener: false), Wait);
        Assert.InRange(opened.Left.Port, ports.Min, ports.Max);

        var rogue = Start("sip-server", Certificate("sip-server", byCa: false)); // same name, its own certificate
        await Assert.ThrowsAnyAsync<Exception>(() => rogue.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(3)));
        // and the node still serves the genuine supervisor
        Assert.IsType<ChannelClosed>(await node.Ask<object>(new CloseChannel("over-tls"), Wait));
    }

    [Fact]
    public void Tls_settings_need_a_certificate_and_something_to_check_peers_against()
    {
        Assert.Null(RelayTlsSettings.From(ConfigurationFactory.ParseString("enabled = off")));
        Assert.Throws<ConfigurationException>(() => RelayTlsSettings.From(ConfigurationFactory.ParseString("enabled = on")));
        Assert.Throws<ConfigurationException>(() => RelayTlsSettings.From(ConfigurationFactory.ParseString("enabled = on\ncertificate = \"x.pfx\"")));
        var ok = RelayTlsSettings.From(ConfigurationFactory.ParseString("enabled = on\ncertificate = \"x.pfx\"\npinned-thumbprints = [\"AB\"]"));
        Assert.Equal(["AB"], ok!.PinnedThumbprints);
    }
}
