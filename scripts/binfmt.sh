#!/bin/sh
# Makes the kernel run arm64 and armhf executables through qemu-user
# (binfmt_misc), as Debian's systemd-binfmt does at boot on a machine with
# qemu-user-static: mounts binfmt_misc when it is not mounted and registers
# the entries Debian ships in /usr/lib/binfmt.d/qemu-{aarch64,arm}.conf.
# Their F flag opens the interpreter now, so foreign programs also run in a
# chroot or a container that has no qemu of its own.
#   scripts/binfmt.sh ARCH...      (arm64, armhf; amd64 and the native one: nothing to do)
# Exits 0 when every ARCH runs, 1 when one cannot be registered (not root,
# no binfmt_misc); nothing is changed for an entry already registered.
set -eu
BM=/proc/sys/fs/binfmt_misc
NATIVE="$(dpkg --print-architecture)"
rc=0
for a in "$@"; do
    [ "$a" = "$NATIVE" ] && continue
    case "$a" in
        arm64) name=aarch64 ;;
        armhf|arm) name=arm ;;
        amd64) name=x86_64 ;;
        *) echo "binfmt: unsupported architecture $a" >&2; exit 2 ;;
    esac
    if [ -f "$BM/qemu-$name" ]; then
        grep -qx enabled "$BM/qemu-$name" && continue
        echo 1 >"$BM/qemu-$name" 2>/dev/null && continue
    fi
    conf="/usr/lib/binfmt.d/qemu-$name.conf"
    if [ ! -f "$conf" ]; then
        echo "binfmt: $conf missing (qemu-user-static)" >&2
        rc=1; continue
    fi
    if [ ! -f "$BM/register" ]; then
        mount -t binfmt_misc binfmt_misc "$BM" 2>/dev/null || true
    fi
    if ! cat "$conf" >"$BM/register" 2>/dev/null; then
        echo "binfmt: cannot register qemu-$name (needs root and binfmt_misc)" >&2
        rc=1
    fi
done
exit $rc
