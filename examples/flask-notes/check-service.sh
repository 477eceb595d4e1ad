#!/bin/sh
# Used by ../check-by-hand.sh once the service is healthy: adds a note over
# HTTP and reads it back. $PORT is the port the service listens on.
set -eu
base=http://127.0.0.1:$PORT
curl -fsS -X POST -H 'Content-Type: application/json' -d '{"body": "bought milk"}' "$base/notes"
echo
curl -fsS -o /dev/null -w 'POST /notes (form) -> %{http_code}\n' -d 'body=call the plumber' "$base/notes"
code=$(curl -sS -o /dev/null -w '%{http_code}' -d 'body=' "$base/notes")
[ "$code" = 400 ] || { echo "an empty note gave $code, not 400" >&2; exit 1; }
curl -fsS "$base/notes"
curl -fsS "$base/" | grep -q 'call the plumber'
echo "GET / lists the notes"
