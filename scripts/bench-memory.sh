#!/usr/bin/env bash
# Measures deftrace's peak memory (maximum resident set size, from /usr/bin/time) on a trace of
# about EVENTS events (default 1,000,000: testdata/defer_heavy, ~19 events a round), in every
# output mode, in one run: the text trace to a file, --json, --jsonl, --normalize --json, and
# `deftrace diff` of the JSON trace against itself. The streaming modes hold no event; the
# normalized form (--normalize, --expect) regroups the whole trace and holds it.
#   scripts/bench-memory.sh [BUILD_DIR] [EVENTS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=${1:-$root/build}
events=${2:-1000000}
[[ -x /usr/bin/time ]] || { echo "bench-memory: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
cmake --build "$build" --target deftrace -j"$(nproc)" >/dev/null
deftrace=$build/cmd/deftrace/deftrace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
newest=$(go_minors | sort -V | tail -1)
(cd "$root/testdata/defer_heavy" && go_for "$newest" build -o "$tmp/defer_heavy" .)
rounds=$(((events + 18) / 19))

peak() { # peak RSS in MiB and wall seconds of a command
  /usr/bin/time -f "%M %e" -o "$tmp/time" "$@" >/dev/null 2>&1 || true
  awk '{printf "%7.1f MiB %7.1f s", $1 / 1024, $2}' "$tmp/time"
}

echo "== deftrace peak RSS, Go $newest defer_heavy $rounds rounds"
printf '%-28s %s\n' "text (-o FILE)" "$(peak "$deftrace" -o "$tmp/t.txt" --stats "$tmp/defer_heavy" "$rounds")"
n=$(awk '/^stats:/{for (i = 1; i <= NF; i++) if ($(i + 1) == "events,") print $i}' "$tmp/t.txt")
printf '%-28s %s\n' "--json" "$(peak "$deftrace" -o /dev/null --json "$tmp/t.json" "$tmp/defer_heavy" "$rounds")"
printf '%-28s %s\n' "--jsonl" "$(peak "$deftrace" -o /dev/null --jsonl "$tmp/t.jsonl" "$tmp/defer_heavy" "$rounds")"
printf '%-28s %s\n' "--normalize --json" \
  "$(peak "$deftrace" -o /dev/null --normalize --json "$tmp/n.json" "$tmp/defer_heavy" "$rounds")"
printf '%-28s %s\n' "diff (JSON, $(du -m "$tmp/t.json" | cut -f1) MB each)" "$(peak "$deftrace" diff "$tmp/t.json" "$tmp/t.json")"
echo "events traced: ${n:-?}"
