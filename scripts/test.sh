#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the Debian packages and the Go toolchains
# it needs, builds deftrace twice (normal, and instrumented: clang with ASan + UBSan and the
# libFuzzer targets), runs the fuzz targets briefly and every test in both builds.
#   scripts/test.sh            everything (what CI runs)
#   DEFTRACE_SKIP_ASAN=1 ...   only the normal build (quicker local runs)
#
# The Go side (toolchains, then every testdata program built by each) runs in the background
# while deftrace is built: both keep the two cores of a CI machine busy, and the Go builds fill
# what the C++ builds leave idle (links, the single-threaded fuzz runs). Each phase prints how long
# it took; a table of the phases and the total closes the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
testdata_bin=$root/build/testdata-bin
mkdir -p build
logs=$root/build/test-logs
mkdir -p "$logs"

phases=()
suite_start=$(date +%s)
summary() {
  echo "== phases (wall-clock; those marked & ran in the background, beside the others)"
  printf '%s\n' "${phases[@]}"
  local total=$(($(date +%s) - suite_start))
  printf 'test.sh: total %dm%02ds\n' $((total / 60)) $((total % 60))
}
record() { # record NAME SECONDS
  phases+=("$(printf '  %-44s %5ss' "$1" "$2")")
}
# phase NAME COMMAND...: runs COMMAND, records and prints its wall-clock seconds; stops the suite
# (after the summary) when it fails.
phase() {
  local name=$1 start rc=0
  shift
  echo "== $name"
  start=$(date +%s)
  "$@" || rc=$?
  local secs=$(($(date +%s) - start))
  record "$name" "$secs"
  echo "== $name: ${secs}s$( ((rc)) && echo ", FAILED (exit $rc)")"
  if ((rc)); then
    summary
    exit "$rc"
  fi
}
# background NAME COMMAND...: starts a phase in the background, its output in build/test-logs;
# join NAME waits for it, shows its output and fails the suite if it failed.
declare -A bg_pid bg_start
background() {
  local name=$1
  shift
  echo "== $name (in the background: $logs/$name.log)"
  bg_start[$name]=$(date +%s)
  rm -f "$logs/$name.rc"
  (
    rc=0
    start=$(date +%s)
    "$@" || rc=$?
    echo "$rc $(($(date +%s) - start))" >"$logs/$name.rc"
    exit "$rc"
  ) >"$logs/$name.log" 2>&1 &
  bg_pid[$name]=$!
}
# after NAME COMMAND...: (in a background job) waits for background job NAME to end, then runs
# COMMAND if it succeeded.
after() {
  local name=$1
  shift
  until [[ -s $logs/$name.rc ]]; do sleep 1; done
  local rc _
  read -r rc _ <"$logs/$name.rc"
  ((rc == 0)) || { echo "not run: $name failed"; return 1; }
  "$@"
}
join() {
  local name=$1 rc=0 secs
  wait "${bg_pid[$name]}" || rc=$?
  read -r _ secs <"$logs/$name.rc" || secs=$(($(date +%s) - ${bg_start[$name]}))
  record "$name &" "$secs"
  sed "s/^/  [$name] /" "$logs/$name.log"
  echo "== $name: ${secs}s$( ((rc)) && echo ", FAILED (exit $rc)")"
  if ((rc)); then
    summary
    exit "$rc"
  fi
}
# Whatever fails, no background job outlives the suite.
trap 'for p in "${bg_pid[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# The releases the instrumented build runs the per-release tests for: the oldest and newest of
# each runtime era (scripts/go-versions.txt's last column). Its bugs are in deftrace's own code,
# which changes with the release only where the era does.
era_boundaries() {
  awk '/^1\.[0-9]+ / { if (!($4 in first)) first[$4] = $1; last[$4] = $1 }
       END { for (e in first) { print first[e]; if (last[e] != first[e]) print last[e] } }' \
    scripts/go-versions.txt | sort -V | paste -sd';'
}

background "Go toolchains" scripts/setup-go.sh
setup_packages() {
  scripts/setup-deps.sh
  scripts/setup-go-libs.sh
  scripts/setup-postgres.sh
}
phase "Debian packages" setup_packages
# Chromium, for the report's browser test at the end: a large download, fetched meanwhile.
background "Chromium" scripts/setup-browser.sh
# Real Go programs of releases with no Debian toolchain (esbuild, from the npm registry).
background "real Go binaries (npm)" scripts/setup-real-binaries.sh
# Once the toolchains are in (and the Go libraries the programs import, installed just above).
background "testdata (every program x Go release x variant)" \
  after "Go toolchains" scripts/build-testdata.sh "$testdata_bin"
phase "format (clang-format)" scripts/check-format.sh

# Line tables only in the debug information of both builds (what a backtrace needs): full debug
# information made every file a third slower to compile.
build_normal() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
  cmake --build build -j"$jobs"
}
phase "build (RelWithDebInfo)" build_normal
if [[ -z ${DEFTRACE_SKIP_ASAN:-} ]]; then
  # One instrumented build serves the fuzz targets (whose coverage feedback needs every library
  # instrumented) and the test suite under the sanitizers.
  build_instrumented() {
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
          -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
          -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
          -DDEFTRACE_FUZZ=ON -DDEFTRACE_TESTDATA_OUT="$testdata_bin" \
          -DDEFTRACE_TEST_GO_RELEASES="$(era_boundaries)" >/dev/null
    cmake --build build-asan -j"$jobs"
  }
  phase "build (clang, ASan + UBSan, fuzz targets)" build_instrumented
fi
phase "no function in src/ over 80 lines" scripts/check-function-size.sh build
join "Go toolchains"
join "testdata (every program x Go release x variant)"
join "Chromium"
join "real Go binaries (npm)"

if [[ -z ${DEFTRACE_SKIP_ASAN:-} ]]; then
  phase "fuzz targets (a short run of each)" env FUZZ_BUILD="$root/build-asan" scripts/fuzz.sh
fi
# The testdata programs are built above: ctest does not build them again.
phase "tests" ctest --test-dir build --output-on-failure -j"$jobs" -FS testdata -E '^testdata\.build$'

if [[ -z ${DEFTRACE_SKIP_ASAN:-} ]]; then
  # (leaks.postgres and trace.expect's 20-run loops go through the same deftrace code as the
  # leaks and trace.go1.NN tests; under the sanitizers they would only add minutes. The install
  # test checks the release build for source paths, which the sanitizers' own diagnostics hold
  # in an instrumented build; it ran above. The browser test's views are the unit tests' under
  # the sanitizers.)
  asan_tests() {
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure -j"$jobs" -FS testdata \
        -E '^(testdata\.build|leaks\.postgres|trace\.expect|install|report\.browser)$'
  }
  phase "tests under ASan + UBSan (Go $(era_boundaries | tr ';' ' '))" asan_tests
fi
summary
