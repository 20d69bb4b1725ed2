#!/usr/bin/env bash
# Installs what the real-NAT tests (tests/ActorRelay.Nat.Tests) need: iproute2, iptables, conntrack.
# Idempotent and quiet; does nothing when they are present. Needs root (the tests need it anyway).
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "nat-test-deps: not root; the NAT tests will be skipped (missing: ${need[*]})" >&2
  exit 0
fi
echo "nat-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
