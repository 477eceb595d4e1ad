#!/bin/sh
# Used by ../check-by-hand.sh once the service is healthy: the greeting, with
# the name HTML-escaped. $PORT is the service's port.
set -eu
base=http://127.0.0.1:$PORT
page=$(curl -fsS "$base/?name=%3Cb%3Ebale%3C%2Fb%3E")
echo "$page"
echo "$page" | grep -qF '<h1>Hello, &lt;b&gt;bale&lt;/b&gt;!</h1>'
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/nothing-here")
[ "$code" = 404 ] || { echo "an unknown path gave $code, not 404" >&2; exit 1; }
echo "GET /nothing-here -> 404"
