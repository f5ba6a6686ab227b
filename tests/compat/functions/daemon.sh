#!/bin/sh
# http mode: an fprocess that starts the server in the background and exits 0
# (like nginx or php-fpm -D). The server's output goes nowhere, as a daemon's
# would.
python3 "$(dirname "$0")/upstream.py" </dev/null >/dev/null 2>&1 &
exit 0
