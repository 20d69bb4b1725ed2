using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace ActorRelay.Control;

/// <summary>
/// Mutual TLS for the control plane (Akka.Remote over DotNetty), for the node and for its supervisors alike: each
/// side presents its certificate and accepts the other's only if it passes every check configured (a certificate
/// authority the peer's chain must end in, pinned thumbprints, a subject pattern). Needs Akka.NET 1.5.55 or later,
/// which validates peers through <see cref="DotNettySslSetup"/>'s custom validator (earlier versions could be
/// bypassed, CVE-2025-61778).
/// </summary>
public sealed record RelayTlsSettings(
    string CertificatePath,
    string? CertificatePassword,
    string? TrustedCaPath,
    IReadOnlyList<string> PinnedThumbprints,
    string? Subject)
{
    /// <summary>Reads relay.remote.tls; null when it is off.</summary>
    public static RelayTlsSettings? From(Config tls)
    {
        if (tls.IsEmpty || !tls.GetBoolean("enabled", false)) return null;
        string? Text(string key) => tls.GetString(key, "") is { Length: > 0 } v ? v : null;
        var settings = new RelayTlsSettings(
            Text("certificate") ?? throw new ConfigurationException("relay.remote.tls.certificate is required when TLS is on (a PKCS#12 file)"),
            Text("password"), Text("trusted-ca"), tls.GetStringList("pinned-thumbprints")?.ToList() ?? [], Text("subject"));
        if (settings.TrustedCaPath is null && settings.PinnedThumbprints.Count == 0)
            throw new ConfigurationException("relay.remote.tls needs trusted-ca or pinned-thumbprints: peers must be checked against something");
        return settings;
    }

    /// <summary>Loads the certificates and builds the setup to add to the ActorSystem (with <see cref="RelayTls.Hocon"/>).</summary>
    public DotNettySslSetup ToSetup()
    {
        var own = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, CertificatePassword);
        X509Certificate2Collection? cas = null;
        if (TrustedCaPath is not null)
        {
            cas = new X509Certificate2Collection();
            cas.ImportFromPemFile(TrustedCaPath);
        }
        return RelayTls.Setup(own, cas, PinnedThumbprints, Subject);
    }
}

public static class RelayTls
{
    /// <summary>Turns TLS on for Akka.Remote's DotNetty transport (the certificate and checks come from the setup).</summary>
    public static Config Hocon { get; } = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = true");

    /// <summary>
    /// A setup that presents <paramref name="certificate"/> (with its private key), requires the peer's certificate and
    /// accepts it only when it passes every check given: a chain ending in one of <paramref name="trustedCas"/>, a
    /// thumbprint in <paramref name="pinnedThumbprints"/>, a subject matching <paramref name="subject"/>.
    /// </summary>
    public static DotNettySslSetup Setup(X509Certificate2 certificate, X509Certificate2Collection? trustedCas,
        IReadOnlyList<string>? pinnedThumbprints = null, string? subject = null)
    {
        var checks = new List<CertificateValidationCallback>();
        if (trustedCas is { Count: > 0 }) checks.Add(TrustedBy(trustedCas));
        if (pinnedThumbprints is { Count: > 0 }) checks.Add(CertificateValidation.PinnedCertificate(pinnedThumbprints.ToArray()));
        if (!string.IsNullOrEmpty(subject)) checks.Add(CertificateValidation.ValidateSubject(subject, Akka.Event.NoLogger.Instance));
        if (checks.Count == 0) throw new ArgumentException("mutual TLS needs a trusted CA or pinned thumbprints to check peers against");
        return new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true,
            validateCertificateHostname: false, CertificateValidation.Combine(checks.ToArray()));
    }

    /// <summary>Accepts a peer whose certificate chains to one of <paramref name="cas"/> (a private CA: the system's store is not used).</summary>
    public static CertificateValidationCallback TrustedBy(X509Certificate2Collection cas) => (certificate, _, peer, _, log) =>
    {
        if (certificate is null) { log?.Warning("TLS peer {0} presented no certificate", peer); return false; }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var ok = chain.Build(certificate);
        if (!ok) log?.Warning("TLS peer {0} refused: its certificate {1} does not chain to the trusted CA ({2})", peer, certificate.Subject,
            string.Join(", ", chain.ChainStatus.Select(s => s.Status)));
        return ok;
    };
}
