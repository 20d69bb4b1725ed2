#!/usr/bin/env bash
# Fuzzes ActorRelay's readers of untrusted bytes with libFuzzer through SharpFuzz.
#
#   scripts/fuzz.sh <target> [seconds]      one target, e.g. scripts/fuzz.sh classifier 60   (default 60 s)
#   scripts/fuzz.sh all [seconds]           every target but selftest, one after the other, each for that long
#                                           (default 60 s); a summary table at the end (CI: scripts/fuzz.sh all 10)
#   scripts/fuzz.sh --list                  lists the targets (tests/ActorRelay.Fuzz/FuzzTargets.cs)
#
# What it does: installs what it needs (as root: Debian's clang and compiler-rt for -fsanitize=fuzzer; the
# SharpFuzz.CommandLine dotnet tool into artifacts/fuzz/tools), publishes tests/ActorRelay.Fuzz, instruments its
# copy of ActorRelay.dll with SharpFuzz, builds the libFuzzer front end (tests/ActorRelay.Fuzz/driver) and runs each
# target for the given time on a corpus kept in artifacts/fuzz/corpus/<target> (seeded by the target itself), with the
# target's dictionary when it has one. With `all`, each target's libFuzzer output goes to artifacts/fuzz/logs/<target>.log.
# Exit status: 0 when the time ran out without a crash (for `all`: in every target); non-zero on a crash, a timeout of
# one input, or a failed step. A crashing input is saved as artifacts/fuzz/crashes/<target>/crash-*; reproduce it
# without libFuzzer with
#   dotnet artifacts/fuzz/bin/ActorRelay.Fuzz.dll <target> <crash file>
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

SHARPFUZZ_VERSION=2.3.0
out=artifacts/fuzz
project=tests/ActorRelay.Fuzz

if [ "${1:-}" = "" ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
target=$1
seconds=${2:-60}
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

log() { echo "fuzz.sh: $*" >&2; }

if [ "$target" = "--list" ]; then
  dotnet run --project "$project" -c Release -- list
  exit 0
fi

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
log "publishing $project"
rm -rf "$out/bin"
dotnet publish "$project" -c Release -o "$out/bin" -v quiet -nologo >/dev/null
"$tools/sharpfuzz" "$out/bin/ActorRelay.dll" >/dev/null
log "instrumented $out/bin/ActorRelay.dll"
harness=(dotnet "$out/bin/ActorRelay.Fuzz.dll")

# --- the libFuzzer front end ------------------------------------------------------------------------------------
driver=$out/libfuzzer-sharpfuzz
if [ ! -x "$driver" ] || [ "$project/driver/libfuzzer-sharpfuzz.c" -nt "$driver" ]; then
  clang -O1 -fsanitize=fuzzer "$project/driver/libfuzzer-sharpfuzz.c" -o "$driver"
fi

# --- corpus and run ---------------------------------------------------------------------------------------------
# fuzz <target> <seconds> [log file]: runs one target; its status is libFuzzer's. Sets $executions, $added, $seeded
# (the corpus's size before the run, seeds included) and, on a crash, shows the exception of each new crashing input.
fuzz() {
  local name=$1 time=$2 logfile=${3:-} corpus=$out/corpus/$1 crashes=$out/crashes/$1 dict=$out/dict/$1.txt status
  mkdir -p "$corpus" "$crashes" "$out/dict"
  "${harness[@]}" seeds "$name" "$corpus" || { log "unknown target '$name'"; return 2; }
  "${harness[@]}" dict "$name" "$dict"
  seeded=$(ls "$corpus" | wc -l)
  touch "$probe/started"
  local args=(-max_total_time="$time" -timeout=10 -max_len=4096 -print_final_stats=1 -artifact_prefix="$crashes/")
  [ -s "$dict" ] && args+=(-dict="$dict")
  log "fuzzing '$name' for $time s (corpus $corpus: $seeded inputs; crashes into $crashes/)"
  export ACTORRELAY_FUZZ_COMMAND="exec dotnet $PWD/$out/bin/ActorRelay.Fuzz.dll $name"
  set +e
  if [ -n "$logfile" ]; then
    "$driver" "${args[@]}" "$corpus" >"$logfile" 2>&1
    status=$?
  else
    "$driver" "${args[@]}" "$corpus" 2>&1 | tee "$probe/last.log" >&2
    status=${PIPESTATUS[0]}
    logfile=$probe/last.log
  fi
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logfile" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$logfile" | tail -1)
  if [ "$status" = 0 ]; then
    log "'$name': no crash in $time s (${executions:-?} inputs run, ${added:-?} added to the corpus, now $(ls "$corpus" | wc -l))"
  else
    log "'$name': libFuzzer exited with $status; see $crashes/"
    for crash in $(find "$crashes" -type f -newer "$probe/started"); do
      log "reproducing $crash: dotnet $out/bin/ActorRelay.Fuzz.dll $name $crash"
      "${harness[@]}" "$name" "$crash" 2>&1 | grep -v -E '^ +at (System|SharpFuzz)\.' | head -20 >&2 || true
    done
  fi
  return "$status"
}

if [ "$target" != "all" ]; then
  fuzz "$target" "$seconds"
  exit $?
fi

mkdir -p "$out/logs"
failed=0
summary=$(printf '%-14s %-8s %12s %10s %8s' target result executions corpus added)
for name in $("${harness[@]}" list); do
  executions="" added="" seeded=""
  : > "$out/logs/$name.log"
  if fuzz "$name" "$seconds" "$out/logs/$name.log"; then result=ok; else
    result=CRASH; failed=1
    log "'$name' failed; the end of $out/logs/$name.log:"
    { grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$out/logs/$name.log" || true; } | tail -12 >&2
  fi
  after=$(ls "$out/corpus/$name" 2>/dev/null | wc -l)
  summary+=$(printf '\n%-14s %-8s %12s %10s %8s' "$name" "$result" "${executions:-?}" "${seeded:-?}->$after" "${added:-?}")
done
echo "$summary"
if [ "$failed" != 0 ]; then log "a target crashed (inputs in $out/crashes/)"; exit 1; fi
log "every target ran $seconds s without a crash"
