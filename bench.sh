#!/usr/bin/env bash
# ActorRelay's benchmark: builds Release and measures the relay processes side by side, interleaved round by
# round (default: ActorRelay socket, ActorRelay akka-io, the C epoll reference, and Debian's rtpengine in userspace
# when installed — apt-get install rtpengine-daemon; 500 channels, 50 packets/s per
# direction, 172-byte packets, 10 s after a 3 s warm-up, 3 rounds), then memory per idle channel and channels
# opened/closed per second at 4,000 channels. Results: a JSON line per run on stdout and bench/results/<time>.json.
# Options (passed on): --relays socket,akka-io,c-epoll,rtpengine --channels N --pps N --size N --seconds S --rounds N
#                      --idle-channels N (0 = skip; --warm-bursts N, default 3: the warm figure is the last of N bursts) --ramp 250,500,1000 (channel steps; highest load with
#                      loss < 0.1 % and p99 < 5 ms) --overload (nominal, twice, nominal rate) --relay-cpu N
#                      (pin the relay to one core with taskset) --competitor N (N CPU-bound spinning processes beside the
#                      relays for the stream rounds, pinned with --relay-cpu too) --relay-cpu-quota P (hold each relay to
#                      P % of a core, stream rounds too; cpu.stat's throttled periods and time per row) --relay-cpu-period MS
#                      (the quota's period, default 10; a container's is 100) --quota-at-start (each relay starts inside
#                      its group, as in a container, instead of joining it once its channels are open) --loop-lag (read ActorRelay's relay loop lag histogram from the
#                      node's /metrics around each window) --baseline-node DLL (relay 'baseline': ActorRelay
#                      socket from another build, e.g. the commit before a change, measured in the same run)
#                      --soak SECONDS (one node for that long, its memory by kind every --soak-interval S; --malloc-info
#                      adds glibc's accounting through gdb; --node-env NAME=VALUE; docs/soak.md).
#          --ng-setup: call setup over the NG protocol instead (ActorRelay's node with --ng, and rtpengine when installed;
#                      --relays actorrelay,baseline --baseline-node DLL: another build of the node in the same run):
#                      --ng-calls N (default 4000) offer+answer pairs with --ng-window W (32) outstanding, then deletes; then
#                      --ng-rate R (1000) calls/s for --ng-seconds S (5) with reply times; --rounds N (3) interleaved, each
#                      after --ng-warmup N (3000) calls set up and deleted unmeasured (in bursts of 3,000).
#          --gc-shape: what a youngest-generation collection costs per MB promoted on this machine (server GC, child
#                      processes): ~24 KB "calls" kept at --ng-rate R (1000) calls/s, --gc-live N (2000) alive, for --seconds S,
#                      their survivors together or interleaved with as much short-lived garbage; --rounds N (3) interleaved.
#          --restart:  restart survival (issue 9): one node, --channels N (1000) over Akka.Remote, half streaming at --pps;
#                      kill -9, then SIGTERM --keep-channels, each restarted on the same data directory and ports; media
#                      back after All set., channels lost, ports leaked; --rounds N (3). Own ports: pool from
#                      --restart-ports (6000), control plane 6470, clients above the pool.
#                      --port-base B moves the other modes' ports (pool B, control 4600+(B-10000)/100, clients B+14000);
#                      relay socket-no-journal = the node with relay.persistence off; relay socket-ng = the node also setting up
#                      NG calls at --ng-rate R (at most min(--ng-live, 1000) up) through the stream, their offer p50/p99 per row.
#                      Needs gcc for the C reference. Uses loopback only, ports < 32768.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build -c Release src/ActorRelay.Bench -v quiet -nologo >/dev/null
exec dotnet src/ActorRelay.Bench/bin/Release/net10.0/ActorRelay.Bench.dll "$@"
