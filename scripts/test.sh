#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the Debian packages and the Go toolchains
# it needs, builds deftrace twice (normal, and with ASan/UBSan), runs every test in both.
#   scripts/test.sh            everything (what CI runs)
#   DEFTRACE_SKIP_ASAN=1 ...   only the normal build (quicker local runs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

scripts/setup-deps.sh
scripts/setup-go.sh >/dev/null
scripts/setup-go-libs.sh
scripts/setup-postgres.sh
scripts/check-format.sh

echo "== fuzz targets (clang, ASan + UBSan): build and a short run of each"
scripts/fuzz.sh

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== no function in src/ over 80 lines (clang-tidy)"
scripts/check-function-size.sh build
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

if [[ -z ${DEFTRACE_SKIP_ASAN:-} ]]; then
  echo "== build (ASan + UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDEFTRACE_SANITIZE=ON \
        -DDEFTRACE_TESTDATA_OUT="$root/build/testdata-bin" >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests under ASan + UBSan (reusing the Go binaries built above)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -FS testdata -E '^(leaks\.postgres|trace\.expect|install)$'
  # (leaks.postgres and trace.expect's 20-run loops go through the same deftrace code as the
  # leaks and trace.go1.NN tests above; under the sanitizers they would only add minutes. The
  # install test checks the release build for source paths, which the sanitizers' own
  # diagnostics hold in an instrumented build; it ran on the normal build above.)
fi
