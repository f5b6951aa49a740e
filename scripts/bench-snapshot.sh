#!/usr/bin/env bash
# How long `deftrace snapshot -p` keeps a busy service stopped (its own "stopped_us"): the median
# and 90th percentile of ROUNDS snapshots of tests/fixtures/attach_loop in its busy mode (20
# goroutines deferring, panicking and recovering without pause). With OTHER=path/to/deftrace the
# two binaries take turns, snapshot by snapshot, so that both see the same machine.
#
#   scripts/bench-snapshot.sh [ROUNDS] [GO_MINOR]      (default 50 rounds, the newest Go)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
rounds=${1:-50}
minor=${2:-$(go_minors | tail -1)}
deftrace=${DEFTRACE:-$root/build/cmd/deftrace/deftrace}
[[ -x $deftrace ]] || { echo "bench-snapshot: no $deftrace (build first)" >&2; exit 1; }
tmp=$(mktemp -d)
svc_pid=
trap 'kill -9 $svc_pid 2>/dev/null && wait $svc_pid 2>/dev/null; rm -rf "$tmp"' EXIT
(cd "$root/tests/fixtures/attach_loop" && go_for "$minor" build -o "$tmp/svc" .)
"$tmp/svc" busy >/dev/null 2>&1 &
svc_pid=$!
sleep 0.5

binaries=("$deftrace")
[[ -n ${OTHER:-} ]] && binaries+=("$OTHER")
for ((i = 0; i < rounds; i++)); do
  for b in "${!binaries[@]}"; do
    "${binaries[$b]}" snapshot --json -p "$svc_pid" | sed -n 's/.*"stopped_us": \([0-9]*\).*/\1/p' >>"$tmp/us.$b"
  done
done
for b in "${!binaries[@]}"; do
  sort -n "$tmp/us.$b" | awk -v name="${binaries[$b]}" -v n="$rounds" '
    { v[NR] = $1 }
    END { printf "%s: %d snapshots, stopped median %d us, p90 %d us\n", name, NR, v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)] }'
done
