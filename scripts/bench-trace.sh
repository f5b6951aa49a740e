#!/usr/bin/env bash
# Measures tracing costs on this machine, all in one run (best of ROUNDS each):
#   1. a bare ptrace stop/continue (int3 + waitpid + PTRACE_CONT) vs one deftrace breakpoint hit
#      (same stop + register round trip + out-of-line stub), on a native program and on a Go
#      program (bench/go_victim: the same loop in a Go process, with its threads and signals);
#   2. traced/untraced wall time of testdata/defer_heavy in full and --panics-only modes, and
#      deftrace's cost per breakpoint hit and per reported event (full mode; hits counted by
#      --stats) as multiples of the bare stop of a Go program;
#   3. the same full trace with every probe stopping (--no-inline-probes), and the cost of an
#      event recorded in the program without a stop (arch/record_stub.h) against that stop:
#      (inline - untraced - the stops it still took) / the hits it recorded.
#   scripts/bench-trace.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=${1:-$root/build}
rounds=${2:-3}
cmake --build "$build" --target deftrace deftrace_ptrace_cost deftrace_victim -j"$(nproc)" >/dev/null
deftrace=$build/cmd/deftrace/deftrace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
newest=$(go_minors | sort -V | tail -1)
stops=200000

echo "== breakpoint mechanism (native program, $stops stops)"
bench=$("$build/bench/deftrace_ptrace_cost" "$build/tests/deftrace_victim" $stops "$rounds" 2>/dev/null | grep -v '^sum')
echo "$bench"
(cd "$root/bench/go_victim" && go_for "$newest" build -o "$tmp/go_victim" .)
echo "== breakpoint mechanism (Go $newest program, $stops stops)"
bench=$("$build/bench/deftrace_ptrace_cost" "$tmp/go_victim" $stops "$rounds" main.target.abi0 2>/dev/null |
        grep -v '^done')
echo "$bench"
bare_us=$(awk '/bare ptrace/{print $4}' <<<"$bench")

(cd "$root/testdata/defer_heavy" && go_for "$newest" build -o "$tmp/defer_heavy" .)
n=20000
best() { # best wall time in ms of a command, over $rounds runs
  local b=
  for ((i = 0; i < rounds; i++)); do
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
    local ms=$(((t1 - t0) / 1000000))
    [[ -z $b || $ms -lt $b ]] && b=$ms
  done
  echo "$b"
}
echo "== defer_heavy $n rounds (Go $newest)"
untraced=$(best "$tmp/defer_heavy" $n)
full=$(best "$deftrace" --no-color --scope all -o /dev/null "$tmp/defer_heavy" $n)
panics=$(best "$deftrace" --no-color --panics-only -o /dev/null "$tmp/defer_heavy" $n)
"$deftrace" --no-color --scope all --stats -o "$tmp/trace.txt" "$tmp/defer_heavy" $n >/dev/null
stats=$(grep " breakpoint hits" "$tmp/trace.txt")
hits=$(sed -E 's/.* ([0-9]+) breakpoint hits.*/\1/' <<<"$stats")
events=$(sed -E 's/.* ([0-9]+) events.*/\1/' <<<"$stats")
printf 'untraced                 %6d ms\n' "$untraced"
printf 'traced (full)            %6d ms   x%s   %d breakpoint hits, %d events\n' "$full" \
  "$(awk -v a="$full" -v b="$untraced" 'BEGIN{printf "%.1f", a/(b>0?b:1)}')" "$hits" "$events"
printf 'traced (--panics-only)   %6d ms   x%s\n' "$panics" "$(awk -v a="$panics" -v b="$untraced" 'BEGIN{printf "%.1f", a/(b>0?b:1)}')"
echo "$stats"
awk -v f="$full" -v u="$untraced" -v h="$hits" -v e="$events" -v bare="$bare_us" 'BEGIN{
  per = (f - u) * 1000 / h; printf "cost per breakpoint hit  %6.2f us   = %.2f x bare ptrace stop (Go program)\n", per, per / bare
  per = (f - u) * 1000 / e; printf "cost per event (full)    %6.2f us   = %.2f x bare ptrace stop (Go program)\n", per, per / bare }'

inline_stats() { "$deftrace" --no-color --scope all --stats -o "$tmp/trace.txt" "$@" >/dev/null 2>&1 || true; cat "$tmp/trace.txt"; }
stopping=$(best "$deftrace" --no-color --scope all --no-inline-probes -o /dev/null "$tmp/defer_heavy" $n)
all_stats=$(inline_stats "$tmp/defer_heavy" $n)
recorded=$(sed -nE 's/^stats: ([0-9]+) hits recorded without a stop.*/\1/p' <<<"$all_stats")
stops_inline=$(sed -nE 's/.* ([0-9]+) stops, .*/\1/p' <<<"$all_stats")
stops_all=$("$deftrace" --no-color --scope all --no-inline-probes --stats -o "$tmp/t2.txt" "$tmp/defer_heavy" $n >/dev/null 2>&1; sed -nE 's/.* ([0-9]+) stops, .*/\1/p' "$tmp/t2.txt")
echo "== inline probes: defer_heavy $n rounds (Go $newest), --scope all"
printf 'every probe stopping     %6d ms   x%s   %d stops\n' "$stopping" \
  "$(awk -v a="$stopping" -v b="$untraced" 'BEGIN{printf "%.1f", a/(b>0?b:1)}')" "$stops_all"
printf 'probes recording         %6d ms   x%s   %d stops, %d hits recorded without one\n' "$full" \
  "$(awk -v a="$full" -v b="$untraced" 'BEGIN{printf "%.1f", a/(b>0?b:1)}')" "$stops_inline" "$recorded"
awk -v f="$full" -v u="$untraced" -v s="$stopping" -v si="$stops_inline" -v sa="$stops_all" -v r="$recorded" -v bare="$bare_us" 'BEGIN{
  stop = (s - u) * 1000 / (sa > 0 ? sa : 1)
  per = ((f - u) * 1000 - si * stop) / (r > 0 ? r : 1)
  printf "cost per stop (this run) %6.2f us   = %.2f x bare ptrace stop (Go program)\n", stop, stop / bare
  printf "cost per recorded event  %6.2f us   = %.3f x bare ptrace stop (program + deftrace reading it)\n", per, per / bare }'
