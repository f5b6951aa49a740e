#!/usr/bin/env bash
# What tracing costs on real work, all in one run: gofmt -l -s over $GOROOT/src/net/http (the
# newest toolchain of the matrix builds gofmt from its own sources), untraced and traced in each
# mode, the median wall time of ROUNDS runs each (runs interleaved, so that the machine's drift
# hits every mode alike). Prints each mode's time, its ratio to untraced, and what the stops were;
# `all-stopping` is `--scope all` with every probe stopping (--no-inline-probes), the cost the
# probes that record without a stop save.
#   scripts/bench-real.sh [BUILD_DIR] [ROUNDS]
# The figures quoted in the README come from this script; it asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=${1:-$root/build}
rounds=${2:-5}
cmake --build "$build" --target deftrace -j"$(nproc)" >/dev/null
deftrace=$build/cmd/deftrace/deftrace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
newest=$(go_minors | sort -V | tail -1)
goroot=$(go_root_for "$newest")
(cd "$goroot/src/cmd/gofmt" && go_for "$newest" build -o "$tmp/gofmt" .)
input=$goroot/src/net/http
work=("$tmp/gofmt" -l -s "$input")

modes=(untraced default panics-only all all-stopping)
run_mode() { # mode -> the command line
  case $1 in
  untraced) "${work[@]}" ;;
  default) "$deftrace" --no-color -o /dev/null "${work[@]}" ;;
  panics-only) "$deftrace" --no-color --panics-only -o /dev/null "${work[@]}" ;;
  all) "$deftrace" --no-color --scope all -o /dev/null "${work[@]}" ;;
  all-stopping) "$deftrace" --no-color --scope all --no-inline-probes -o /dev/null "${work[@]}" ;;
  esac
}
declare -A times
for ((r = 0; r < rounds; r++)); do
  for m in "${modes[@]}"; do
    t0=$(date +%s%N)
    run_mode "$m" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times[$m]+="$(((t1 - t0) / 1000)) "
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }

echo "== gofmt -l -s \$GOROOT/src/net/http (Go $newest), median of $rounds runs"
base=$(median "${times[untraced]}")
for m in "${modes[@]}"; do
  t=$(median "${times[$m]}")
  line=$(printf '%-12s %9.3f s   x%s' "$m" "$(awk -v t="$t" 'BEGIN{print t/1e6}')" \
    "$(awk -v a="$t" -v b="$base" 'BEGIN{printf "%.2f", a/(b>0?b:1)}')")
  if [[ $m != untraced ]]; then
    args=(--scope main)
    [[ $m == panics-only ]] && args=(--panics-only)
    [[ $m == all ]] && args=(--scope all)
    [[ $m == all-stopping ]] && args=(--scope all --no-inline-probes)
    "$deftrace" --no-color "${args[@]}" --stats -o "$tmp/trace.txt" "${work[@]}" >/dev/null 2>&1 || true
    stats=$(grep ' breakpoint hits' "$tmp/trace.txt")
    hits=$(sed -E 's/.* ([0-9]+) breakpoint hits.*/\1/' <<<"$stats")
    events=$(sed -E 's/.* ([0-9]+) events.*/\1/' <<<"$stats")
    recorded=$(sed -nE 's/^stats: ([0-9]+) hits recorded without a stop.*/\1/p' "$tmp/trace.txt")
    line+=$(printf '   %9d breakpoint hits  %9d recorded  %9d events' "$hits" "${recorded:-0}" "$events")
    if [[ $m == all* && $events -gt 0 ]]; then
      line+=$(awk -v t="$t" -v b="$base" -v e="$events" 'BEGIN{printf "   %.2f us per event", (t-b)/e}')
    fi
  fi
  echo "$line"
done
