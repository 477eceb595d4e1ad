#!/usr/bin/env bash
# Build service benchmarks:
#   (a) the queue's own cost per build, without building: submit, claim,
#       lease, live log, record and finish of N no-op builds, timed directly
#       (examples/queue_bench) on SQLite and, when BALE_TEST_POSTGRES_URL is
#       set, on PostgreSQL; target < 20 ms per build;
#   (b) N submitted no-op builds (a static package on the host stack) through
#       `bale serve --workers W` for W = 1 and 2: builds per minute, and the
#       service's overhead per build: its run time minus the time `bale build`
#       spent in its steps (process start, source, record, publish, log).
# Usage: benches/service.sh BALE [N]   (N defaults to $BENCH_SERVICE_BUILDS or 1000)
set -euo pipefail
bale=$1
count=${2:-${BENCH_SERVICE_BUILDS:-1000}}
here=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-/var/tmp/bale-bench}/service
[ "$(id -u)" -eq 0 ] || { echo "service benchmarks need root (the build sandbox); skipped" >&2; exit 0; }
rm -rf "$work" && mkdir -p "$work"
echo "service benchmarks, $count builds, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# (a) the queue alone.
bench=${BENCH_QUEUE_BIN:-}
if [ -z "$bench" ]; then
  (cd "$here" && cargo build --release -p bale-service --example queue_bench --locked -q)
  bench="${CARGO_TARGET_DIR:-$here/target}/release/examples/queue_bench"
fi
"$bench" "" "$count" 1
"$bench" "" "$count" 2
if [ -n "${BALE_TEST_POSTGRES_URL:-}" ]; then
  for workers in 1 2; do
    db="bale_bench_$$_$workers"
    psql "$BALE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db"
    "$bench" "${BALE_TEST_POSTGRES_URL%/*}/$db" "$count" "$workers"
    psql "$BALE_TEST_POSTGRES_URL" -qc "DROP DATABASE $db"
  done
fi

# (b) real no-op builds through the service.
src=$work/noop
mkdir -p "$src"
echo hello > "$src/hello.txt"
cat > "$src/bale.toml" <<'EOF'
[package]
group = "org.example"
name = "noop"
version = "1.0.0"

[stack]
name = "host"
kind = "static"

[build]
destinations = ["hello.txt"]
EOF

for workers in 1 2; do
  home=$work/home-$workers
  export BALE_HOME=$home NO_COLOR=1
  "$bale" -q key generate
  token=$("$bale" token create --scope build)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bale" -q serve --listen "127.0.0.1:$port" --workers "$workers" >"$work/serve-$workers.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && break; sleep 0.1; done
  python3 - "$port" "$token" "$src" "$count" "$workers" <<'EOF'
import http.client, json, sys, time
port, token, src, count, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
conn = http.client.HTTPConnection("127.0.0.1", int(port))
def call(method, path, body=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")
start = time.time()
for _ in range(count):
    status, _ = call("POST", "/api/v1/builds", {"source": src})
    assert status == 201, status
submitted = time.time()
while True:
    _, builds = call("GET", f"/api/v1/builds?limit={count}")
    ended = [b for b in builds["builds"] if b["status"] not in ("queued", "running")]
    if len(ended) == count:
        break
    time.sleep(0.5)
done = max(b["finished_at"] for b in ended) / 1000.0
ok = sum(1 for b in ended if b["status"] == "succeeded")
first = min(b["created_at"] for b in ended) / 1000.0
wall = done - first
overheads, runs = [], []
for b in ended[:: max(1, count // 100)]:
    _, full = call("GET", f"/api/v1/builds/{b['id']}")
    steps = sum(s["duration_ms"] for s in full["steps"])
    overheads.append(full["duration_ms"] - steps)
    runs.append(full["duration_ms"])
overheads.sort()
print(f"service, {workers} worker(s): {ok}/{count} succeeded in {wall:.1f} s = {60 * count / wall:.0f} builds/min "
      f"(submit {1000 * (submitted - start) / count:.1f} ms/build); per build: run {sum(runs) / len(runs):.0f} ms, "
      f"of which outside bale build's steps {sum(overheads) / len(overheads):.0f} ms mean, {overheads[len(overheads) // 2]} ms median")
EOF
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  trap - EXIT
done
