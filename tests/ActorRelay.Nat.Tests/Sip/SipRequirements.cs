using Xunit;

namespace ActorRelay.Nat.Tests.Sip;

public enum SipRunDecision { Run, Skip, Fail }

/// <summary>
/// Whether a <see cref="KamailioCallSpecs"/> variant runs here, is skipped (with the reason), or fails.
/// The product variant follows the NAT lab's rule: skipped where the lab or Kamailio is missing, but under
/// CI=true a missing capability is a failure (CI runs as root and installs Kamailio). The reference variant
/// (Debian's rtpengine) is opt-in, because it proves the harness, not the product, and rtpengine is not
/// installed by anything CI runs: it is skipped unless ACTORRELAY_SIP_REFERENCE=rtpengine, even under CI, and
/// once asked for, anything missing is a failure.
/// </summary>
public static class SipRequirements
{
    public const string ReferenceVariable = "ACTORRELAY_SIP_REFERENCE";

    public static (SipRunDecision Decision, string? Why) Decide(string? reference, string? referenceSetting, bool ci,
        string? labUnavailable, bool kamailioInstalled, bool relayInstalled)
    {
        if (reference is not null && !string.Equals(referenceSetting, reference, StringComparison.Ordinal))
            return (SipRunDecision.Skip,
                $"the {reference} reference run is opt-in ({ReferenceVariable}={reference}): it proves the SIP harness, not ActorRelay");
        var missing = labUnavailable
                      ?? (kamailioInstalled ? null : "kamailio is not installed (scripts/sip-test-deps.sh installs it)")
                      ?? (relayInstalled ? null : $"{reference ?? "the relay"} is not installed");
        if (missing is null) return (SipRunDecision.Run, null);
        if (reference is not null) return (SipRunDecision.Fail, $"{ReferenceVariable}={reference} but {missing}");
        return ci ? (SipRunDecision.Fail, $"SIP tests cannot run under CI: {missing}") : (SipRunDecision.Skip, missing);
    }

    /// <summary>Runs, skips (Skip.If) or throws, per <see cref="Decide"/> on this machine.</summary>
    public static void RequireOrSkip(string? reference, bool relayInstalled)
    {
        var (decision, why) = Decide(reference, Environment.GetEnvironmentVariable(ReferenceVariable),
            Environment.GetEnvironmentVariable("CI") == "true", NatLab.Unavailable(), KamailioProxy.Installed, relayInstalled);
        if (decision == SipRunDecision.Fail) throw new InvalidOperationException(why);
        Skip.If(decision == SipRunDecision.Skip, why);
    }
}
