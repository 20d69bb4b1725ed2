#!/usr/bin/env bash
# Installs what the metrics test with a real Prometheus (tests/ActorRelay.EndToEnd.Tests/PrometheusScrapeSpecs)
# needs: Debian's prometheus server. Its service is not started (the test runs its own Prometheus on a port of its
# own, with a scrape configuration pointing at the node). Idempotent and quiet; does nothing when present.
set -euo pipefail
[ -x /usr/bin/prometheus ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "metrics-test-deps: not root, so the Prometheus test will be skipped (apt-get install prometheus)" >&2
  exit 0
fi
echo "metrics-test-deps: installing prometheus" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# policy-rc.d: the package's maintainer scripts must not start its daemon (it would take port 9090)
cleanup_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  cleanup_policy=1
fi
log=$(mktemp)
status=0
apt-get install -y -qq --no-install-recommends prometheus >"$log" 2>&1 || status=$?
[ "$cleanup_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
[ "$status" = 0 ] || { cat "$log" >&2; echo "metrics-test-deps: installing prometheus failed" >&2; }
rm -f "$log"
exit "$status"
