#!/bin/sh
# Installs what fwatchdog needs from Debian 12's archive.
#   scripts/deps.sh          build dependencies
#   scripts/deps.sh --test   build and test dependencies
set -eu
# libjansson-dev and libmbedtls-dev (libmbedcrypto) are for jwt_auth; the
# evdns resolver and http client it uses are in libevent-dev already.
BUILD="build-essential meson ninja-build pkg-config libevent-dev node-llhttp git libjansson-dev libmbedtls-dev"
# Test tools: pytest; unshare (util-linux), a static busybox and readelf/ldd
# for the PID 1 and FROM scratch tests; node and python3 for the templates;
# clang, its sanitizer/libFuzzer runtime and valgrind for the reliability
# stage (scripts/ci-reliability.sh). The benchmarks need wrk and nginx-light
# on top (bench/README.md). python3-jwt and python3-cryptography sign the
# tokens of the jwt_auth tests (tests/e2e/jwtutil.py).
TEST="python3 python3-pytest python3-jwt python3-cryptography curl busybox-static util-linux procps binutils libc-bin nodejs clang libclang-rt-14-dev valgrind"
PKGS="$BUILD"
[ "${1:-}" = "--test" ] && PKGS="$BUILD $TEST"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
