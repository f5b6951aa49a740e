#!/usr/bin/env bash
# The bash completion (completion/deftrace), sourced in a plain bash: a few completions, and every
# option of every --help output offered where it applies.
#   tests/completion_test.sh COMPLETION_FILE DEFTRACE_EXE
set -euo pipefail
completion=$(readlink -f "$1")
exe=$(readlink -f "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# `deftrace` on PATH is the one under test: the probe names come from its data directory.
mkdir "$tmp/bin"
ln -s "$exe" "$tmp/bin/deftrace"
export PATH="$tmp/bin:$PATH"
unset DEFTRACE_PROBES_DIR
cd "$tmp"
touch trace.txt trace.json want.json
printf '#!/bin/sh\n' >prog && chmod +x prog

# shellcheck source=/dev/null
source "$completion"

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
oneline() { tr '\n' ' ' <<<"$1"; }

# Completes LINE (the cursor at its end; a trailing space starts a new word) and prints the
# candidates, one a line.
complete_line() {
    local line=$1
    read -r -a COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=('')
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    _deftrace deftrace "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
    printf '%s\n' "${COMPREPLY[@]}"
}

# expect_has LINE WORD...: each WORD is among the candidates for LINE.
expect_has() {
    local line=$1 got w
    shift
    got=$(complete_line "$line")
    for w in "$@"; do
        grep -qxF -- "$w" <<<"$got" || fail "'$line<TAB>' does not offer $w (got: $(oneline "$got"))"
    done
}

# expect_exactly LINE WORD...: the candidates for LINE are exactly the WORDs.
expect_exactly() {
    local line=$1 got want
    shift
    got=$(complete_line "$line" | sort -u)
    want=$(printf '%s\n' "$@" | sort -u)
    [[ $got == "$want" ]] || fail "'$line<TAB>' offers $(oneline "$got")expected $(oneline "$want")"
}

# expect_lacks LINE WORD: WORD is not among the candidates for LINE.
expect_lacks() {
    if complete_line "$1" | grep -qxF -- "$2"; then
        fail "'$1<TAB>' offers $2"
    fi
}

expect_has 'deftrace ins' inspect
expect_has 'deftrace di' diff
expect_exactly 'deftrace --ex' --expect
expect_exactly 'deftrace --no' --no-color --no-inline-probes --normalize
expect_exactly 'deftrace inspect --j' --json
expect_exactly 'deftrace -o tr' trace.txt trace.json
expect_exactly 'deftrace --expect w' want.json
expect_exactly 'deftrace --leaks ./pr' ./prog
expect_exactly 'deftrace diff want.json tr' trace.txt trace.json
# The shipped probes by name (as many as probes/resources holds), or a file.
names=()
for f in "$(dirname "$exe")"/share/deftrace/probes/resources/*.json; do
    [[ -e $f ]] && f=${f##*/} && names+=("${f%.json}")
done
((${#names[@]})) || fail "no shipped probes found beside $exe"
# shellcheck disable=SC2035 # the files made above; none starts with a dash
expect_exactly 'deftrace --probes ' "${names[@]}" *
expect_exactly 'deftrace --probes sql-t' sql-tx
# After the program, its own arguments: deftrace's options are not offered there.
expect_lacks 'deftrace --leaks ./prog --le' --leaks
expect_lacks 'deftrace -- --le' --leaks
expect_lacks 'deftrace ins' --leaks
# A subcommand is only the first word.
expect_lacks 'deftrace --leaks ins' inspect

# Every option of each --help, offered by `-<TAB>` in its place.
for sub in '' inspect diff; do
    help=$("$exe" $sub --help)
    # The option column: "  -o,--output TEXT    Write ..." (a description may name other options).
    opts=$(sed -nE 's/^ +(-[^ ]+).*/\1/p' <<<"$help" | tr ',' '\n' | sort -u)
    [[ -n $opts ]] || fail "no options found in deftrace $sub --help"
    # shellcheck disable=SC2086
    expect_has "deftrace $sub${sub:+ }-" $opts
done

if ((failures)); then
    echo "$failures completion check(s) failed" >&2
    exit 1
fi
echo "completion: all checks passed"
