#!/usr/bin/env bash
# Usage: scripts/apt-install.sh NAME PACKAGE... — installs Debian packages for the tests, quietly, as root, without
# letting their maintainer scripts start a daemon (kamailio's would take port 5060, prometheus's port 9090).
# NAME starts its messages. Exits non-zero with apt-get's output when the install fails.
set -euo pipefail
name=$1; shift
echo "$name: installing $*" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
cleanup_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  cleanup_policy=1
fi
log=$(mktemp)
status=0
apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 || status=$?
[ "$cleanup_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
[ "$status" = 0 ] || { cat "$log" >&2; echo "$name: installing $* failed" >&2; }
rm -f "$log"
exit "$status"
