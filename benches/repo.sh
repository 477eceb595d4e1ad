#!/usr/bin/env bash
# Repository download: `bale serve` against nginx (sendfile on) serving the
# same repository tree, measured with wrk on 127.0.0.1 for packages of about
# 1 KiB, 64 KiB and 4 MiB. Runs alternate (nginx, bale, nginx, bale, …) and
# the medians are compared.
#
# Usage: benches/repo.sh BALE_BINARY
# Environment: BENCH_RUNS (3), BENCH_REPO_SECONDS (10), BENCH_REPO_DIR.
set -euo pipefail
bale=$1
work=${BENCH_REPO_DIR:-/var/tmp/bale-bench-repo}
runs=${BENCH_RUNS:-3}
secs=${BENCH_REPO_SECONDS:-10}
threads=2 conns=16
for tool in nginx wrk python3 bc; do
  command -v "$tool" >/dev/null || { echo "repo.sh: $tool is missing (scripts/setup installs it)" >&2; exit 1; }
done

rm -rf "$work" && mkdir -p "$work"
export BALE_HOME=$work/home
repo=$work/repo
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    if (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "repo.sh: nothing listens on port $1" >&2; return 1
}
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Packages of the three sizes: one file of incompressible bytes each (fixed
# seed), packed with the release `bale pack` and published with `bale publish`.
sizes=(small:1024 medium:65536 large:4194304)
for entry in "${sizes[@]}"; do
  name=${entry%%:*} bytes=${entry#*:}
  root=$work/src/$name
  mkdir -p "$root/share"
  python3 -c "import random,sys; sys.stdout.buffer.write(random.Random($bytes).randbytes($bytes))" > "$root/share/data.bin"
  printf '[package]\ngroup = "org.example"\nname = "%s"\nversion = "1.0.0"\n[stack]\nname = "host"\nkind = "static"\n' "$name" > "$work/src/$name.toml"
  "$bale" -q pack "$root" --manifest "$work/src/$name.toml" -o "$work/out"
done

bale_port=$(free_port)
serve_args=(--listen "127.0.0.1:$bale_port" --storage "$repo" --allow-unsigned)
# No local build workers: only the repository is measured.
if "$bale" serve --help | grep -q -- '--workers'; then serve_args+=(--workers 0); fi
"$bale" -q serve "${serve_args[@]}" > "$work/serve.log" 2>&1 &
pids+=($!)
wait_port "$bale_port"
BALE_TOKEN=$("$bale" token create --scope publish 2>/dev/null | grep -o 'bale_[0-9a-f]*')
export BALE_TOKEN
for entry in "${sizes[@]}"; do
  name=${entry%%:*}
  "$bale" -q publish --repo "http://127.0.0.1:$bale_port" "$work/out/$name-1.0.0-"*.bale
done

# nginx as Debian ships it for static files (sendfile, tcp_nopush, one worker
# per core), in the foreground with its own configuration, over the same tree.
nginx_port=$(free_port)
mkdir -p "$work/nginx"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root root;"
cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
$user_line
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    sendfile on;
    tcp_nopush on;
    access_log off;
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    types { application/zstd bale; text/plain minisig; application/json json; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nginx_port;
        root $repo;
    }
}
CONF
nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
pids+=($!)
wait_port "$nginx_port"

# One wrk run: prints "requests/s MB/s"; fails on any error or non-2xx answer.
measure() {
  local out rps transfer
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" "$1")
  if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
    echo "repo.sh: errors from $1:" >&2; echo "$out" >&2; return 1
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  transfer=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
  python3 -c "import re,sys; v,u=re.fullmatch(r'([0-9.]+)([KMG]?B)', sys.argv[2]).groups(); print(sys.argv[1], float(v)*{'B':1e-6,'KB':1024/1e6,'MB':1024**2/1e6,'GB':1024**3/1e6}[u])" "$rps" "$transfer"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

worst=""
for entry in "${sizes[@]}"; do
  name=${entry%%:*}
  path=org/example/$name/1.0.0/$(basename "$work/out/$name-1.0.0-"*.bale)
  size=$(stat -c %s "$repo/$path")
  # Both must serve the same bytes.
  cmp <(curl -sf "http://127.0.0.1:$nginx_port/$path") <(curl -sf "http://127.0.0.1:$bale_port/$path")
  nginx_rps=(); nginx_mbs=(); bale_rps=(); bale_mbs=()
  for _ in $(seq "$runs"); do
    res=$(measure "http://127.0.0.1:$nginx_port/$path"); read -r r m <<<"$res"; nginx_rps+=("$r"); nginx_mbs+=("$m")
    res=$(measure "http://127.0.0.1:$bale_port/$path"); read -r r m <<<"$res"; bale_rps+=("$r"); bale_mbs+=("$m")
  done
  nr=$(printf '%s\n' "${nginx_rps[@]}" | median); nm=$(printf '%s\n' "${nginx_mbs[@]}" | median)
  br=$(printf '%s\n' "${bale_rps[@]}" | median); bm=$(printf '%s\n' "${bale_mbs[@]}" | median)
  ratio=$(echo "$br / $nr" | bc -l)
  printf 'repo     %8d-byte package: bale %7.0f req/s %7.1f MB/s  nginx %7.0f req/s %7.1f MB/s  ratio %.2fx req/s, %.2fx MB/s (target >= 0.8x)\n' \
    "$size" "$br" "$bm" "$nr" "$nm" "$ratio" "$(echo "$bm / $nm" | bc -l)"
  if [ -z "$worst" ] || [ "$(echo "$ratio < $worst" | bc -l)" = 1 ]; then worst=$ratio; fi
done
printf 'repo     download, wrk -t%d -c%d -d%ds, medians of %d alternating runs, load %s: lowest ratio %.2fx (target >= 0.8x)\n' \
  "$threads" "$conns" "$secs" "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)" "$worst"
