#!/usr/bin/env bash
# Lists every function in src/ longer than LIMIT lines (clang-tidy's readability-function-size,
# lines from the opening to the closing brace, comments and blank lines included) and fails if
# there is one. Long functions hide their phases; split them into named pieces instead.
#   scripts/check-function-size.sh [BUILD_DIR]   (default build/; needs its compile_commands.json)
# Environment: LIMIT (default 80), JOBS (default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
limit=${LIMIT:-80}
jobs=${JOBS:-2}
if [[ ! -f $build/compile_commands.json ]]; then
  echo "check-function-size: no $build/compile_commands.json (configure with cmake first)" >&2
  exit 2
fi
config="{Checks: '-*,readability-function-size',
         CheckOptions: [{key: readability-function-size.LineThreshold, value: '$limit'}]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Headers under src/ too (their inline functions), each reported once however many files include it.
status=0
run-clang-tidy -quiet -j "$jobs" -p "$build" -config "$config" -header-filter "^$root/src/" \
  "^$root/src/.*\.cpp\$" >"$log" 2>&1 || status=$?
sed -i 's/\x1b\[[0-9;]*m//g' "$log" # run-clang-tidy asks for colours
if grep -q ' error: ' "$log" || { ((status != 0)) && ! grep -q 'readability-function-size' "$log"; }; then
  cat "$log" >&2
  echo "check-function-size: clang-tidy could not analyse every file" >&2
  exit 2
fi
# "FILE:LINE:COL: warning: function 'NAME' exceeds ..." is followed by
# "FILE:LINE:COL: note: N lines including whitespace and comments (threshold 80)".
offenders=$(awk -v root="$root/" '
  / warning: function .* exceeds recommended size\/complexity thresholds/ {
    split($0, a, ":"); file = a[1]; line = a[2]; sub(root, "", file)
    match($0, /function \047[^\047]*\047/); name = substr($0, RSTART + 10, RLENGTH - 11)
    next
  }
  name != "" && / note: [0-9]+ lines including whitespace and comments/ {
    match($0, /note: [0-9]+ lines/); n = substr($0, RSTART + 6, RLENGTH - 12)
    printf "%s:%s: %s (%d lines)\n", file, line, name, n; name = ""
  }' "$log" | sort -t: -k1,1 -k2,2n -u)
if [[ -n $offenders ]]; then
  echo "$offenders"
  echo "check-function-size: $(wc -l <<<"$offenders") function(s) over $limit lines" >&2
  exit 1
fi
echo "check-function-size: no function in src/ over $limit lines"
