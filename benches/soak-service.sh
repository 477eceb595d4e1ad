#!/usr/bin/env bash
# Build-service soak: `bale serve` (no local workers) and two `bale worker`s
# sharing its database and storage; quick builds of examples/static-docs
# (one version each, on the host stack) are submitted while the workers are
# killed with SIGKILL at random and started again. Then every build must
# have ended (succeeded, or failed as "worker lost" after its last attempt),
# none may be stuck, and every succeeded build's package must be in the
# repository and verify. The driver is soak-service.py.
#
# Usage: benches/soak-service.sh BALE
# Environment: SOAK_BUILDS (120), SOAK_SECONDS (120, how long workers are
#   killed), SOAK_KILL_EVERY (2, mean seconds between kills), SOAK_LEASE (3),
#   BALE_TEST_POSTGRES_URL (PostgreSQL instead of SQLite, as scripts/test
#   starts it), BENCH_DIR (/var/tmp/bale-bench).
set -euo pipefail
bale=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-/var/tmp/bale-bench}/soak-service
count=${SOAK_BUILDS:-120}
[ "$(id -u)" -eq 0 ] || { echo "soak-service: needs root (the build sandbox)" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work/sources" "$work/logs" "$work/tmp"
export BALE_HOME=$work/home NO_COLOR=1
"$bale" -q key generate

# One source per build: the example on the host stack, at its own version.
for i in $(seq "$count"); do
  src=$work/sources/docs-$(printf %03d "$i")
  cp -r "$here/examples/static-docs" "$src"
  python3 - "$src/bale.toml" "1.0.$i" <<'EOF'
import re, sys
path, version = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r'(?m)^version\s*=.*$', f'version     = "{version}"', text, count=1)
text = re.sub(r'(?m)^name = "debian-bookworm"$', 'name = "host"', text)
# The host stack installs nothing: its python3 is the host's.
text = re.sub(r'(?ms)^\[dependencies\]\n.*?\n\n', '', text)
open(path, "w").write(text)
EOF
done

if [ -n "${BALE_TEST_POSTGRES_URL:-}" ]; then
  db=bale_soak_$$
  psql "$BALE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db"
  database=${BALE_TEST_POSTGRES_URL%/*}/$db
  label=postgres
else
  database=sqlite://$BALE_HOME/bale.db
  label=sqlite
fi
storage=$BALE_HOME/repo
token=$("$bale" token create --scope build --database "$database" | grep -o 'bale_[0-9a-zA-Z_]*')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bale" -q serve --listen "127.0.0.1:$port" --workers 0 --no-supervise --allow-local-sources \
  --database "$database" --storage "$storage" >"$work/logs/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; [ -z "${db:-}" ] || psql "$BALE_TEST_POSTGRES_URL" -qc "DROP DATABASE $db" 2>/dev/null || true' EXIT
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && break; sleep 0.1; done

python3 "$here/benches/soak-service.py" --bale "$bale" --port "$port" --token "$token" \
  --database "$database" --storage "$storage" --sources "$work/sources" --home "$BALE_HOME" \
  --public-key "$BALE_HOME/keys/default.pub" --logs "$work/logs" --tmpdir "$work/tmp" --label "$label" \
  --seconds "${SOAK_SECONDS:-120}" --kill-every "${SOAK_KILL_EVERY:-2}" --lease-secs "${SOAK_LEASE:-3}"
