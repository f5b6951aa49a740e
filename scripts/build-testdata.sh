#!/usr/bin/env bash
# Builds every testdata program with every Go toolchain of the matrix, in three variants:
#   default, stripped (-ldflags='-s -w'), pie (-buildmode=pie)
# or only those a program lists in its testdata/<program>/variants file (the net/http programs,
# whose builds cost minutes each, keep to the default variant).
# with -gcflags=./...=-d=defer so the compiler reports the kind of each defer statement (of every
# package of the program's module, not only the main one).
#
#   scripts/build-testdata.sh OUTDIR [PROGRAM...]
#
# OUTDIR/<minor>/<variant>/<program>/prog       the binary
# OUTDIR/<minor>/<variant>/<program>/defer.txt  the compiler's -d=defer report
# OUTDIR/manifest.tsv                           minor variant program srcdir bindir (one per build)
# OUTDIR/src/generated-<minor>                  the source of program "generated" (tests/gen)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/go-env.sh"
out=${1:?usage: build-testdata.sh OUTDIR [PROGRAM...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
[[ -s $DEFTRACE_TOOLCHAINS ]] || { echo "build-testdata: no toolchains; run scripts/setup-go.sh" >&2; exit 1; }

programs=("$@")
if ((${#programs[@]} == 0)); then
  for d in "$root"/testdata/*/; do [[ -f $d/go.mod ]] && programs+=("$(basename "$d")"); done
  programs+=(generated)
fi

# "generated": DEFTRACE_GEN_PROGRAMS (200) random programs of tests/gen in one binary, different
# for each release (seed 100 x DEFTRACE_GEN_SEED (1) + the minor version: 1.27 -> 127), written to
# OUTDIR/src/generated-1.NN with the lines.txt the test reads.
generate_programs() {
  local newest minor
  newest=$(go_minors | sort -V | tail -1)
  (cd "$root/tests/gen" && go_for "$newest" build -o "$out/gen/gen" .)
  for minor in $(go_minors); do
    rm -rf "$out/src/generated-$minor"
    "$out/gen/gen" -seed $((${DEFTRACE_GEN_SEED:-1} * 100 + ${minor#1.})) -n "${DEFTRACE_GEN_PROGRAMS:-200}" \
      -o "$out/src/generated-$minor"
    echo "default stripped" >"$out/src/generated-$minor/variants"
  done
}
if [[ " ${programs[*]} " == *" generated "* ]]; then
  generate_programs
fi

jobs=$out/jobs.txt
: >"$jobs"
for minor in $(go_minors); do
  for p in "${programs[@]}"; do
    src=$root/testdata/$p
    [[ $p == generated ]] && src=$out/src/generated-$minor
    need=$(go_mod_minor "$src")
    minor_ge "$minor" "$need" || continue
    variants=(default stripped pie)
    [[ -f $src/variants ]] && read -r -a variants <"$src/variants"
    for variant in "${variants[@]}"; do
      echo "$minor $variant $p $src $out/$minor/$variant/$p" >>"$jobs"
    done
  done
done

build_one() {
  local minor=$1 variant=$2 p=$3 src=$4 dst=$5
  local flags=()
  case $variant in
    stripped) flags=(-ldflags=-s\ -w) ;;
    pie) flags=(-buildmode=pie) ;;
  esac
  mkdir -p "$dst"
  if (cd "$src" && go_for "$minor" build -gcflags=./...=-d=defer "${flags[@]}" -o "$dst/prog" . 2>"$dst/defer.txt"); then
    return 0
  fi
  echo "build-testdata: Go $minor $variant $p failed:" >&2
  cat "$dst/defer.txt" >&2
  return 1
}
export -f build_one go_for go_root_for
export DEFTRACE_CACHE DEFTRACE_TOOLCHAINS

n=$(wc -l <"$jobs")
echo "build-testdata: $n builds (${#programs[@]} programs) into $out" >&2
xargs -P "${DEFTRACE_JOBS:-$(nproc)}" -L 1 bash -c 'build_one "$@"' _ <"$jobs"
# Rebuilding some programs keeps the other programs' lines of the manifest.
manifest=$out/manifest.tsv
{
  if (($#)) && [[ -f $manifest ]]; then
    awk -F'\t' -v built="${programs[*]}" 'BEGIN { n = split(built, b, " "); for (i = 1; i <= n; i++) skip[b[i]] = 1 }
                                          !($3 in skip)' "$manifest"
  fi
  awk '{print $1"\t"$2"\t"$3"\t"$4"\t"$5}' "$jobs"
} >"$manifest.new"
mv "$manifest.new" "$manifest"
echo "build-testdata: done" >&2
