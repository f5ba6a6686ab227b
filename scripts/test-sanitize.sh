#!/bin/sh
# Builds fwatchdog with AddressSanitizer and UndefinedBehaviorSanitizer
# (build-asan/) and runs the whole e2e suite against it. Every watchdog's
# stderr is kept under build-asan/e2e-logs/ (FWATCHDOG_LOG_DIR); any
# sanitizer report there fails the run, even from a test that passed.
#   scripts/test-sanitize.sh [pytest args...]
set -eu
cd "$(dirname "$0")/.."
DIR=build-asan
if [ ! -f "$DIR/build.ninja" ]; then
    meson setup "$DIR" -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized
fi
ninja -C "$DIR"
LOGS="$PWD/$DIR/e2e-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
export FWATCHDOG_BIN="$PWD/$DIR/fwatchdog"
export FWATCHDOG_LOG_DIR="$LOGS"
export FWATCHDOG_SANITIZED=1
# Reports also go to files of their own (log_path, one per process), so
# they are caught whatever a test fixture does with stderr.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/ubsan"
rc=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e "$@" || rc=$?
PATTERN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer|AddressSanitizer:DEADLYSIGNAL'
if grep -lE "$PATTERN" "$LOGS"/* >/dev/null 2>&1; then
    echo "sanitizer reports in:" >&2
    grep -lE "$PATTERN" "$LOGS"/* >&2
    grep -hE -A12 "$PATTERN" "$LOGS"/* | head -60 >&2
    rc=1
fi
[ "$rc" -eq 0 ] && echo "sanitizers: clean ($(ls "$LOGS" | wc -l) watchdog logs checked)"
exit "$rc"
