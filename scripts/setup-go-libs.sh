#!/usr/bin/env bash
# Installs the Go libraries that testdata programs import, from Debian packages (there is no Go
# module proxy here). Idempotent; needs root or sudo only when something is missing.
#
#   scripts/setup-go-libs.sh
#
# Debian puts Go library sources under /usr/share/gocode/src/<import path>. A testdata program
# uses one through its go.mod, e.g. testdata/txleak_pg/go.mod:
#   require github.com/lib/pq v1.10.7
#   replace github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
# A directory replacement needs no download and no go.sum line, so `go build` works offline with
# every toolchain of the matrix (1.19 ... 1.27), whether -mod=mod (go_for) or the default
# -mod=readonly is in force.
#
# Packages:
#   golang-github-lib-pq-dev   github.com/lib/pq 1.10.7 (bookworm), pure Go, no dependency
#                              outside the standard library for the package itself (its
#                              auth/kerberos sub-package, not used, needs gokrb5, which apt
#                              pulls in as well).
set -euo pipefail
pkgs=(golang-github-lib-pq-dev)
. "$(dirname "$0")/apt-packages.sh"
install_packages setup-go-libs "${pkgs[@]}"
mod=/usr/share/gocode/src/github.com/lib/pq/go.mod # named by testdata/txleak_pg/go.mod
[[ -f $mod ]] || { echo "setup-go-libs: $mod is missing" >&2; exit 1; }
