#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan + UBSan) and runs each for a number of
# executions, one job at a time; prints executions and crashes per target.
#   scripts/fuzz.sh                      every target, 20000 runs each (the quick CI check)
#   scripts/fuzz.sh --runs 1000000       the long run
#   scripts/fuzz.sh fuzz_pclntab ...     only these targets
# Environment: FUZZ_BUILD (build dir, default build-fuzz; one configured with DEFTRACE_FUZZ=ON is
# used as it is), FUZZ_SEED (libFuzzer -seed, default 1),
# CLANGXX/CLANG (compilers, default clang++-14/clang-14).
# A target's working corpus (build-fuzz/corpus/NAME) is kept between runs; findings go to
# build-fuzz/artifacts/NAME/. Exit status 1 when any target crashed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

runs=20000
targets=()
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --runs=*) runs=${1#--runs=}; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

build=${FUZZ_BUILD:-$root/build-fuzz}
cxx=${CLANGXX:-clang++-14}
cc=${CLANG:-clang-14}
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (scripts/setup-deps.sh installs clang-14)" >&2; exit 1; }

# A build directory configured with DEFTRACE_FUZZ=ON already (scripts/test.sh's instrumented
# build, which also holds the test suite) is used as it is configured.
if grep -qs '^DEFTRACE_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
  echo "== build (the fuzz targets of $build)"
else
  echo "== build ($cxx, libFuzzer + ASan + UBSan) in $build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
        -DDEFTRACE_FUZZ=ON -DDEFTRACE_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target deftrace_fuzzers -j"$(nproc)" >/dev/null

echo "== seeds"
seeds=$build/seeds
rm -rf "$seeds"
go_bins=()
# Real Go binaries when the toolchains are installed (scripts/setup-go.sh); synthetic ones always.
if [[ -f scripts/go-env.sh ]]; then
  # shellcheck source=go-env.sh
  source scripts/go-env.sh
  for minor in 1.19 1.22; do
    out=$build/seed-bins/seed-go$minor
    mkdir -p "$(dirname "$out")"
    if [[ -x $out ]] || (cd fuzz/seed-program && go_for "$minor" build -ldflags='-s -w' -o "$out" . 2>/dev/null); then
      go_bins+=("$out")
    fi
  done
fi
"$build/fuzz/deftrace_fuzz_seeds" "$seeds" "${go_bins[@]}"
# Saved traces: the normalized expectations of the test programs (those within max_len), besides
# the raw and JSON Lines traces in fuzz/corpus/fuzz_trace_json.
mkdir -p "$seeds/fuzz_trace_json"
for f in testdata/*/expected*.json; do
  if (($(stat -c %s "$f") < 65536)); then
    cp "$f" "$seeds/fuzz_trace_json/$(basename "$(dirname "$f")")-$(basename "$f")"
  fi
done
echo "seeds: synthetic + ${#go_bins[@]} real Go binaries"

mapfile -t manifest < "$build/fuzz-targets.txt"
for t in "${targets[@]}"; do
  printf '%s\n' "${manifest[@]}" | grep -q "^$t " || { echo "fuzz.sh: no target $t (see fuzz/CMakeLists.txt)" >&2; exit 64; }
done
summary=()
failed=0
for line in "${manifest[@]}"; do
  read -r name max_len exe <<<"$line"
  [[ -n $name ]] || continue
  if ((${#targets[@]})) && [[ ! " ${targets[*]} " == *" $name "* ]]; then continue; fi
  corpus=$build/corpus/$name
  artifacts=$build/artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  [[ -d $seeds/$name ]] && dirs+=("$seeds/$name")
  [[ -d fuzz/corpus/$name ]] && dirs+=("fuzz/corpus/$name")
  before=$(find "$artifacts" -type f | wc -l)
  log=$build/$name.log
  echo "== $name: $runs runs, max_len $max_len"
  start=$(date +%s)
  set +e
  # One job, bounded memory and time per input; UBSan findings abort (built with
  # -fno-sanitize-recover) and are reported like ASan's.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    "$exe" -runs="$runs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 -seed="${FUZZ_SEED:-1}" \
           -print_final_stats=1 -artifact_prefix="$artifacts/" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if ((rc != 0 && crashes == 0)); then crashes=1; fi
  if ((crashes)); then
    failed=1
    echo "   CRASH (exit $rc): see $log and $artifacts"
    grep -m3 -E 'ERROR|runtime error|uncaught|deadly' "$log" | sed 's/^/   /' || true
  fi
  summary+=("$(printf '%-22s %12s execs %6ss %3s crashes' "$name" "${execs:-?}" "$secs" "$crashes")")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
