#!/usr/bin/env bash
# The request body arrives on stdin as the client sends it; every line written
# to stdout reaches the client at once. Request headers are in the
# environment: $Http_Method, $Http_Path, $Http_Query, $Http_Content_Type ...
set -euo pipefail

while IFS= read -r line || [ -n "$line" ]; do
    printf 'Hello, %s!\n' "$line"
done
