#!/bin/sh
# Builds the libFuzzer targets with clang under ASan/UBSan and runs each for
# a bounded time over its seed corpus in tests/fuzz/corpus/<target>/; the
# parser targets side by side, one per core (FUZZ_JOBS to change it).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default 60 s, every target)
# New inputs go to build-fuzz/corpus/<target>/ (the seeds stay untouched);
# a crash is saved as build-fuzz/crash-<target>-* and fails the run. Keep a
# fixed crash as a regression seed by copying it into the seed corpus.
set -eu
cd "$(dirname "$0")/.."
SECS="${1:-60}"
[ $# -gt 0 ] && shift
TARGETS="${*:-fuzz_request fuzz_plainreq fuzz_upstream fuzz_plainhead fuzz_jwt fuzz_cgiresp}"
DIR=build-fuzz
if [ ! -f "$DIR/build.ninja" ]; then
    CC=clang meson setup "$DIR" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false --buildtype=debugoptimized
fi
ninja -C "$DIR"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
# The parser targets are one process each and run side by side, one per
# core; the request and upstream targets drive a server over a socket and
# use both cores themselves, so each runs alone.
JOBS="${FUZZ_JOBS:-$(nproc)}"
SOLO="fuzz_request fuzz_plainreq fuzz_upstream"

# fuzz_one TARGET: runs it; its summary or failure goes to $DIR/TARGET.result.
fuzz_one() {
    t=$1
    mkdir -p "$DIR/corpus/$t"
    log="$DIR/$t.log"
    # -close_fd_mask=2: the server's request log goes nowhere; libFuzzer and
    # sanitizer reports still reach stderr.
    if "$DIR/tests/fuzz/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$DIR/crash-$t-" \
        "$DIR/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" |
            sed "s/^/  $t /" >"$DIR/$t.result"
    else
        { echo "fuzz: $t FAILED, see $log"
          grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5; } >"$DIR/$t.result"
        return 1
    fi
}

# run_batch TARGET...: starts them together, waits, prints each result.
run_batch() {
    pids=""
    for t in "$@"; do
        echo "fuzz: $t for ${SECS}s"
        fuzz_one "$t" &
        pids="$pids $!"
    done
    for p in $pids; do
        wait "$p" || rc=1
    done
    for t in "$@"; do
        if grep -q "FAILED" "$DIR/$t.result"; then cat "$DIR/$t.result" >&2; else cat "$DIR/$t.result"; fi
    done
}

rc=0
pairable=""
for t in $TARGETS; do
    case " $SOLO " in
        *" $t "*) run_batch "$t" ;;
        *) pairable="$pairable $t" ;;
    esac
done
set -- $pairable
while [ $# -gt 0 ]; do
    batch=""
    n=0
    while [ $# -gt 0 ] && [ "$n" -lt "$JOBS" ]; do
        batch="$batch $1"
        n=$((n + 1))
        shift
    done
    run_batch $batch
done
exit $rc
