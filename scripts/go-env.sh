# Sourced by the other scripts: runs one toolchain of the matrix hermetically.
#   go_for 1.22 build ...     (toolchains from scripts/setup-go.sh)
DEFTRACE_CACHE=${DEFTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deftrace}
DEFTRACE_TOOLCHAINS=$DEFTRACE_CACHE/go/toolchains.txt

go_root_for() {
  awk -v m="$1" '$1==m{print $3}' "$DEFTRACE_TOOLCHAINS" 2>/dev/null
}

go_for() {
  local minor=$1; shift
  local root; root=$(go_root_for "$minor")
  if [[ -z $root ]]; then
    echo "go_for: no Go $minor toolchain; run scripts/setup-go.sh" >&2
    return 1
  fi
  # No network, no toolchain switching, no telemetry; one shared build cache.
  env GOROOT="$root" GOTOOLCHAIN=local GOTELEMETRY=off GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod \
      GOCACHE="$DEFTRACE_CACHE/gocache" GOPATH="$DEFTRACE_CACHE/gopath" CGO_ENABLED=0 \
      "$root/bin/go" "$@"
}

go_minors() {
  awk '{print $1}' "$DEFTRACE_TOOLCHAINS"
}

# The `go` directive of a testdata program's go.mod (its minimum Go release), e.g. "1.23".
go_mod_minor() {
  awk '$1=="go"{split($2,v,"."); print v[1]"."v[2]; exit}' "$1/go.mod"
}

minor_ge() { # minor_ge 1.23 1.22 -> true
  [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1) == "$2" ]]
}
