#!/usr/bin/env bash
# Installs what the SIP tests (tests/ActorRelay.Nat.Tests/Sip) need: Debian's kamailio (its rtpengine,
# nathelper, registrar and usrloc modules come with the main package) and what the NAT lab needs (iproute2,
# iptables, conntrack). Idempotent and quiet; does nothing when all are present.
# It does not install rtpengine: the rtpengine-backed variant of the tests is an opt-in check of the harness
# (ACTORRELAY_SIP_REFERENCE=rtpengine) for which a developer installs rtpengine-daemon by hand.
set -euo pipefail
need=()
[ -x /usr/sbin/kamailio ] && [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/rtpengine.so ] || need+=(kamailio)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
if [ "$(id -u)" != 0 ]; then
  echo "sip-test-deps: not root, so the SIP tests will be skipped (network namespaces and iptables need root)${need:+; missing: ${need[*]}}" >&2
  exit 0
fi
[ ${#need[@]} -eq 0 ] && exit 0
exec bash "$(dirname "$0")/apt-install.sh" sip-test-deps "${need[@]}"
