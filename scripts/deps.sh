#!/bin/sh
# Installs what fwatchdog needs from Debian 12's archive.
#   scripts/deps.sh                        build dependencies
#   scripts/deps.sh --test                 build and test dependencies
#   scripts/deps.sh --cross [ARCH...]      plus cross toolchains and the apt
#                                          lists of the target architectures
#                                          (default arm64 armhf; amd64 too;
#                                          the native one is skipped; Docker's
#                                          `arm` means armhf)
#   scripts/deps.sh --image                what scripts/test-image.sh needs
# Flags combine: scripts/deps.sh --test --cross
set -eu
# libjansson-dev and libmbedtls-dev (libmbedcrypto) are for jwt_auth; the
# evdns resolver and http client it uses are in libevent-dev already.
BUILD="build-essential meson ninja-build pkg-config libevent-dev node-llhttp git libjansson-dev libmbedtls-dev zlib1g-dev"
# Test tools: pytest; unshare (util-linux), a static busybox and readelf/ldd
# for the PID 1 and FROM scratch tests; node and python3 for the templates;
# clang, its sanitizer/libFuzzer runtime and valgrind for the reliability
# stage (scripts/ci-reliability.sh); qemu-user-static for the e2e suite
# against the cross-built binaries (scripts/test-cross.sh). python3-jwt and
# python3-cryptography sign the tokens of the jwt_auth tests
# (tests/e2e/jwtutil.py). shared-mime-info is the content-type database
# that static mode reads as Go does (tests/e2e/test_static.py expects its
# types). The benchmarks need wrk and nginx-light on top (bench/README.md).
TEST="python3 python3-pytest python3-jwt python3-cryptography curl busybox-static util-linux procps binutils libc-bin nodejs clang libclang-rt-14-dev valgrind qemu-user-static shared-mime-info"
# Container runtime for scripts/test-image.sh: rootful podman on runc, and
# debootstrap to make the Debian base images locally.
IMAGE="podman runc debootstrap busybox-static curl python3 binutils qemu-user-static"

PKGS="$BUILD"
ARCHES=""
cross=0
while [ $# -gt 0 ]; do
    case "$1" in
        --test) PKGS="$PKGS $TEST" ;;
        --image) PKGS="$PKGS $IMAGE" ;;
        --cross) cross=1 ;;
        -*) echo "deps.sh: unknown flag $1" >&2; exit 2 ;;
        *) [ "$cross" = 1 ] || { echo "deps.sh: $1 without --cross" >&2; exit 2; }
           # An empty word (Docker's TARGETARCH unset) means the native one.
           ARCHES="$ARCHES ${1:-$(dpkg --print-architecture)}" ;;
    esac
    shift
done
NATIVE="$(dpkg --print-architecture)"
if [ "$cross" = 1 ]; then
    [ -n "$ARCHES" ] || ARCHES="arm64 armhf"
    want=""
    for a in $ARCHES; do
        [ "$a" = arm ] && a=armhf
        case "$a" in amd64|arm64|armhf) ;; *) echo "deps.sh: unsupported architecture $a" >&2; exit 2 ;; esac
        [ "$a" = "$NATIVE" ] && continue
        want="$want $a"
        PKGS="$PKGS crossbuild-essential-$a"
    done
    ARCHES="$want"
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Target architectures: dpkg must know them for apt to fetch their package
# lists (scripts/sysroot.sh downloads their -dev packages; nothing of theirs
# is installed).
update=0
for a in $ARCHES; do
    if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
        $SUDO dpkg --add-architecture "$a"
        update=1
    fi
    apt-cache show "libevent-dev:$a" >/dev/null 2>&1 || update=1
done
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# A mirror caught mid-sync fails an update (an index of the wrong size),
# sometimes for minutes: try again after longer and longer pauses, then go
# on with the lists that did download. The install below (or
# scripts/sysroot.sh's download) still fails, naming the package, if what
# it needs is not in them.
apt_update() {
    for pause in 10 30 60; do
        $SUDO apt-get update -qq && return 0
        echo "deps: apt-get update failed; trying again in ${pause}s" >&2
        sleep "$pause"
    done
    $SUDO apt-get update -qq ||
        echo "deps: apt-get update still fails; going on with the package lists it fetched" >&2
}
if [ -n "$missing" ] || [ "$update" = 1 ]; then
    apt_update
fi
[ -z "$missing" ] && exit 0
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
