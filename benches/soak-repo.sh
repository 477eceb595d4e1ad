#!/usr/bin/env bash
# Repository soak: one `bale serve` (embedded defaults on 127.0.0.1) killed
# with SIGKILL and restarted every few seconds while concurrent publishers
# PUT distinct small signed packages and downloaders GET, HEAD and Range-GET
# them, their index, signature and metadata. Then every acknowledged publish
# must be there byte for byte, nothing partial may have been served, every
# unacknowledged publish must go through when sent again, and the storage
# must hold nothing but package files. The driver is soak-repo.py.
#
# Usage: benches/soak-repo.sh BALE [local|s3|both]   (default: both; s3 needs moto_server)
# Environment: SOAK_SECONDS (60), SOAK_PUBLISHERS (4), SOAK_DOWNLOADERS (4),
#   SOAK_KILL_EVERY (3, seconds between kills, jittered), SOAK_PACKAGES (600),
#   BENCH_DIR (/var/tmp/bale-bench).
set -euo pipefail
bale=$(realpath "$1")
which=${2:-both}
here=$(cd "$(dirname "$0")" && pwd)
work=${BENCH_DIR:-/var/tmp/bale-bench}/soak-repo
count=${SOAK_PACKAGES:-600}
driver_args=(--seconds "${SOAK_SECONDS:-60}" --publishers "${SOAK_PUBLISHERS:-4}"
  --downloaders "${SOAK_DOWNLOADERS:-4}" --kill-every "${SOAK_KILL_EVERY:-3}")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rm -rf "$work" && mkdir -p "$work/roots" "$work/packages"
export NO_COLOR=1

# The packages, made once and published by every run: a root with one file
# of incompressible bytes each, mostly small (served from memory), some past
# the server's 256 KiB inline limit (streamed), a few of a few MiB (a kill
# lands mid-transfer), packed and signed with `bale pack --key`.
export BALE_HOME=$work/publisher
"$bale" -q key generate
python3 - "$work/roots" "$count" <<'EOF'
import os, random, sys
out, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261203)
for i in range(count):
    size = rng.choice([rng.randint(200, 64 << 10)] * 6 + [rng.randint(300 << 10, 1 << 20)] * 3 + [rng.randint(2 << 20, 4 << 20)])
    root = os.path.join(out, f"p{i:04d}", "share")
    os.makedirs(root)
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(rng.randbytes(size))
    with open(os.path.join(out, f"p{i:04d}.toml"), "w") as f:
        f.write(f'[package]\ngroup = "org.example.soak"\nname = "p{i:04d}"\nversion = "1.0.{i}"\n'
                '[stack]\nname = "host"\nkind = "static"\n')
EOF
for toml in "$work"/roots/*.toml; do
  "$bale" -q pack "${toml%.toml}" --manifest "$toml" -o "$work/packages" --key default
done
packages=$(find "$work/packages" -name '*.bale' | wc -l)
[ "$packages" -eq "$count" ] || { echo "soak-repo: packed $packages of $count packages" >&2; exit 1; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# One soak over fresh state: a new home trusting the publisher's key, a token.
soak() {
  local label=$1 storage=$2
  shift 2
  export BALE_HOME=$work/home-$label
  mkdir -p "$BALE_HOME"
  "$bale" -q key trust "$work/publisher/keys/default.pub"
  local token
  token=$("$bale" token create --scope publish | grep -o 'bale_[0-9a-zA-Z_]*')
  python3 "$here/soak-repo.py" --bale "$bale" --packages "$work/packages" --storage "$storage" \
    --token "$token" --port "$(free_port)" --log "$work/serve-$label.log" --label "$label" \
    "${driver_args[@]}" "$@"
}

status=0
if [ "$which" = local ] || [ "$which" = both ]; then
  soak local "$work/home-local/repo" --storage-dir "$work/home-local/repo" || status=1
fi
if [ "$which" = s3 ] || [ "$which" = both ]; then
  if ! command -v moto_server >/dev/null; then
    echo "soak-repo: moto_server is missing (scripts/setup installs it); the S3 soak did not run" >&2
    exit 1
  fi
  moto_port=$(free_port)
  moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$moto_port/" >/dev/null && break; sleep 0.1; done
  curl -sf -X PUT "http://127.0.0.1:$moto_port/bale-soak" >/dev/null
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  soak s3 "s3://bale-soak?endpoint=http://127.0.0.1:$moto_port&region=us-east-1" \
    --s3-endpoint "http://127.0.0.1:$moto_port" --s3-bucket bale-soak || status=1
fi
exit "$status"
