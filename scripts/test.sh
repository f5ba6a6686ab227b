#!/bin/sh
# Installs build and test dependencies, builds, runs the C unit tests,
# the end-to-end suite against build/fwatchdog, then the reliability stage.
# This is the README's test command and what .ci/run runs. Exits non-zero
# on any failure.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh --test
./scripts/build.sh build
meson test -C build --print-errorlogs
FWATCHDOG_BIN="${FWATCHDOG_BIN:-$PWD/build/fwatchdog}"
export FWATCHDOG_BIN
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
# The reliability stage: the suite again under ASan/UBSan, each fuzzer for
# 60 s, a subset under valgrind.
./scripts/ci-reliability.sh
