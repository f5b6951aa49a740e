#!/usr/bin/env bash
# What following children costs: `go build` and `go vet` of a small package
# (tests/fixtures/gotest_exec) with a cold GOCACHE, untraced and under deftrace, with and without -f
# in a few modes. Wall-clock seconds, best of REPEAT runs (default 1). QUICK=1 leaves out -f in
# the default scope (the toolchain's programs are followed for their panics only there, so it
# costs about what --panics-only does).
#   scripts/bench-follow.sh [BUILD_DIR] [GO_MINOR] [REPEAT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
build=$(cd "${1:-$root/build}" && pwd)
minor=${2:-1.27}
repeat=${3:-1}
deftrace=$build/cmd/deftrace/deftrace
goroot=$(go_root_for "$minor")
[[ -n $goroot ]] || { echo "bench-follow: no Go $minor" >&2; exit 1; }
export GOFLAGS=-mod=mod GOPROXY=off GOMAXPROCS=2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root/tests/fixtures/gotest_exec"

# seconds LABEL COMMAND...: the best wall-clock time of `repeat` runs, each with a new GOCACHE.
seconds() {
  local label=$1 best= i t0 t1 s
  shift
  for ((i = 0; i < repeat; i++)); do
    rm -rf "$tmp/cache"
    t0=$(date +%s.%N)
    GOCACHE=$tmp/cache "$@" >"$tmp/out" 2>&1 </dev/null || {
      echo "bench-follow: $label failed:" >&2
      tail -20 "$tmp/out" >&2
      exit 1
    }
    t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc)
    if [[ -z $best ]] || (($(echo "$s < $best" | bc))); then best=$s; fi
  done
  printf '%-44s %8.2f s\n' "$label" "$best"
}

for cmd in "build -o /dev/null ." "vet ."; do
  echo "== go $cmd (Go $minor, cold GOCACHE)"
  # shellcheck disable=SC2086
  {
    seconds "untraced" "$goroot/bin/go" $cmd
    seconds "deftrace (go command only)" "$deftrace" -o /dev/null "$goroot/bin/go" $cmd
    seconds "deftrace -f --panics-only" "$deftrace" -f --panics-only -o /dev/null "$goroot/bin/go" $cmd
    seconds "deftrace -f --scope '^main\\.'" "$deftrace" -f --scope '^main\.' -o /dev/null "$goroot/bin/go" $cmd
    [[ -n ${QUICK:-} ]] || seconds "deftrace -f (default scope)" "$deftrace" -f -o /dev/null "$goroot/bin/go" $cmd
  }
done
