#!/bin/sh
# Runs a short e2e subset with every watchdog under valgrind memcheck; any
# memcheck error or definite leak fails the run. Logs: build/valgrind-logs/.
#   scripts/test-valgrind.sh [pytest args...]
set -eu
cd "$(dirname "$0")/.."
ninja -C build >/dev/null
LOGS="$PWD/build/valgrind-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
export FWATCHDOG_BIN="$PWD/build/fwatchdog"
export FWATCHDOG_LOG_DIR="$LOGS"
export FWATCHDOG_SANITIZED=1
export FWATCHDOG_WRAPPER="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no \
--log-file=$LOGS/memcheck-%p.txt"
rc=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider \
    "tests/e2e/test_smuggling.py" \
    "tests/e2e/test_faults.py::test_disconnect_during_body" \
    "tests/e2e/test_faults.py::test_disconnect_during_function_run" \
    "tests/e2e/test_faults.py::test_function_exits_without_reading_stdin" \
    "tests/e2e/test_limits.py::test_max_request_body_413" \
    -k "not overlong and not oversized_headers" "$@" || rc=$?
bad=$(grep -lE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$LOGS"/memcheck-*.txt 2>/dev/null || true)
n=$(ls "$LOGS"/memcheck-*.txt 2>/dev/null | wc -l)
if [ -n "$bad" ]; then
    echo "memcheck errors in: $bad" >&2
    for f in $bad; do sed -n '/ERROR SUMMARY\|definitely lost\|Invalid\|uninitialised/,+12p' "$f" | head -40 >&2; done
    rc=1
elif [ "$n" -eq 0 ]; then
    echo "no memcheck logs written" >&2
    rc=1
fi
[ "$rc" -eq 0 ] && echo "memcheck: clean ($n watchdog runs)"
exit "$rc"
