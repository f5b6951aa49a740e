#!/usr/bin/env bash
# Installs the Go toolchains of the test matrix from Debian's golang-1.NN-go/-src packages into a
# private cache, without touching the system's apt configuration (see scripts/go-versions.txt).
#
#   scripts/setup-go.sh            install what is missing, then print the toolchain table
#   DEFTRACE_CACHE=/dir ...        where toolchains live (default: ~/.cache/deftrace)
#
# Output table ($DEFTRACE_CACHE/go/toolchains.txt), one line per toolchain:
#   <minor> <go version> <GOROOT>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${DEFTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deftrace}
godir=$cache/go
apt_dir=$godir/apt
mkdir -p "$godir" "$apt_dir/lists/partial" "$apt_dir/archives/partial"

# The mirror this machine's apt already uses.
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[[ -n $mirror ]] || mirror=$(awk '/^deb /{for(i=2;i<=NF;i++) if($i ~ /^https?:/){print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || mirror=http://deb.debian.org/debian

mapfile -t pins < <(grep -v '^\s*#' "$here/go-versions.txt" | awk 'NF>=3')

need=()
for line in "${pins[@]}"; do
  read -r minor _ _ <<<"$line"
  [[ -x $godir/$minor/usr/lib/go-$minor/bin/go ]] || need+=("$line")
done

apt_opts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$apt_dir/sources.list"
          -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache::Archives=$apt_dir/archives" -o Debug::NoLocking=1
          -o "Dir::State::status=$apt_dir/status")
if ((${#need[@]})); then
  : >"$apt_dir/status"
  for s in $(printf '%s\n' "${pins[@]}" | awk '{print $3}' | sort -u); do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $s main"
  done >"$apt_dir/sources.list"
  echo "setup-go: updating package lists ($mirror)" >&2
  apt-get "${apt_opts[@]}" -qq update >/dev/null
fi

used=$godir/used.txt
touch "$used"
for line in "${need[@]}"; do
  read -r minor pin _ <<<"$line"
  pick=$pin
  if ! apt-cache "${apt_opts[@]}" show "golang-$minor-go=$pin" >/dev/null 2>&1; then
    pick=$(apt-cache "${apt_opts[@]}" madison "golang-$minor-go" | awk '{print $3}' | sort -V | tail -1)
    [[ -n $pick ]] || { echo "setup-go: golang-$minor-go is not in the archive any more" >&2; exit 1; }
    echo "setup-go: pinned golang-$minor-go=$pin is gone from the archive; using $pick" >&2
  fi
  echo "setup-go: installing Go $minor ($pick)" >&2
  (cd "$apt_dir/archives" &&
   apt-get "${apt_opts[@]}" -qq download "golang-$minor-go=$pick" "golang-$minor-src=$pick" >/dev/null)
  rm -rf "$godir/$minor.tmp" && mkdir -p "$godir/$minor.tmp"
  for deb in "$apt_dir/archives"/golang-"$minor"-{go,src}_*.deb; do
    case $deb in *"_${pick//:/%3a}_"*) dpkg -x "$deb" "$godir/$minor.tmp" ;; esac
  done
  rm -rf "$godir/$minor" && mv "$godir/$minor.tmp" "$godir/$minor"
  rm -f "$apt_dir/archives"/golang-"$minor"-*.deb
  grep -v "^$minor " "$used" >"$used.tmp" || true
  echo "$minor $pick" >>"$used.tmp" && mv "$used.tmp" "$used"
done

table=$godir/toolchains.txt
: >"$table.tmp"
for line in "${pins[@]}"; do
  read -r minor _ _ <<<"$line"
  root=$godir/$minor/usr/lib/go-$minor
  # `go version` rather than `go env GOVERSION`, which Go 1.15 does not know.
  ver=$(GOROOT=$root GOTOOLCHAIN=local GOTELEMETRY=off "$root/bin/go" version | awk '{print $3}')
  [[ $ver == go$minor* ]] || { echo "setup-go: $root reports '$ver', expected go$minor" >&2; exit 1; }
  echo "$minor $ver $root" >>"$table.tmp"
done
mv "$table.tmp" "$table"
cat "$table"
