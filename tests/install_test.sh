#!/usr/bin/env bash
# `cmake --install` gives a tree that works wherever it is put: deftrace traces a stripped Go
# binary (layout table from share/deftrace) with --leaks (resource probes from share/deftrace),
# again after the whole prefix is moved; without its data, --leaks says so in one line, exit 69,
# and a stripped binary is still traced, with the runtime layout inferred from its code.
#   tests/install_test.sh BUILD_DIR TESTDATA_OUT SOURCE_DIR
set -euo pipefail
build=$(readlink -f "$1")
testdata=$2
source_dir=$(readlink -f "$3")
unset DEFTRACE_PROBES_DIR
export GOMAXPROCS=2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The newest release's stripped build of testdata/resource_probes (manifest.tsv: minor, variant,
# program, source dir, binary dir), and its default (DWARF) build.
pick() {
    awk -F'\t' -v v="$1" '$2 == v && $3 == "resource_probes" {print $1 "\t" $5 "/prog"}' "$testdata/manifest.tsv" |
        sort -V | tail -1 | cut -f2
}
stripped=$(pick stripped)
with_dwarf=$(pick default)
[[ -x $stripped && -x $with_dwarf ]] || {
    echo "no resource_probes builds in $testdata/manifest.tsv (scripts/build-testdata.sh)" >&2
    exit 1
}

cmake --install "$build" --prefix "$tmp/first" >/dev/null
for f in bin/deftrace share/deftrace/probes/README.md share/man/man1/deftrace.1 \
    share/bash-completion/completions/deftrace; do
    [[ -f $tmp/first/$f ]] || fail "not installed: $f"
done
for d in resources layouts; do
    compgen -G "$tmp/first/share/deftrace/probes/$d/*.json" >/dev/null || fail "not installed: probes/$d/*.json"
done
# Nothing of this machine's tree is compiled in (data paths, __FILE__, debug info).
if strings "$tmp/first/bin/deftrace" | grep -F -e "$source_dir" -e "$build"; then
    fail "bin/deftrace holds a path of the source or build tree"
fi

untraced=$(cd "$tmp" && "$stripped")
# trace PREFIX: the installed deftrace on the stripped build, with every shipped probe.
trace() {
    local out status=0
    out=$(cd "$tmp" && "$1/bin/deftrace" --leaks -o trace.txt "$stripped" 2>"$tmp/stderr") || status=$?
    [[ $status -eq 0 ]] || fail "$1/bin/deftrace --leaks exits $status: $(cat "$tmp/stderr")"
    [[ $out == "$untraced" ]] || fail "$1: the program's output changed under deftrace"
    grep -q '^leaks: 5 resources still open at exit' "$tmp/trace.txt" || fail "$1: no leak report in the trace"
    grep -q '^exit: status 0' "$tmp/trace.txt" || fail "$1: the trace does not end with the exit"
}
trace "$tmp/first"
"$tmp/first/bin/deftrace" --version | grep -q '^deftrace ' || fail "--version"

# Relocated: the data is found relative to the executable, through a link to it too.
mv "$tmp/first" "$tmp/moved"
trace "$tmp/moved"
ln -s "$tmp/moved/bin/deftrace" "$tmp/link"
(cd "$tmp" && ./link --probes os-file -o trace.txt "$stripped" >/dev/null) || fail "deftrace through a link"

# Without its data: one line naming every directory looked in, exit 69, the program not run.
rm -rf "$tmp/moved/share/deftrace"
status=0
out=$(cd "$tmp" && "$tmp/moved/bin/deftrace" --leaks -o trace.txt "$with_dwarf" 2>"$tmp/stderr") || status=$?
[[ $status -eq 69 ]] || fail "without data: exit $status, expected 69"
[[ -z $out ]] || fail "without data: the program ran"
[[ $(wc -l <"$tmp/stderr") -eq 1 ]] || fail "without data: not one line: $(cat "$tmp/stderr")"
for d in "$tmp/moved/share/deftrace/probes" "$tmp/moved/bin/share/deftrace/probes"; do
    grep -qF "$d" "$tmp/stderr" || fail "without data: the message does not name $d: $(cat "$tmp/stderr")"
done
echo "without data: $(cat "$tmp/stderr")"
# ... which a binary with DWARF and no probe does not need, nor a stripped one: without its
# table, its runtime's layout is inferred from its code.
(cd "$tmp" && "$tmp/moved/bin/deftrace" -o trace.txt "$with_dwarf" >/dev/null) ||
    fail "without data, a binary with DWARF and no probes should still be traced"
status=0
(cd "$tmp" && "$tmp/moved/bin/deftrace" -o trace.txt "$stripped" >"$tmp/out" 2>"$tmp/stderr") || status=$?
[[ $status -eq 0 && ! -s $tmp/stderr ]] ||
    fail "without data, stripped binary: exit $status: $(cat "$tmp/stderr")"
grep -q "0 divergences" "$tmp/trace.txt" ||
    fail "without data, stripped binary: the trace does not end with 0 divergences"

if ((failures)); then
    echo "$failures install check(s) failed" >&2
    exit 1
fi
echo "install: all checks passed"
