#!/bin/sh
# Used by ../check-by-hand.sh once the service is healthy: pages and the
# style sheet are served, a missing page is a 404. $PORT is the service's port.
set -eu
base=http://127.0.0.1:$PORT
for path in / /guide/install.html /guide/configure.html /style.css; do
  curl -fsS -o /dev/null -w "GET $path -> %{http_code} %{content_type}\n" "$base$path"
done
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/guide/missing.html")
[ "$code" = 404 ] || { echo "a missing page gave $code, not 404" >&2; exit 1; }
echo "GET /guide/missing.html -> 404"
