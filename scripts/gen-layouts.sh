#!/usr/bin/env bash
# Regenerates probes/layouts/go1.NN.json — the runtime structure layouts deftrace uses for
# stripped binaries — from the DWARF of a probe program built by each toolchain of the matrix.
# Never edit those files by hand.
#   scripts/gen-layouts.sh [BUILD_DIR]    (BUILD_DIR holds cmd/deftrace-layouts; default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=${1:-$root/build}
tool=$build/cmd/deftrace-layouts/deftrace-layouts
[[ -x $tool ]] || { echo "gen-layouts: build deftrace-layouts first ($tool)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$root/probes/layouts"
for minor in $(go_minors); do
  (cd "$here/layout-probe" && go_for "$minor" build -o "$tmp/probe-$minor" .)
  "$tool" "$tmp/probe-$minor" >"$root/probes/layouts/go$minor.json"
  echo "gen-layouts: probes/layouts/go$minor.json" >&2
done
