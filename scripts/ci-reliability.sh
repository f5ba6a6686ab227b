#!/bin/sh
# The reliability stage of CI, after the normal build and e2e run:
# the e2e suite under ASan/UBSan, each fuzzer for a bounded time, and a
# short e2e subset under valgrind memcheck. About 8 minutes on 2 cores.
#   scripts/ci-reliability.sh [FUZZ_SECONDS]     (default 60)
set -eu
cd "$(dirname "$0")/.."
./scripts/test-sanitize.sh
./scripts/fuzz.sh "${1:-60}"
./scripts/test-valgrind.sh
