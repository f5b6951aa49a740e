#!/usr/bin/env bash
# Checks deftrace's include graph against its layer order. Every #include of a project header in
# src/*/ and cmd/*/ is an edge from the including file's layer to the header's; a layer may
# include its own headers and those of the layers below it, never one above or beside it. Prints
# one line per offending include (file, header, the two layers) and fails if there is any.
#   scripts/check-layers.sh [ROOT]   (default: this checkout)
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"

# The layer order, bottom to top: src/<layer>/ for each, and cmd/ (every program) at the top.
# Layers on one level are independent of each other: neither includes the other (the static
# analyses and the ptrace layer share only arch/ below them; the shipped data is found for the
# command line, not for the tracer).
levels=(
  "release"
  "binary"
  "model"
  "arch"
  "analysis process"
  "goruntime"
  "leaks"
  "shipped trace"
  "output"
  "cmd"
)
# Layers held tighter than their level: each includes only the layers listed, wherever it sits
# (the release registry is data and depends on nothing; the runtime model is pure logic over its
# own types and the release rows).
declare -A only=(
  [release]=""
  [model]="release"
)

declare -A rank=()
for i in "${!levels[@]}"; do
  for l in ${levels[$i]}; do
    rank[$l]=$i
  done
done
order=$(printf '%s < ' "${levels[@]// /|}")
order=${order% < }

# The layer a file (relative to the root) belongs to; empty outside src/ and cmd/.
layer_of() {
  case $1 in
  src/*/*) local rest=${1#src/} && echo "${rest%%/*}" ;;
  cmd/*/*) echo cmd ;;
  *) echo ;;
  esac
}

failures=0
fail() {
  echo "$1"
  failures=$((failures + 1))
}

mapfile -t files < <(find src cmd -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.cc' \) | sort)
for f in "${files[@]}"; do
  from=$(layer_of "$f")
  if [[ -z ${rank[$from]+x} ]]; then
    fail "$f: layer '$from' is not in the declared layer order (scripts/check-layers.sh)"
    continue
  fi
  dir=$(dirname "$f")
  # "header" is looked up next to the file, then in src/ (the include path); <header> in src/
  # only.
  while IFS= read -r inc; do
    quote=${inc:0:1}
    header=${inc:1:${#inc}-2}
    target=""
    if [[ $quote == '"' && -f $dir/$header ]]; then
      target=$(realpath -m --relative-to="$root" "$dir/$header")
    elif [[ -f src/$header ]]; then
      target=$(realpath -m --relative-to="$root" "src/$header")
    else
      continue # generated at build time (deftrace_version.h), or a system header: in no layer
    fi
    to=$(layer_of "$target")
    if [[ -z $to || -z ${rank[$to]+x} ]]; then
      fail "$f: \"$header\": $target is in no declared layer ($from -> ${to:-?})"
    elif [[ $to != "$from" ]]; then
      if [[ -n ${only[$from]+x} ]]; then
        if [[ " ${only[$from]} " != *" $to "* ]]; then
          fail "$f: \"$header\": $from -> $to ($from includes ${only[$from]:-no other layer}${only[$from]:+ only})"
        fi
      elif ((rank[$to] > rank[$from])); then
        fail "$f: \"$header\": $from -> $to (upward: $to is above $from)"
      elif ((rank[$to] == rank[$from])); then
        fail "$f: \"$header\": $from -> $to (sideways: $from and $to are on one level)"
      fi
    fi
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"][^>"]+[>"]).*/\1/p' "$f")
done

if ((failures > 0)); then
  echo "check-layers: $failures include(s) against the layer order: $order" >&2
  exit 1
fi
echo "check-layers: ${#files[@]} files, every include follows the layer order: $order"
