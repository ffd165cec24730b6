#!/usr/bin/env bash
# Install the Debian packages the tests use (mosquitto broker, Chromium for the browser
# test) when they are missing. Needs root and apt-get; elsewhere it says what to install.
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "note: ${missing[*]} not installed; the tests that need them will skip." >&2
    echo "      install with: sudo apt-get install ${missing[*]}" >&2
fi
