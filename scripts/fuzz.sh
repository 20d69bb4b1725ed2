#!/usr/bin/env bash
# Fuzzes one of ActorRelay's readers of untrusted bytes with libFuzzer through SharpFuzz.
#
#   scripts/fuzz.sh <target> [seconds]      e.g. scripts/fuzz.sh classifier 60   (default 60 s)
#   scripts/fuzz.sh --list                  lists the targets (tests/ActorRelay.Fuzz/FuzzTargets.cs)
#
# What it does: installs what it needs (as root: Debian's clang and compiler-rt for -fsanitize=fuzzer; the
# SharpFuzz.CommandLine dotnet tool into artifacts/fuzz/tools), publishes tests/ActorRelay.Fuzz, instruments its
# copy of ActorRelay.dll with SharpFuzz, builds the libFuzzer front end (tests/ActorRelay.Fuzz/driver) and runs the
# target for the given time on a corpus kept in artifacts/fuzz/corpus/<target> (seeded by the target itself).
# Exit status: 0 when the time ran out without a crash; non-zero on a crash, a timeout of one input, or a failed
# step. A crashing input is saved as artifacts/fuzz/crashes/<target>/crash-*; reproduce it without libFuzzer with
#   dotnet artifacts/fuzz/bin/ActorRelay.Fuzz.dll <target> <crash file>
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

SHARPFUZZ_VERSION=2.3.0
out=artifacts/fuzz
project=tests/ActorRelay.Fuzz

if [ "${1:-}" = "" ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
target=$1
seconds=${2:-60}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

log() { echo "fuzz.sh: $*" >&2; }

# --- a C compiler with libFuzzer --------------------------------------------------------------------------------
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "clang with libFuzzer is missing; as root run: apt-get install clang libclang-rt-dev"; exit 1
  fi
  log "installing clang and compiler-rt (libFuzzer) from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends clang libclang-rt-dev >/dev/null
  clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null || { log "clang -fsanitize=fuzzer still fails"; exit 1; }
fi

# --- the SharpFuzz instrumentation tool -------------------------------------------------------------------------
tools=$out/tools
if [ ! -x "$tools/sharpfuzz" ]; then
  log "installing the SharpFuzz.CommandLine $SHARPFUZZ_VERSION dotnet tool"
  dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$tools" >/dev/null
fi

# --- the .NET side: publish, then instrument ActorRelay.dll ------------------------------------------------------
if [ "$target" = "--list" ]; then
  dotnet run --project "$project" -c Release -- 2>&1 | sed -n 's/.*targets: //p' | tr ',' '\n' | sed 's/^ *//'
  exit 0
fi
log "publishing $project"
rm -rf "$out/bin"
dotnet publish "$project" -c Release -o "$out/bin" -v quiet -nologo >/dev/null
"$tools/sharpfuzz" "$out/bin/ActorRelay.dll" >/dev/null
log "instrumented $out/bin/ActorRelay.dll"

# --- the libFuzzer front end ------------------------------------------------------------------------------------
driver=$out/libfuzzer-sharpfuzz
if [ ! -x "$driver" ] || [ "$project/driver/libfuzzer-sharpfuzz.c" -nt "$driver" ]; then
  clang -O1 -fsanitize=fuzzer "$project/driver/libfuzzer-sharpfuzz.c" -o "$driver"
fi

# --- corpus and run ---------------------------------------------------------------------------------------------
corpus=$out/corpus/$target
crashes=$out/crashes/$target
mkdir -p "$corpus" "$crashes"
dotnet "$out/bin/ActorRelay.Fuzz.dll" seeds "$target" "$corpus" || { log "unknown target '$target'"; exit 2; }

log "fuzzing '$target' for $seconds s (corpus $corpus, crashes into $crashes/)"
export ACTORRELAY_FUZZ_COMMAND="exec dotnet $PWD/$out/bin/ActorRelay.Fuzz.dll $target"
set +e
"$driver" -max_total_time="$seconds" -timeout=10 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$crashes/" "$corpus"
status=$?
set -e
if [ "$status" = 0 ]; then
  log "'$target': no crash in $seconds s"
else
  log "'$target': libFuzzer exited with $status; see $crashes/"
fi
exit "$status"
