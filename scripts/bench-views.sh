#!/usr/bin/env bash
# Measures the views of a trace (deftrace timeline, report, summary) on traces of about EVENTS
# events (default 100,000), in one run:
#   - a real one: testdata/defer_heavy (newest Go release), ~19 events a round, one goroutine;
#   - a made one: the same number of events over 3,000 goroutines, a panic recovered for every
#     20 events (what a busy service's trace holds), written by this script.
# For each: the seconds and peak memory of each conversion (/usr/bin/time), the size of what it
# wrote, and for the HTML report the time Chromium (headless) took to open it and the time its
# script took until the page was drawn (the page's own performance.now() when done).
#   scripts/bench-views.sh [BUILD_DIR] [EVENTS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
. "$here/headless-chromium.sh"
build=${1:-$root/build}
events=${2:-100000}
[[ -x /usr/bin/time ]] || { echo "bench-views: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
cmake --build "$build" --target deftrace -j"$(nproc)" >/dev/null
deftrace=$build/cmd/deftrace/deftrace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
newest=$(go_minors | sort -V | tail -1)
(cd "$root/testdata/defer_heavy" && go_for "$newest" build -o "$tmp/defer_heavy" .)
"$deftrace" -o /dev/null --json "$tmp/real.json" "$tmp/defer_heavy" $(((events + 18) / 19)) >/dev/null 2>&1 || true

python3 - "$tmp/made.json" "$events" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
site = lambda f, l: {"function": f, "file": "/srv/app/handler.go", "line": l}
with open(path, "w") as out:
    out.write('{"schema": "deftrace.trace/1", "go_version": "go1.27.3", "program": ["./svc"], "mode": "full", "events": [\n')
    seq, t = 0, 0
    def ev(g, kind, **kw):
        global seq, t
        seq += 1
        t += 7
        e = {"seq": seq, "goroutine": g, "time": "2026-12-07T10:%02d:%02d.%06dZ" % (t // 60000000 % 60, t // 1000000 % 60, t % 1000000), "kind": kind}
        e.update(kw)
        out.write(("" if seq == 1 else ",\n") + json.dumps(e))
    while seq < n:
        g = 100 + (seq // 20) % 3000
        ev(g, "defer", site=site("main.handle", 10), defer_kind="open-coded", fn="main.handle.func1")
        for k in range(14):
            ev(g, "defer", site=site("main.query", 20), defer_kind="stack", fn="sync.(*Mutex).Unlock")
            if k % 2:
                ev(g, "defer_call", site=site("main.query", 20), fn="sync.(*Mutex).Unlock", cause="return")
        ev(g, "panic", site=site("main.handle", 12), type="string", value="boom %d" % seq, stack=[site("main.handle", 12), site("main.serve", 30)])
        ev(g, "defer_call", site=site("main.handle", 10), fn="main.handle.func1", cause="panic")
        ev(g, "recover", site=site("main.handle.func1", 11), recovered=True, type="string", value="boom")
        ev(g, "recovery", resume="main.serve", panics_ended=1)
    out.write('\n], "exit": {"status": 0}}\n')
PY

measure() { # NAME COMMAND...: seconds, peak RSS
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  awk -v n="$name" '{printf "  %-22s %6.2f s %8.1f MiB", n, $1, $2 / 1024}' "$tmp/time"
}
for t in real made; do
  n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$tmp/$t.json")
  echo "== $t trace: $n events, $(du -k "$tmp/$t.json" | cut -f1) KiB of JSON"
  echo "$(measure "deftrace timeline" "$deftrace" timeline "$tmp/$t.json" -o "$tmp/$t.timeline.json")   $(du -k "$tmp/$t.timeline.json" | cut -f1) KiB"
  echo "$(measure "deftrace report" "$deftrace" report "$tmp/$t.json" -o "$tmp/$t.html")   $(du -k "$tmp/$t.html" | cut -f1) KiB"
  echo "$(measure "deftrace summary" "$deftrace" summary "$tmp/$t.json")"
  start=$(date +%s.%N)
  chromium_headless --dump-dom "file://$tmp/$t.html" >"$tmp/$t.dom"
  end=$(date +%s.%N)
  ready=$(grep -o 'data-ready-ms="[0-9]*"' "$tmp/$t.dom" | grep -o '[0-9]*' || echo '?')
  printf '  %-22s %6.2f s (Chromium started, page loaded, drawn); the page script ready after %s ms\n' \
    "report in Chromium" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$ready"
done
