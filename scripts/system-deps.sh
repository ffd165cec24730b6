#!/usr/bin/env bash
# Install the Debian packages sitless uses when they are missing: mosquitto (the embedded
# broker that keeps sessions across restarts; the demo falls back to amqtt without it) and
# Chromium (the browser test), and libgomp1 (the OpenMP runtime a dependency of the logger
# readers, LightGBM, loads), and PostgreSQL (the tests start their own throwaway server
# with its initdb and pg_ctl). Usage: system-deps.sh [mosquitto] [chromium] [libgomp1]
# [postgresql] (default: mosquitto and chromium).
# Needs root and apt-get; elsewhere it says what to install.
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(mosquitto chromium)
missing=()
for package in "${wanted[@]}"; do
    case "$package" in
        mosquitto) command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto) ;;
        chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
        libgomp1) ldconfig -p 2>/dev/null | grep -q 'libgomp\.so\.1' || missing+=(libgomp1) ;;
        postgresql) command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
            || missing+=(postgresql) ;;
        *) echo "system-deps.sh: unknown package $package" >&2; exit 2 ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "note: ${missing[*]} not installed; install with: sudo apt-get install ${missing[*]}" >&2
    for package in "${missing[@]}"; do
        case "$package" in
            mosquitto) echo "      without mosquitto the embedded broker is amqtt (no sessions kept across restarts)" \
                "and the mosquitto tests skip" >&2 ;;
            chromium) echo "      without chromium the browser test skips" >&2 ;;
            libgomp1) echo "      without libgomp1 .cwa and .bin files cannot be read" >&2 ;;
            postgresql) echo "      without postgresql the PostgreSQL store tests skip" >&2 ;;
        esac
    done
fi
