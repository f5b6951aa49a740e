#!/usr/bin/env bash
# How often a `kill -9` of deftrace takes an attached service down, by when it comes: once
# deftrace is attached (the steady state, also a test: AttachSafety.KillNineNeverTakesTheServiceDown),
# and at a random moment of deftrace's start (the binary read, the attach and its system calls
# run in the process: the narrowest window left, README "Tracing a running program").
#
#   scripts/bench-attach-kill.sh [ROUNDS] [GO_MINOR]      (default 500 rounds, the newest Go)
#
# The service is tests/fixtures/attach_loop in its busy mode (20 goroutines deferring, panicking
# and recovering without pause); a service that dies is counted and started again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
rounds=${1:-500}
minor=${2:-$(go_minors | tail -1)}
deftrace=${DEFTRACE:-$root/build/cmd/deftrace/deftrace}
[[ -x $deftrace ]] || { echo "bench-attach-kill: no $deftrace (build first)" >&2; exit 1; }
tmp=$(mktemp -d)
svc_pid=
trap 'kill -9 $svc_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
(cd "$root/tests/fixtures/attach_loop" && go_for "$minor" build -o "$tmp/svc" .)

start_service() {
  "$tmp/svc" busy >"$tmp/svc.out" 2>&1 &
  svc_pid=$!
  sleep 0.3
}

# run MODE: MODE attached waits for deftrace's "attached" line, then kills it 0-50 ms later;
# MODE start kills it 0-100 ms after starting it (its attach takes some 40 ms of that here).
run() {
  local mode=$1 crashes=0 i
  start_service
  for ((i = 0; i < rounds; i++)); do
    rm -f "$tmp/err" # what the last one wrote there must not pass for this one's
    "$deftrace" -p "$svc_pid" -o /dev/null 2>"$tmp/err" &
    local d=$!
    if [[ $mode == attached ]]; then
      until grep -qs 'deftrace: attached' "$tmp/err" || ! kill -0 "$d" 2>/dev/null; do sleep 0.005; done
      sleep "0.0$((RANDOM % 50))"
    else
      sleep "$(printf '0.%03d' $((RANDOM % 100)))"
    fi
    kill -9 "$d" 2>/dev/null || true
    wait "$d" 2>/dev/null || true
    sleep 0.05
    if ! kill -0 "$svc_pid" 2>/dev/null; then
      crashes=$((crashes + 1))
      wait "$svc_pid" 2>/dev/null || true
      start_service
    fi
  done
  kill -9 "$svc_pid" 2>/dev/null || true
  wait "$svc_pid" 2>/dev/null || true
  echo "kill -9 $mode: $rounds rounds, $crashes service crashes (Go $minor)"
}

run attached
run start
