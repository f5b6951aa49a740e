# Sourced by the set-up scripts: the Debian packages of a list that are not installed, and
# installing them (needs root or sudo).
#   missing_packages PKG...               prints those not installed, one a line
#   install_packages WHO PKG...           installs those not installed ("WHO: installing ...")
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_packages() {
  local who=$1 sudo=
  shift
  local -a missing
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]})) || return 0
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  echo "$who: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
