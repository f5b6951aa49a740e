#!/usr/bin/env bash
# Times `deftrace inspect --json` on the largest Go binaries at hand — the `go` command of each
# toolchain of the matrix — and prints milliseconds and functions per second (best of N runs).
#   scripts/bench-inspect.sh [DEFTRACE] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/go-env.sh"
deftrace=${1:-$here/../build/cmd/deftrace/deftrace}
runs=${2:-5}
[[ -x $deftrace ]] || { echo "bench-inspect: build deftrace first ($deftrace)" >&2; exit 1; }
printf '%-6s %-12s %9s %10s %10s %12s\n' go binary-MiB functions sites best-ms functions/s
for minor in $(go_minors); do
  bin=$(go_root_for "$minor")/bin/go
  bin=$(readlink -f "$bin")
  [[ -f $bin ]] || continue
  best=
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$deftrace" inspect --json "$bin" >/tmp/bench-inspect.$$.json
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    [[ -z $best || $ms -lt $best ]] && best=$ms
  done
  read -r funcs sites < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); s=j["summary"]; print(j["function_count"], s["open-coded"]+s["stack"]+s["heap"])' /tmp/bench-inspect.$$.json)
  size=$(( $(stat -c %s "$bin") / 1048576 ))
  fps=$(( best > 0 ? funcs * 1000 / best : 0 ))
  printf '%-6s %-12s %9s %10s %10s %12s\n' "$minor" "$size" "$funcs" "$sites" "$best" "$fps"
done
rm -f /tmp/bench-inspect.$$.json
