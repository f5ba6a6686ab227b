#!/bin/sh
# http mode: an fprocess that fails a moment after its start, serving nothing.
sleep 0.5
echo "cannot start" >&2
exit 7
