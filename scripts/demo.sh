#!/usr/bin/env bash
# Builds everything on a fresh machine (Debian packages, Go toolchains, deftrace) and runs
# `deftrace inspect` on the bundled example program, built with the newest Go of the matrix.
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
(cd testdata/basic && go_for "$newest" build -o "$root/build/example/basic" .)
echo "\$ deftrace inspect --func '^main\\.' build/example/basic"
build/cmd/deftrace/deftrace inspect --func '^main\.' build/example/basic
