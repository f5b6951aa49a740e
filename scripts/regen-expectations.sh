#!/usr/bin/env bash
# Regenerates testdata/*/expected-events*.txt from traces taken with the newest Go toolchain of
# the matrix (a versioned expected-events.go1.NN.txt is rewritten by its own release). Read every
# changed line (git diff testdata) before committing.
#   scripts/regen-expectations.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=${1:-$root/build}
[[ -f $build/testdata-bin/manifest.tsv ]] || "$here/build-testdata.sh" "$build/testdata-bin"
newest=$(go_minors | sort -V | tail -1)
DEFTRACE_REGEN=1 DEFTRACE_GO_MINOR=$newest "$build/tests/deftrace_integration_tests" --gtest_filter='TraceMatrix.*' >/dev/null
for f in "$root"/testdata/*/expected-events.go*.txt; do
  [[ -e $f ]] || continue
  minor=${f##*expected-events.go}; minor=${minor%.txt}
  DEFTRACE_REGEN=1 DEFTRACE_GO_MINOR=$minor "$build/tests/deftrace_integration_tests" --gtest_filter='TraceMatrix.*' >/dev/null
done
git -C "$root" status --short testdata
