#!/bin/sh
# Makes the sysroot a cross build links against: the -dev packages (and the
# runtime packages they point into) of the target architecture, downloaded
# from Debian's archive and unpacked with dpkg -x into build-sysroot/ARCH.
# Nothing is installed into the system: on Debian 12 libevent-dev:arm64
# cannot be installed beside libevent-dev:amd64.
#   scripts/sysroot.sh ARCH            (arm64, armhf; ARCH as Debian spells it)
# Needs `dpkg --add-architecture ARCH` and apt lists for it (scripts/deps.sh
# --cross does both). Idempotent: redone only when the package list changes.
set -eu
cd "$(dirname "$0")/.."
ARCH="${1:?usage: scripts/sysroot.sh ARCH}"

# The target libraries fwatchdog links, one place for all of them: a new
# dependency is one more word here (e.g. libjansson-dev libssl-dev).
SYSROOT_PKGS="libevent-dev libevent-core-2.1-7 libevent-extra-2.1-7 libjansson-dev libjansson4 libmbedtls-dev libmbedcrypto7 libmbedtls14 libmbedx509-1 zlib1g-dev zlib1g"

DIR="$PWD/build-sysroot/$ARCH"
STAMP="$DIR/.packages"
WANT="$ARCH: $SYSROOT_PKGS"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    echo "$DIR"
    exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    echo "sysroot: architecture $ARCH is not enabled; run scripts/deps.sh --cross $ARCH" >&2
    exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR/.debs"
pkgs=""
for p in $SYSROOT_PKGS; do pkgs="$pkgs $p:$ARCH"; done
# apt-get download writes into the current directory; as root it drops to
# the _apt user, which must be able to write there.
chmod 0777 "$DIR/.debs"
(cd "$DIR/.debs" && apt-get download -qq $pkgs) >&2
for deb in "$DIR"/.debs/*.deb; do
    dpkg -x "$deb" "$DIR"
done
rm -rf "$DIR/.debs"
echo "$WANT" >"$STAMP"
echo "$DIR"
