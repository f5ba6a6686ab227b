#!/bin/sh
# Builds fwatchdog with meson into a build directory.
#   scripts/build.sh [BUILDDIR] [meson options...]
# e.g. scripts/build.sh build-static -Dstatic=true
set -eu
cd "$(dirname "$0")/.."
DIR="${1:-build}"
[ $# -gt 0 ] && shift
if [ ! -f "$DIR/build.ninja" ]; then
    meson setup "$DIR" --buildtype=release "$@"
elif [ $# -gt 0 ]; then
    meson configure "$DIR" "$@"
fi
ninja -C "$DIR"
