#!/usr/bin/env bash
# Fetches the real Go programs of scripts/real-binaries.txt from the npm registry (`npm pack`, no
# install scripts run), checks each archive's sha256 and unpacks its executable into the cache:
#   $DEFTRACE_CACHE/real/<go-minor>/<file name>   (DEFTRACE_CACHE: default ~/.cache/deftrace)
# and writes the table the tests read, $DEFTRACE_CACHE/real/binaries.txt:
#   <go-minor> <go version> <path>
# Idempotent: a binary already unpacked is kept. Needs npm (Debian's npm package when missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${DEFTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deftrace}
dir=$cache/real
mkdir -p "$dir"
if ! command -v npm >/dev/null; then
  . "$here/apt-packages.sh"
  install_packages setup-real-binaries npm
fi
table=$dir/binaries.txt.new
: >"$table"
while read -r minor version package file sha; do
  out=$dir/$minor/$(basename "$file")
  if [[ ! -x $out ]]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent --ignore-scripts "$package" >/dev/null)
    archive=$(ls "$work"/*.tgz)
    got=$(sha256sum "$archive" | awk '{print $1}')
    if [[ $got != "$sha" ]]; then
      echo "setup-real-binaries: $package: sha256 $got, expected $sha" >&2
      exit 1
    fi
    tar -xzf "$archive" -C "$work" "$file"
    mkdir -p "$dir/$minor"
    install -m 0755 "$work/$file" "$out"
    rm -rf "$work"
    trap - EXIT
  fi
  echo "$minor $version $out" >>"$table"
done < <(grep -v '^\s*#' "$here/real-binaries.txt" | awk 'NF>=5')
mv "$table" "$dir/binaries.txt"
echo "setup-real-binaries: $(wc -l <"$dir/binaries.txt") binaries in $dir"
