#!/bin/sh
# Installs build and test dependencies, builds, runs the C unit tests,
# the end-to-end suite against build/fwatchdog, then the reliability stage,
# then the shipping stages: the suite against the arm64 and armhf binaries
# under qemu-user and the image under podman.
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
# The compatibility corpus: every case recorded from the Go watchdogs,
# replayed against this build (tests/compat/README.md). About a minute.
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/compat
# The reliability stage: the suite again under ASan/UBSan, each fuzzer for
# 60 s, a subset under valgrind.
./scripts/ci-reliability.sh
# Every architecture: the suite against the cross-built arm64 and armhf
# static binaries under qemu-user (the two at once, about 11 minutes), then the image,
# built and run by podman for amd64, arm64 and armhf, with the templates.
./scripts/test-cross.sh
./scripts/test-image.sh amd64 arm64 armhf
