#!/bin/sh
# Builds the release binaries, one fully static fwatchdog per architecture,
# with scripts/build-static.sh (cross-compiled where not native), and their
# checksums:
#   dist/fwatchdog-VERSION-linux-amd64
#   dist/fwatchdog-VERSION-linux-arm64
#   dist/fwatchdog-VERSION-linux-armhf
#   dist/SHA256SUMS
#   scripts/release.sh VERSION
# VERSION must be the one in the file VERSION (the only place it is set):
# bump that file, commit, then release, so `fwatchdog -version` and the
# file names agree. Installs the cross toolchains when missing
# (scripts/deps.sh --cross). Each binary is built in build-release-ARCH/,
# from scratch, so no earlier configuration leaks in.
set -eu
cd "$(dirname "$0")/.."
VERSION="${1:?usage: scripts/release.sh VERSION}"
FILE_VERSION="$(cat VERSION)"
if [ "$VERSION" != "$FILE_VERSION" ]; then
    echo "release: VERSION says $FILE_VERSION, not $VERSION; change the file VERSION and commit first" >&2
    exit 2
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "release: warning: uncommitted changes; the binaries say commit $(git rev-parse --short HEAD) all the same" >&2
fi
ARCHES="${RELEASE_ARCHES:-amd64 arm64 armhf}"
./scripts/deps.sh --cross $ARCHES
mkdir -p dist
rm -f dist/SHA256SUMS
for a in $ARCHES; do
    rm -rf "build-release-$a"
    ./scripts/build-static.sh "build-release-$a" --arch "$a"
    cp "build-release-$a/fwatchdog" "dist/fwatchdog-$VERSION-linux-$a"
done
(cd dist && for a in $ARCHES; do sha256sum "fwatchdog-$VERSION-linux-$a"; done >SHA256SUMS)
ls -l dist/
cat dist/SHA256SUMS
