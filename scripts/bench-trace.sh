#!/usr/bin/env bash
# Measures tracing costs on this machine, all in one run (best of ROUNDS each):
#   1. a bare ptrace stop/continue (int3 + waitpid + PTRACE_CONT) vs one deftrace breakpoint hit
#      (same stop + register round trip + out-of-line stub), on a native program and on a Go
#      program (bench/go_victim: the same loop in a Go process, with its threads and signals);
#   2. traced/untraced wall time of testdata/defer_heavy in full and --panics-only modes, and
#      deftrace's cost per breakpoint hit and per reported event (full mode; hits counted by
#      --stats) as multiples of the bare stop of a Go program.
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
stats=$(tail -1 "$tmp/trace.txt")
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
