#!/usr/bin/env bash
# Traces every testdata program built by each Go toolchain (default builds) in both modes and
# validates each JSON trace against docs/trace.schema.json (JSON Schema draft 2020-12, with
# Debian's python3-jsonschema).
#   scripts/validate-traces.sh DEFTRACE TESTDATA_BIN
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deftrace=$1
bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
while IFS=$'\t' read -r minor variant program _src dir; do
  [[ $variant == default && $program != signals ]] || continue
  for mode in full panics-only; do
    flag=(); [[ $mode == panics-only ]] && flag=(--panics-only)
    GOMAXPROCS=2 "$deftrace" --no-color "${flag[@]}" -o /dev/null --json "$tmp/$minor-$program-$mode.json" \
      "$dir/prog" >/dev/null 2>&1 </dev/null || true
    n=$((n + 1))
  done
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
