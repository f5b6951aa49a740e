#!/usr/bin/env bash
# Installs what the PostgreSQL scenario needs (scripts/pg-cluster.sh, scripts/pg-scenario.sh):
# the Debian PostgreSQL server and client, curl, and the Go driver (scripts/setup-go-libs.sh).
# Idempotent: returns at once when everything is installed; needs root or sudo otherwise.
#
#   scripts/setup-postgres.sh
#
# No cluster is created or started system-wide: on a machine without PostgreSQL the Debian
# "main" cluster is switched off before installing (create_main_cluster = false), and the tests
# start private throw-away clusters with scripts/pg-cluster.sh. The server binaries are
# /usr/lib/postgresql/<major>/bin (bookworm: 15); the package creates the system user
# `postgres`, which pg-cluster.sh uses when run as root (PostgreSQL refuses to run as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkgs=(postgresql postgresql-client curl)
. "$here/apt-packages.sh"
mapfile -t missing < <(missing_packages "${pkgs[@]}")
if ((${#missing[@]})); then
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q "install ok installed"; then
    # Keep the package from creating (and starting) the system-wide 'main' cluster; dpkg keeps
    # this pre-existing conffile with --force-confold.
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  echo "setup-postgres: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
fi
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
  { echo "setup-postgres: no /usr/lib/postgresql/*/bin/initdb after installing" >&2; exit 1; }
"$here/setup-go-libs.sh"
