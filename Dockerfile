# The fwatchdog image: one static binary on an empty base, meant to be copied
# into function images (COPY --from=watchdog /fwatchdog /usr/bin/fwatchdog).
#
#   docker build -t ghcr.io/fwatchdog/fwatchdog:latest .
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 ...
#   podman build --platform linux/arm64 ...        (scripts/test-image.sh)
#
# The build stage always runs on the build machine's own architecture
# (--platform=$BUILDPLATFORM) and cross-compiles for the image's
# ($TARGETARCH: amd64, arm64, or arm for armhf), so no stage runs under
# emulation. It runs the same two scripts as the README and the e2e tests:
# scripts/deps.sh installs Debian 12's packages (and the cross toolchain),
# scripts/build-static.sh builds, strips and checks the static binary. Build
# steps belong in those scripts, not here (tests/e2e/test_dockerfile.py keeps
# it that way).
ARG DEBIAN_IMAGE=debian:12-slim

FROM --platform=$BUILDPLATFORM ${DEBIAN_IMAGE} AS build
ARG TARGETARCH
# The commit -version prints (the build context has no .git).
ARG FWATCHDOG_COMMIT=
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh --cross "$TARGETARCH"
COPY . .
RUN scripts/build-static.sh /out --arch "$TARGETARCH"

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="fwatchdog" \
      org.opencontainers.image.description="Function watchdog for OpenFaaS-style images, a static drop-in for of-watchdog" \
      org.opencontainers.image.source="https://github.com/fwatchdog/fwatchdog" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/fwatchdog /fwatchdog
ENTRYPOINT ["/fwatchdog"]
