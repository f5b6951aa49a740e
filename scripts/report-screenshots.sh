#!/usr/bin/env bash
# The README's pictures of the HTML report, made from real traces (never drawn by hand):
#   docs/images/report-seeds.png     testdata/seeds (the articles' examples), a panic selected
#   docs/images/report-postgres.png  the leaked-transaction scenario on PostgreSQL
#                                    (scripts/pg-scenario.sh, testdata/txleak_pg, --leaks)
# with the newest Go release's builds of the testdata programs, in Debian's Chromium.
#   scripts/report-screenshots.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, docs/images)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-$root/docs/images}
deftrace=$build/cmd/deftrace/deftrace
manifest=$build/testdata-bin/manifest.tsv
. "$here/headless-chromium.sh"
[[ -x $deftrace && -f $manifest ]] || { echo "report-screenshots: build deftrace and the testdata first" >&2; exit 1; }
newest=$(awk -F'\t' '$2 == "default" && $3 == "seeds" {print $1}' "$manifest" | sort -V | tail -1)
bin() { awk -F'\t' -v m="$newest" -v p="$1" '$1 == m && $2 == "default" && $3 == p {print $5 "/prog"}' "$manifest"; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$deftrace" --no-color -o /dev/null --report "$work/seeds.html" "$(bin seeds)" >/dev/null
chromium_headless --window-size=1280,900 --screenshot="$out/report-seeds.png" "file://$work/seeds.html#panic=1" >/dev/null

"$here/pg-scenario.sh" --out "$work/pg" "$(bin txleak_pg)" -- "$deftrace" --leaks --no-color -o "$work/pg.txt" \
  --report "$work/pg.html" >"$work/pg.result"
grep -q '^PASS' "$work/pg.result" || { cat "$work/pg.result" >&2; exit 1; }
chromium_headless --window-size=1280,1000 --screenshot="$out/report-postgres.png" "file://$work/pg.html#panic=0" >/dev/null
ls -l "$out"/report-*.png
