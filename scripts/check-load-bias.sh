#!/usr/bin/env bash
# Checks that the load bias is applied only by LoadBias (src/binary/load_bias.h): no other source
# adds or subtracts a bias by hand, or keeps one as a bare integer. Prints each offending line and
# fails if there is any.
#   scripts/check-load-bias.sh [ROOT]   (default: this checkout)
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"

# `x + bias`, `bias_ - y`, `bias += 1`, `uint64_t bias`, ... in any spelling (bias, bias_, load_bias).
arith='([-+]=?[[:space:]]*[A-Za-z_]*bias[A-Za-z_]*\b)|(\b[A-Za-z_]*bias[A-Za-z_]*[[:space:]]*[-+]=?[^-+>])'
integer='\b(u?int(8|16|32|64)_t|size_t|long|unsigned|auto)[[:space:]]+[A-Za-z_]*bias[A-Za-z_]*\b'
found=$(grep -rnE --include='*.h' --include='*.cpp' "$arith|$integer" src cmd bench tests fuzz |
  grep -v '^src/binary/load_bias\.h:' || true)
if [[ -n "$found" ]]; then
  echo "load bias arithmetic outside src/binary/load_bias.h (convert with LoadBias::runtime/link):"
  echo "$found"
  exit 1
fi
