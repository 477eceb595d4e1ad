#!/usr/bin/env bash
# The proxy that owns an app's public port (docs/runtime.md, "Zero-downtime
# deploys"), against the service it forwards to:
#  - wrk on the public port vs directly on the service's private port: the
#    latency and requests/s ratios (median of PROXY_ROUNDS rounds each,
#    alternating; the targets are <= 1.1x latency and >= 0.9x requests/s);
#  - the time from `bale deploy` of version 2 until 2 answers on the public port;
#  - a client looping requests (a new connection each) through a deploy and a
#    rollback: how many it made, and how many failed (the target is none).
# The service is nginx serving one small page, so the proxy's cost is not
# hidden behind a slow server.
set -euo pipefail
bale=$(realpath "$1")
rounds=${PROXY_ROUNDS:-3}
seconds=${PROXY_SECONDS:-5}
connections=${PROXY_CONNECTIONS:-16}
for tool in wrk nginx curl bc; do
  command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [ -n "${missing:-}" ]; then
  apt-get install -y -q wrk nginx-light curl bc >/dev/null
fi
nginx_bin=$(command -v nginx)
work=$(mktemp -d /var/tmp/bale-bench-proxy.XXXXXX)
# As root the app runs as its own user, who must reach the package under $BALE_HOME.
chmod 755 "$work"
export BALE_HOME=$work/home NO_COLOR=1
cleanup() {
  [ -n "${loop_pid:-}" ] && kill "$loop_pid" 2>/dev/null || true
  "$bale" -q uninstall bench-proxy >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$BALE_HOME"
echo 'isolation = "none"' > "$BALE_HOME/config.toml"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bale" -q key generate
for version in 1.0.0 2.0.0; do
  dir=$work/src-$version
  mkdir -p "$dir/root/app" "$dir/root/bin"
  echo "bench $version" > "$dir/root/app/index.html"
  # nginx in the foreground on $PORT, its files under the runtime directory.
  cat > "$dir/root/bin/serve" <<SH
#!/bin/sh
conf="\$BALE_RUN/nginx-\$PORT"
mkdir -p "\$conf"
cat > "\$conf/nginx.conf" <<CONF
worker_processes 1;
# The bench home is private to root: the worker reads it as root (ignored when not started as root).
user root;
daemon off;
pid \$conf/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path \$conf/body;
  proxy_temp_path \$conf/proxy;
  fastcgi_temp_path \$conf/fastcgi;
  uwsgi_temp_path \$conf/uwsgi;
  scgi_temp_path \$conf/scgi;
  server {
    listen 127.0.0.1:\$PORT;
    root \$BALE_PREFIX/app;
  }
}
CONF
exec $nginx_bin -c "\$conf/nginx.conf" -p "\$conf"
SH
  chmod +x "$dir/root/bin/serve"
  cat > "$dir/bale.toml" <<TOML
[package]
group = "org.example"
name = "bench-proxy"
version = "$version"
[stack]
name = "host"
kind = "static"
[run]
workdir = "app"
[run.services]
web = "exec serve"
[kits.web]
main = true
ports = [{ name = "http", port = $port }]
health = { http = "/", timeout = "30s" }
TOML
  "$bale" -q pack "$dir/root" --manifest "$dir/bale.toml" -o "$work/out" --key default
  "$bale" -q install "$work/out/bench-proxy-$version-"*.bale
done
deployed=$("$bale" -q --json deploy bench-proxy org.example:bench-proxy:1.0.0) || { echo "proxy bench: the first deploy failed: $deployed" >&2; exit 1; }
first=$(echo "$deployed" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
private() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["routes"][0]["private"])' \
    "$BALE_HOME/apps/bench-proxy/proxy/routes.json"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wrk's mean latency in microseconds and requests/s, on one port.
measure() {
  local out
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$1/" 2>&1)
  local latency rps
  latency=$(echo "$out" | awk '$1 == "Latency" {print $2; exit}')
  rps=$(echo "$out" | awk '$1 == "Requests/sec:" {print $2}')
  case $latency in
    *us) latency=${latency%us} ;;
    *ms) latency=$(echo "${latency%ms} * 1000" | bc) ;;
    *s) latency=$(echo "${latency%s} * 1000000" | bc) ;;
  esac
  echo "$latency $rps"
}
direct_lat=(); direct_rps=(); proxied_lat=(); proxied_rps=()
backend=$(private)
for _ in $(seq "$rounds"); do
  read -r l r < <(measure "$backend"); direct_lat+=("$l"); direct_rps+=("$r")
  read -r l r < <(measure "$port"); proxied_lat+=("$l"); proxied_rps+=("$r")
done
med() { printf '%s\n' "$@" | median; }
dl=$(med "${direct_lat[@]}"); dr=$(med "${direct_rps[@]}")
pl=$(med "${proxied_lat[@]}"); pr=$(med "${proxied_rps[@]}")
echo "proxy, wrk -c$connections ${seconds}s x $rounds rounds (medians):"
printf '  direct on the private port: %8.0f req/s, mean latency %6.0f us\n' "$dr" "$dl"
printf '  through the public port:    %8.0f req/s, mean latency %6.0f us\n' "$pr" "$pl"
printf '  ratios: latency %.2fx (target <= 1.10x), req/s %.2fx (target >= 0.90x)\n' \
  "$(echo "$pl / $dl" | bc -l)" "$(echo "$pr / $dr" | bc -l)"

# From `bale deploy` of 2 until 2 answers on the public port; then back with a rollback.
now() { date +%s.%N; }
t0=$(now)
"$bale" -q deploy bench-proxy org.example:bench-proxy:2.0.0 >/dev/null &
deploy_pid=$!
until [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null)" = "bench 2.0.0" ]; do sleep 0.005; done
t1=$(now)
wait "$deploy_pid"
t2=$(now)
printf 'deploy until the new version serves: %.0f ms (the command itself: %.0f ms)\n' \
  "$(echo "($t1 - $t0) * 1000" | bc)" "$(echo "($t2 - $t0) * 1000" | bc)"
"$bale" -q rollback bench-proxy --to "$first"

# A client looping requests through a deploy and a rollback.
log=$work/loop.log
(
  while :; do
    curl -sS --max-time 10 "http://127.0.0.1:$port/" 2>/dev/null || echo FAILED
  done
) > "$log" &
loop_pid=$!
sleep 1
"$bale" -q deploy bench-proxy org.example:bench-proxy:2.0.0
sleep 1
"$bale" -q rollback bench-proxy --to "$first"
sleep 1
kill "$loop_pid"; wait "$loop_pid" 2>/dev/null || true; loop_pid=
total=$(wc -l < "$log")
failed=$(grep -c -v '^bench ' "$log" || true)
phases=$(grep '^bench ' "$log" | uniq | awk '{print $2}' | paste -sd' ' -)
echo "loop client through deploy + rollback: $total requests, $failed failed; versions seen in order: $phases"
