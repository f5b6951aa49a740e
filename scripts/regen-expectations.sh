#!/usr/bin/env bash
# Regenerates testdata/*/expected.json (and expected.go1.NN.json) from normalized traces.
#
# Each program is traced (default build, GOMAXPROCS=2, as the tests run it) with every Go release
# of the matrix, oldest first. The oldest release's trace becomes expected.json; a later release
# gets its own expected.go1.NN.json only when its trace differs from the file in force before it
# (`deftrace diff`), and that file then applies from 1.NN on. A program with a file `follow`
# (testdata/spawn) also gets expected.follow.json (expected.follow.go1.NN.json), traced with -f.
# Read every changed line (git diff testdata) before committing.
#   scripts/regen-expectations.sh [BUILD_DIR] [PROGRAM...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
shift || true
deftrace=$build/cmd/deftrace/deftrace
manifest=$build/testdata-bin/manifest.tsv
[[ -x $deftrace ]] || { echo "regen-expectations: build deftrace first ($deftrace)" >&2; exit 1; }
[[ -f $manifest ]] || "$here/build-testdata.sh" "$build/testdata-bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

programs=("$@")
if ((${#programs[@]} == 0)); then
  mapfile -t programs < <(awk -F'\t' '$2 == "default" && $3 != "signals" && $3 != "generated" {print $3}' "$manifest" | sort -u)
fi

# regen PROGRAM NAME [FLAG...]: testdata/PROGRAM/NAME.json and NAME.go1.NN.json.
regen() {
  local p=$1 name=$2
  shift 2
  local src=$root/testdata/$p current= minor _variant _program _src dir out
  rm -f "$src/$name.json" "$src/$name".go1.*.json
  while IFS=$'\t' read -r minor _variant _program _src dir; do
    out=$tmp/$p-$name-$minor.json
    GOMAXPROCS=2 "$deftrace" "$@" --no-color -o /dev/null --normalize --json "$out" "$dir/prog" \
      >/dev/null 2>&1 </dev/null || true
    [[ -s $out ]] || { echo "regen-expectations: no trace of $p with Go $minor" >&2; exit 1; }
    if [[ -z $current ]]; then
      current=$src/$name.json
      cp "$out" "$current"
    elif ! "$deftrace" diff "$current" "$out" >/dev/null; then
      current=$src/$name.go$minor.json
      cp "$out" "$current"
    fi
  done < <(awk -F'\t' -v p="$p" '$2 == "default" && $3 == p' "$manifest" | sort -t. -k2,2n)
}

for p in "${programs[@]}"; do
  regen "$p" expected
  [[ ! -f $root/testdata/$p/follow ]] || regen "$p" expected.follow -f
done
git -C "$root" status --short testdata
