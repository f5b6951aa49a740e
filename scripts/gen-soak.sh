#!/usr/bin/env bash
# Differential testing at length: the random programs of tests/gen, seed after seed, built by
# every toolchain of the matrix and checked by the GeneratedPrograms test (as CI does for seed 1).
#   scripts/gen-soak.sh [ROUNDS [PROGRAMS [FIRST_SEED]]]    defaults: 10 rounds, 500 programs, seed 2
# Needs a build of deftrace and its tests in build/ (cmake --build build). A failing round keeps
# its sources, binaries and test log in build/gen-soak/seed-N; a passing one is removed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-10}
programs=${2:-500}
first=${3:-2}
tests=$root/build/tests/deftrace_integration_tests
[[ -x $tests ]] || { echo "gen-soak: no $tests (build deftrace first)" >&2; exit 1; }
failed=0
for ((seed = first; seed < first + rounds; seed++)); do
  dir=$root/build/gen-soak/seed-$seed
  rm -rf "$dir"
  mkdir -p "$dir"
  DEFTRACE_GEN_SEED=$seed DEFTRACE_GEN_PROGRAMS=$programs \
    "$root/scripts/build-testdata.sh" "$dir" generated >"$dir/build.log" 2>&1 ||
    { echo "gen-soak: seed $seed: build failed ($dir/build.log)"; failed=$((failed + 1)); continue; }
  if DEFTRACE_TESTDATA_OUT=$dir "$tests" --gtest_filter='GeneratedPrograms.*' >"$dir/test.log" 2>&1; then
    echo "gen-soak: seed $seed: $(grep -o '[0-9]* generated programs traced' "$dir/test.log")"
    rm -rf "$dir"
  else
    echo "gen-soak: seed $seed: FAILED, see $dir/test.log"
    failed=$((failed + 1))
  fi
done
echo "gen-soak: $failed of $rounds rounds failed"
((failed == 0))
