#!/bin/sh
# Soak test over loopback: streaming and http modes, zero failed requests,
# flat RSS.
#   scripts/soak.sh [SECONDS]           (default 300 per mode)
# FWATCHDOG_BIN selects the binary (default build/fwatchdog).
set -eu
cd "$(dirname "$0")/.."
[ -n "${FWATCHDOG_BIN:-}" ] || { ninja -C build >/dev/null; }
FWATCHDOG_SOAK=1 FWATCHDOG_SOAK_SECONDS="${1:-300}" \
    exec /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/soak
