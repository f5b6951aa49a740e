#!/usr/bin/env bash
# docs/deftrace.1 against the program: every option of every --help output (the trace options,
# and those of each subcommand the top-level help lists) and every subcommand must be in the man
# page, its version must be the program's, and groff and man must render it without a warning.
#   tests/man_page_test.sh DEFTRACE_EXE MAN_PAGE
set -euo pipefail
exe=$1
page=$2
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The page's text as roff writes it, without font changes and with \- as -.
text=$(sed -E 's/\\f[BIRP]//g; s/\\-/-/g' "$page")
mentions() { grep -qE -- "(^|[^A-Za-z0-9-])$1([^A-Za-z0-9-]|$)" <<<"$text"; }

top=$("$exe" --help)
# "  deftrace inspect [--json] ..." in the description names the subcommands.
mapfile -t subs < <(sed -nE 's/^ +deftrace ([a-z]+)( .*)?$/\1/p' <<<"$top")
((${#subs[@]} >= 2)) || fail "found only ${#subs[@]} subcommands in deftrace --help"
for sub in '' "${subs[@]}"; do
    # shellcheck disable=SC2086 # no subcommand: no word
    help=$("$exe" $sub --help)
    # The option column: "  -o,--output TEXT    Write ..." (a description may name other options).
    mapfile -t opts < <(sed -nE 's/^ +(-[^ ]+).*/\1/p' <<<"$help" | tr ',' '\n' | sort -u)
    ((${#opts[@]})) || fail "no options found in deftrace $sub --help"
    for o in "${opts[@]}"; do
        mentions "$o" || fail "deftrace${sub:+ $sub} --help lists $o, the man page does not"
    done
    [[ -z $sub ]] || mentions "deftrace $sub" || fail "the man page does not describe deftrace $sub"
    echo "deftrace${sub:+ }$sub: ${#opts[@]} options"
done

# .TH DEFTRACE 1 DATE "deftrace X.Y.Z" ...
version=$("$exe" --version | head -1)
grep -qF "\"$version\"" "$page" || fail "the man page's .TH does not say \"$version\" (deftrace --version)"

# Rendering: groff's warnings (-ww), and man-db's as it would show the page.
if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [[ -z $warnings ]] || fail "groff warns: $warnings"
else
    echo "groff not installed (scripts/setup-deps.sh): rendering not checked"
fi
if command -v man >/dev/null; then
    warnings=$(MANWIDTH=80 man --warnings -l -P cat "$page" 2>&1 >/dev/null)
    [[ -z $warnings ]] || fail "man warns: $warnings"
else
    echo "man not installed (scripts/setup-deps.sh): rendering not checked"
fi

if ((failures)); then
    echo "$failures man page check(s) failed" >&2
    exit 1
fi
echo "man page: all checks passed"
