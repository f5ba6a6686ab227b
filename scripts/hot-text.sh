#!/bin/sh
# Regenerates scripts/hot-text.ld, the linker script that scripts/build-static.sh
# links with: the code and read-only data that the watchdog runs at start
# and per request come first and together in the static binary, so that
# only they are resident (see scripts/hot-text.py for why).
#
#   scripts/hot-text.sh        about three minutes; needs valgrind, curl,
#                              nginx (nginx-light) and python3
#
# It traces the static build under valgrind's lackey in every mode: start,
# /_/health, /_/ready, a /metrics scrape, 100 requests over 4 keep-alive
# connections, a 404 and SIGTERM. Run it again when the request path changes
# much; a stale script still links, it only leaves more of the binary resident.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
W=$(mktemp -d)
PORT=${BASE_PORT:-21410}
VPID=""
cleanup() {
    [ -z "$VPID" ] || kill "$VPID" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/build-static.sh "$W/build" >"$W/build.log" 2>&1 || { cat "$W/build.log" >&2; exit 1; }
BIN=$W/build/fwatchdog

mkdir -p "$W/www" "$W/nginx"
echo hello >"$W/www/index.html"
cat >"$W/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 127.0.0.1:$((PORT + 9)); location / { return 200 "hello\n"; } }
}
EOF

# trace NAME BODY VAR=VALUE...: one traced run of the static binary.
trace() {
    name=$1 body=$2
    shift 2
    env "$@" port="$PORT" metrics_port=$((PORT + 1)) \
        valgrind --tool=lackey --trace-mem=yes --log-file="$W/$name.trace" "$BIN" \
        >"$W/$name.log" 2>&1 &
    VPID=$!
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$PORT/_/health"; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || { echo "hot-text: $name did not start; see its log:" >&2; cat "$W/$name.log" >&2; exit 1; }
        sleep 0.2
    done
    curl -s -o /dev/null "http://127.0.0.1:$PORT/_/ready"
    curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/metrics"
    timeout 300 python3 bench/load.py "$PORT" 100 4 $body >/dev/null
    curl -s -o /dev/null "http://127.0.0.1:$PORT/missing/file"
    kill -TERM "$VPID"
    wait "$VPID" || true
    VPID=""
    python3 scripts/hot-text.py collect "$W/$name.trace" "$W/$name.addrs"
    rm -f "$W/$name.trace"
    echo "hot-text: traced $name" >&2
}

trace streaming 1024 mode=streaming fprocess=cat
trace serializing 1024 mode=serializing fprocess=cat
trace classic 1024 mode=classic fprocess=cat
trace static "" mode=static static_path="$W/www"
trace http "" mode=http upstream_url="http://127.0.0.1:$((PORT + 9))" \
    fprocess="nginx -p $W/nginx -c $W/nginx/nginx.conf"

python3 scripts/hot-text.py script "$W/build/fwatchdog.map" "$W"/*.addrs >"$ROOT/scripts/hot-text.ld"
echo "hot-text: wrote scripts/hot-text.ld ($(grep -c '^    \*' "$ROOT/scripts/hot-text.ld") section patterns)" >&2
