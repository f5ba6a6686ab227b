#!/bin/sh
# Installs build and test dependencies, builds, runs the C unit tests and
# the end-to-end suite against build/fwatchdog. Exits non-zero on failure.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh --test
./scripts/build.sh build
meson test -C build --print-errorlogs
FWATCHDOG_BIN="${FWATCHDOG_BIN:-$PWD/build/fwatchdog}"
export FWATCHDOG_BIN
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
