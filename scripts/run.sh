#!/bin/sh
# Installs dependencies, builds fwatchdog and runs it in the foreground with
# fprocess=cat (an echo function) on port 8080. Override with the usual
# environment variables, e.g. fprocess="wc -c" port=9000 scripts/run.sh
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh build
: "${fprocess:=cat}"
: "${port:=8080}"
export fprocess port
echo "fwatchdog: fprocess='$fprocess' on port $port (Ctrl-C to stop). Try:"
echo "  curl -s -d 'hello' http://127.0.0.1:$port/"
echo "  curl -s http://127.0.0.1:$port/_/health"
exec ./build/fwatchdog
