#!/usr/bin/env bash
# Regenerates probes/layouts/go1.NN.json: the Go runtime structure layouts deftrace falls back to
# for binaries without DWARF. For each toolchain of the matrix (scripts/setup-go.sh) it builds the
# probe program scripts/layout-probe with DWARF and extracts the layouts with deftrace-layouts.
# The output is deterministic; the files are never edited by hand.
#
#   scripts/gen-layouts.sh [BUILD_DIR]     BUILD_DIR: the CMake build tree (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=${1:-$root/build}
tool=$build/cmd/deftrace-layouts/deftrace-layouts
out=$root/probes/layouts

[[ -s $DEFTRACE_TOOLCHAINS ]] || { echo "gen-layouts: no toolchains; run scripts/setup-go.sh" >&2; exit 1; }
if [[ ! -x $tool ]]; then
  [[ -f $build/CMakeCache.txt ]] || { echo "gen-layouts: $build is not a CMake build tree" >&2; exit 1; }
  cmake --build "$build" --target deftrace-layouts >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
for minor in $(go_minors); do
  # An explicit empty -ldflags: the layouts come from DWARF, which -w would drop.
  (cd "$here/layout-probe" && go_for "$minor" build -trimpath -ldflags= -o "$tmp/probe-$minor" .)
  "$tool" "$tmp/probe-$minor" >"$tmp/go$minor.json"
  mv "$tmp/go$minor.json" "$out/go$minor.json"
  echo "gen-layouts: probes/layouts/go$minor.json ($(awk -v m="$minor" '$1==m{print $2}' "$DEFTRACE_TOOLCHAINS"))" >&2
done
