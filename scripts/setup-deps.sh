#!/usr/bin/env bash
# Installs the Debian packages deftrace builds and tests with (idempotent; needs root or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git clang-format libelf-dev libdw-dev libcapstone-dev libcli11-dev
      libre2-dev                   # RE2: the user's regular expressions in linear time
      nlohmann-json3-dev libgtest-dev googletest python3 python3-jsonschema ca-certificates time
      clang-14 libclang-rt-14-dev  # clang: the libFuzzer targets (scripts/fuzz.sh)
      clang-tidy                   # scripts/check-function-size.sh (run-clang-tidy)
      groff-base man-db            # the man_page test renders docs/deftrace.1 with groff and man
      strace)                      # the attach tests hold a thread of the service with it
. "$(dirname "$0")/apt-packages.sh"
install_packages setup-deps "${pkgs[@]}"
