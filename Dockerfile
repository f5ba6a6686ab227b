# The fwatchdog image: one static binary on an empty base, meant to be copied
# into function images (COPY --from=watchdog /fwatchdog /usr/bin/fwatchdog).
#
#   docker build -t ghcr.io/fwatchdog/fwatchdog:latest .
#
# The build stage runs the same two scripts as the README and the e2e tests:
# scripts/deps.sh installs Debian 12's packages, scripts/build-static.sh builds,
# strips and checks the static binary. Build steps belong in those scripts,
# not here (tests/e2e/test_dockerfile.py keeps it that way).
ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/build-static.sh /out

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="fwatchdog" \
      org.opencontainers.image.description="Function watchdog for OpenFaaS-style images, a static drop-in for of-watchdog" \
      org.opencontainers.image.source="https://github.com/fwatchdog/fwatchdog" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/fwatchdog /fwatchdog
ENTRYPOINT ["/fwatchdog"]
