#!/bin/sh
# Builds the fully static, stripped fwatchdog that ships in the FROM scratch
# image, for this machine's architecture or, cross-compiled, for another.
# The Dockerfile, scripts/release.sh and the e2e tests all call this script,
# so the tests exercise the same build the image gets.
#   scripts/build-static.sh [BUILDDIR] [--arch amd64|arm64|armhf]
#   FWATCHDOG_COMMIT=abc1234 scripts/build-static.sh ...   (no .git: the image)
# BUILDDIR defaults to build-static (native) or build-static-ARCH (cross);
# the architecture defaults to the native one (`dpkg --print-architecture`),
# and Docker's name `arm` means armhf. A cross build needs
# `scripts/deps.sh --cross ARCH` (toolchain, apt lists); it unpacks the
# target's libraries into build-sysroot/ARCH (scripts/sysroot.sh) and uses
# the machine file cross/ARCH.ini.
# Result: BUILDDIR/fwatchdog. Fails when the binary is not static or
# still carries glibc's NSS (which would need shared libraries at run time).
# A native build is profile-guided (below): FWATCHDOG_PGO=0 turns that off.
set -eu
cd "$(dirname "$0")/.."
DIR=""
NATIVE="$(dpkg --print-architecture)"
ARCH="$NATIVE"
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) ARCH="${2:?--arch needs a value}"; shift ;;
        --arch=*) ARCH="${1#--arch=}" ;;
        -*) echo "build-static: unknown flag $1" >&2; exit 2 ;;
        *) DIR="$1" ;;
    esac
    shift
done
# Docker's TARGETARCH: empty means native, arm means armhf.
[ -n "$ARCH" ] || ARCH="$NATIVE"
[ "$ARCH" = arm ] && ARCH=armhf
case "$ARCH" in
    amd64) TRIPLET=x86_64-linux-gnu ;;
    arm64) TRIPLET=aarch64-linux-gnu ;;
    armhf) TRIPLET=arm-linux-gnueabihf ;;
    *) echo "build-static: unsupported architecture $ARCH (amd64, arm64, armhf)" >&2; exit 2 ;;
esac
if [ "$ARCH" = "$NATIVE" ]; then
    DIR="${DIR:-build-static}"
    TOOL=""
else
    DIR="${DIR:-build-static-$ARCH}"
    TOOL="$TRIPLET-"
fi

# A build directory is configured once for one architecture.
if [ -f "$DIR/build.ninja" ] && [ "$(cat "$DIR/.arch" 2>/dev/null)" != "$ARCH" ]; then
    echo "build-static: $DIR was configured for another architecture; starting it afresh" >&2
    rm -rf "$DIR"
fi
set --
CROSS_C=""
if [ "$ARCH" != "$NATIVE" ]; then
    SYSROOT="$(scripts/sysroot.sh "$ARCH")"
    # pkg-config finds the target's .pc files in the sysroot, and prefixes
    # their -I and -L paths with it. glibc and the kernel headers come from
    # the cross toolchain (libc6-dev-ARCH-cross), not from the sysroot.
    cat >"$SYSROOT/meson.ini" <<INI
[properties]
sys_root = '$SYSROOT'
pkg_config_libdir = ['$SYSROOT/usr/lib/$TRIPLET/pkgconfig', '$SYSROOT/usr/share/pkgconfig']
lib_dirs = ['$SYSROOT/usr/lib/$TRIPLET']
INI
    [ -f "$DIR/build.ninja" ] ||
        set -- --cross-file "cross/$ARCH.ini" --cross-file "$SYSROOT/meson.ini"
    # Libraries without a .pc file (mbedTLS): their headers, and their
    # archives (lib_dirs above, for meson's find_library).
    CROSS_C="-I$SYSROOT/usr/include"
fi

# Where the source is not a git checkout (the image build), the commit that
# -version prints comes from FWATCHDOG_COMMIT.
[ -z "${FWATCHDOG_COMMIT:-}" ] || set -- "$@" "-Dcommit=$FWATCHDOG_COMMIT"

# -O2 with link-time optimisation, and section garbage collection. Against
# -Os, under callgrind, a proxied request in http mode costs 22.2k
# instructions instead of 23.9k, for 24 KiB more binary (glibc and libevent
# are most of it either way).
# scripts/hot-text.ld (made by scripts/hot-text.sh) puts the sections that
# run at start and per request first, together: only they are then
# resident. The link step gets -ffunction-sections and -fdata-sections too,
# as LTO compiles there, so that this project's functions are sections of
# their own. The link map (fwatchdog.map) is for scripts/hot-text.sh.
LINK="-ffunction-sections -fdata-sections -Wl,--gc-sections -Wl,-Map=%.map"
if [ -f scripts/hot-text.ld ]; then
    LINK="$LINK -Wl,-T,$(pwd)/scripts/hot-text.ld"
    # ninja does not know that the link depends on it; the map is written
    # by each link (the binary's time is strip's)
    [ "$DIR/fwatchdog.map" -nt scripts/hot-text.ld ] || rm -f "$DIR/fwatchdog"
fi
# build B_PGO C_FLAGS [MESON_ARGS...]: configure (or reconfigure) and build.
build() {
    b_pgo=$1 flags=$2
    shift 2
    scripts/build.sh "$DIR" -Dstatic=true -Doptimization=2 -Db_lto=true -Ddebug=false \
        -Dc_args="-ffunction-sections -fdata-sections${CROSS_C:+ $CROSS_C}${flags:+ $flags}" \
        -Dc_link_args="$LINK" -Db_pgo="$b_pgo" "$@"
}

# Profile-guided: a first build counts what runs while scripts/pgo-train.py
# puts it through a function image's requests in every mode, and the second
# compiles with those counts, so that the request path is inlined and laid
# out as it runs and the code that did not run (error paths) is moved out
# of its cache lines. In http mode that took 12% of the instructions and
# 31% of the instruction-cache misses off each proxied request, and 3% of
# its CPU time (bench/README.md). Code the training does not reach is
# compiled as without a profile (-fprofile-partial-training), and so are the
# unit tests built beside it, which have no counts (-Wno-missing-profile). The counts
# are made again whenever the sources or the compiler change (pgo.sum).
# The training runs the binary, so it is done for native builds only;
# FWATCHDOG_PGO=0 builds without it.
PGO="${FWATCHDOG_PGO:-1}"
[ "$ARCH" = "$NATIVE" ] || PGO=0
pgo_sum() {
    { cc --version | head -n 1; cat meson.build meson_options.txt scripts/pgo-train.py \
        watchdog/*.[ch] watchdog/version.h.in modes/*.[ch]; } | sha256sum | cut -d' ' -f1
}
if [ "$PGO" = 1 ]; then
    SUM="$(pgo_sum)"
    if [ "$(cat "$DIR/pgo.sum" 2>/dev/null)" != "$SUM" ]; then
        rm -f "$DIR/pgo.sum"
        build generate "" "$@"
        find "$DIR" -name '*.gcda' -delete
        echo "build-static: training run for the profile-guided build" >&2
        python3 scripts/pgo-train.py "$DIR/fwatchdog" || {
            echo "build-static: the training run failed; FWATCHDOG_PGO=0 builds without a profile" >&2
            exit 1
        }
        echo "$SUM" >"$DIR/pgo.sum"
    fi
    build use "-fprofile-partial-training -Wno-missing-profile" "$@"
else
    build off "" "$@"
fi
echo "$ARCH" >"$DIR/.arch"

BIN="$DIR/fwatchdog"
"${TOOL}strip" --strip-all "$BIN"

if "${TOOL}readelf" -l "$BIN" | grep -Eq 'INTERP|DYNAMIC'; then
    echo "build-static: $BIN is dynamically linked" >&2
    exit 1
fi
# glibc's NSS loads libnss_*.so at run time: it cannot work in an empty image.
if grep -Eqa 'nsswitch\.conf|libnss_' "$BIN"; then
    echo "build-static: $BIN contains glibc NSS (getaddrinfo/getpwnam...); it would need shared libraries at run time" >&2
    exit 1
fi
echo "build-static: $BIN ($ARCH) $(wc -c <"$BIN") bytes, static, stripped"
