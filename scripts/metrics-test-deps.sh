#!/usr/bin/env bash
# Installs what the metrics test with a real Prometheus (tests/ActorRelay.EndToEnd.Tests/MetricsNodeProcessSpecs)
# needs: Debian's prometheus server. Its service is not started (the test runs its own Prometheus on a port of its
# own, with a scrape configuration pointing at the node). Idempotent and quiet; does nothing when present.
set -euo pipefail
[ -x /usr/bin/prometheus ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "metrics-test-deps: not root, so the Prometheus test will be skipped (apt-get install prometheus)" >&2
  exit 0
fi
exec bash "$(dirname "$0")/apt-install.sh" metrics-test-deps prometheus
