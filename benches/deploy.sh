#!/usr/bin/env bash
# Deploy and rollback latency: with version 1 current and version 2 already
# installed, the time from `bale deploy` of 2 until 2 answers HTTP, and from
# `bale rollback --to` the first deployment until 1 answers again. Median of
# N runs (DEPLOY_RUNS); every deployment is kept so the first stays.
set -euo pipefail
bale=$(realpath "$1")
runs=${DEPLOY_RUNS:-10}
work=$(mktemp -d /var/tmp/bale-bench-deploy.XXXXXX)
# As root the app runs as its own user, who must reach the package under $BALE_HOME.
chmod 755 "$work"
export BALE_HOME=$work/home NO_COLOR=1
cleanup() {
  "$bale" -q service bench-web stop >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bale" -q key generate
for version in 1.0.0 2.0.0; do
  dir=$work/src-$version
  mkdir -p "$dir/root/app"
  echo "bench $version" > "$dir/root/app/index.html"
  cat > "$dir/bale.toml" <<TOML
[package]
group = "org.example"
name = "bench-web"
version = "$version"
[stack]
name = "host"
kind = "static"
[run]
workdir = "app"
[run.services]
web = 'exec python3 -m http.server --bind 127.0.0.1 "\$PORT"'
[kits.web]
main = true
ports = [{ name = "http", port = $port }]
health = { http = "/", timeout = "30s" }
TOML
  "$bale" -q pack "$dir/root" --manifest "$dir/bale.toml" -o "$work/out" --key default
  "$bale" -q install "$work/out/bench-web-$version-"*.bale
done
first=$("$bale" -q --json deploy bench-web org.example:bench-web:1.0.0 | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Polls until the page names version $1; the deploy has already waited for the health check.
until_answers() {
  local tries=0
  until [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null)" = "bench $1" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 3000 ] || { echo "deploy bench: $1 never answered on port $port" >&2; exit 1; }
    sleep 0.01
  done
}

deploys=(); rollbacks=()
for _ in $(seq "$runs"); do
  t0=$(now); "$bale" -q deploy bench-web org.example:bench-web:2.0.0 --keep "$((runs + 5))"; until_answers 2.0.0; t1=$(now)
  deploys+=("$(echo "($t1 - $t0) * 1000" | bc)")
  t0=$(now); "$bale" -q rollback bench-web --to "$first"; until_answers 1.0.0; t1=$(now)
  rollbacks+=("$(echo "($t1 - $t0) * 1000" | bc)")
done
ms() { printf '%s\n' "$@" | median | awk '{printf "%.0f ms", $1}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.0f-%.0f ms", lo, hi}'; }
echo "deploy of an installed version until it answers: median $(ms "${deploys[@]}") (range $(range "${deploys[@]}"), $runs runs)"
echo "rollback until the old version answers:          median $(ms "${rollbacks[@]}") (range $(range "${rollbacks[@]}"), $runs runs)"
