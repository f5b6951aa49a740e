# Sourced: `chromium_headless ARGS... URL` runs Debian's Chromium headless as the report's tests
# and screenshots need it: no sandbox (the tests may run as root), no GPU, and none of the
# connections Chromium makes of its own accord (they fail on a closed network, and a page that
# must load nothing is checked against what it loads); a fresh profile each time.
chromium_headless() {
  local profile rc=0
  profile=$(mktemp -d)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --disable-default-apps --metrics-recording-only --mute-audio --hide-scrollbars \
    --user-data-dir="$profile" "$@" 2>"$profile.log" || rc=$?
  # Chromium's own complaints (no D-Bus here) are noise; what the page logged is kept.
  grep -E 'CONSOLE|Uncaught' "$profile.log" >&2 || true
  rm -rf "$profile" "$profile.log"
  return "$rc"
}
