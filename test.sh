#!/usr/bin/env bash
# Runs every test of ActorRelay: unit, actor (TestKit), loopback UDP on both transports, the remote
# supervisor, the node process end to end, the real-NAT tests in network namespaces and the SIP calls
# through a real Kamailio driving the NG endpoint, and a real Prometheus scraping the node (root only; they install
# what they need first).
# Extra arguments go to `dotnet test` (e.g. --filter ...).
set -uo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" = 0 ] && [ -f scripts/nat-test-deps.sh ]; then
  bash scripts/nat-test-deps.sh || { echo "test.sh: installing the NAT tests' dependencies failed" >&2; exit 1; }
fi
if [ "$(id -u)" = 0 ] && [ -f scripts/sip-test-deps.sh ]; then
  bash scripts/sip-test-deps.sh || { echo "test.sh: installing the SIP tests' dependencies (kamailio) failed" >&2; exit 1; }
fi
if [ "$(id -u)" = 0 ] && [ -f scripts/metrics-test-deps.sh ]; then
  bash scripts/metrics-test-deps.sh || { echo "test.sh: installing the metrics test's dependencies (prometheus) failed" >&2; exit 1; }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test ActorRelay.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# One closing line for people and CI: totals over every test assembly.
awk '/^(Passed|Failed)!/ {
       for (i = 1; i <= NF; i++) {
         gsub(",", "", $(i+1));
         if ($i == "Failed:") f += $(i+1);
         if ($i == "Passed:") p += $(i+1);
         if ($i == "Skipped:") s += $(i+1);
       }
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
