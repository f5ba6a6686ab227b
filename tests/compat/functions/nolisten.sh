#!/bin/sh
# http mode: an fprocess that runs but never listens.
echo "not listening" >&2
exec sleep 600
