#!/usr/bin/env bash
# Builds everything on a fresh machine (Debian packages, Go toolchains, deftrace) and runs
# deftrace on the bundled example program (testdata/seeds), built with the newest Go of the
# matrix: first `deftrace inspect`, then a trace.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/go-env.sh
scripts/setup-deps.sh
scripts/setup-go.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target deftrace
newest=$(go_minors | sort -V | tail -1)
mkdir -p build/example
(cd testdata/seeds && go_for "$newest" build -o "$root/build/example/seeds" .)
echo "\$ deftrace inspect --func '^main\\.' build/example/seeds"
build/cmd/deftrace/deftrace inspect --func '^main\.' build/example/seeds
echo
echo "\$ deftrace build/example/seeds"
build/cmd/deftrace/deftrace build/example/seeds
