#!/usr/bin/env bash
# Validates JSON traces against docs/trace.schema.json (JSON Schema draft 2020-12, with Debian's
# python3-jsonschema):
#   - the raw full-mode traces the trace tests keep (TESTDATA_BIN/traces, every program x release),
#   - a --panics-only and a --leaks trace (raw and normalized) of every program built by the
#     oldest and the newest release of each runtime era (scripts/go-versions.txt's last column;
#     taken here: what the trace says changes with the era, its format with no release),
#   - the normalized expectations testdata/*/expected*.json.
#   scripts/validate-traces.sh DEFTRACE TESTDATA_BIN
# DEFTRACE_GO_MINORS="1.19 1.27" limits the traces taken and checked to those releases' programs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deftrace=$1
bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kept=$(find "$bin/traces" -name '*.json' 2>/dev/null | wc -l)
((kept > 0)) || { echo "validate-traces: no traces in $bin/traces (run the trace.go1.NN tests first)" >&2; exit 1; }
minors=${DEFTRACE_GO_MINORS:-}
wanted() { [[ -z $minors || " $minors " == *" $1 "* ]]; }
for f in "$bin"/traces/*.json; do
  name=$(basename "$f")
  if wanted "${name%%-*}"; then cp "$f" "$tmp/"; fi
done
[[ -n $(ls "$tmp") ]] || { echo "validate-traces: no trace of Go ${minors} in $bin/traces" >&2; exit 1; }
for f in "$here"/../testdata/*/expected*.json; do
  cp "$f" "$tmp/expected-$(basename "$(dirname "$f")")-$(basename "$f")"
done
eras=" $(awk '/^1\.[0-9]+ / { if (!($4 in first)) first[$4] = $1; last[$4] = $1 }
             END { for (e in first) print first[e], last[e] }' "$here/go-versions.txt" | tr '\n' ' ') "
while IFS=$'\t' read -r minor variant program _src dir; do
  [[ $variant == default && $program != signals && $program != generated && $eras == *" $minor "* ]] &&
    wanted "$minor" || continue
  GOMAXPROCS=2 "$deftrace" --no-color --panics-only -o /dev/null --json "$tmp/$minor-$program-panics-only.json" \
    "$dir/prog" >/dev/null 2>&1 </dev/null || true
  GOMAXPROCS=2 "$deftrace" --no-color --leaks -o /dev/null --json "$tmp/$minor-$program-leaks.json" \
    "$dir/prog" >/dev/null 2>&1 </dev/null || true
  GOMAXPROCS=2 "$deftrace" --no-color --leaks --normalize -o /dev/null --json "$tmp/$minor-$program-leaks-n.json" \
    "$dir/prog" >/dev/null 2>&1 </dev/null || true
  if [[ -f $_src/follow ]]; then # -f: children's events, raw and normalized
    GOMAXPROCS=2 "$deftrace" --no-color -f --leaks -o /dev/null --json "$tmp/$minor-$program-follow.json" \
      "$dir/prog" >/dev/null 2>&1 </dev/null || true
    GOMAXPROCS=2 "$deftrace" --no-color -f --normalize -o /dev/null --json "$tmp/$minor-$program-follow-n.json" \
      "$dir/prog" >/dev/null 2>&1 </dev/null || true
  fi
done <"$bin/manifest.tsv"
/usr/bin/python3 - "$here/../docs/trace.schema.json" "$tmp" <<'PY'
import json, sys, glob, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
files = sorted(glob.glob(sys.argv[2] + "/*.json"))
bad = 0
for f in files:
    errors = list(validator.iter_errors(json.load(open(f))))
    for e in errors[:3]:
        print(f"{f.rsplit('/', 1)[1]}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    bad += bool(errors)
print(f"{len(files) - bad} passed, {bad} failed")
sys.exit(1 if bad or not files else 0)
PY
