#!/usr/bin/env bash
# Installs Debian's Chromium (and a font) for the HTML report's browser test
# (tests/report_browser_test.sh) and for scripts/report-screenshots.sh. Idempotent; needs root or
# sudo. scripts/test.sh runs it in the background while deftrace builds.
set -euo pipefail
pkgs=(chromium fonts-dejavu-core)
. "$(dirname "$0")/apt-packages.sh"
install_packages setup-browser "${pkgs[@]}"
dpkg-query -W -f='setup-browser: chromium ${Version}\n' chromium
