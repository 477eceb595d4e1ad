#!/usr/bin/env bash
# The manifest's values are variables assigned by an eval further down.
# shellcheck disable=SC2154
# check-by-hand.sh EXAMPLE - build and run one example the way its bale.toml
# says, WITHOUT bale: an emulation on this host, to check that the example
# itself is right. It is not a test of bale (no sandbox, no stack, no
# package, no signature) and proves nothing about bale's own behaviour.
#
# What it does, following docs/manifest.md and docs/runtime.md:
#   1. copies the example's source files (tracked or not ignored by git) to
#      $WORK/src, the stand-in for $BALE_SRC;
#   2. runs the [build] actions there with /bin/sh -ec: before, main (the
#      kind's default from crates/bale-manifest/src/kinds.toml unless the
#      manifest sets it), after, finalize; without a network (unshare -rn)
#      unless `network = true`;
#   3. copies the `destinations` into $BALE_PREFIX/app;
#   4. runs the [test] commands in $BALE_PREFIX with $BALE_PREFIX/bin first
#      on PATH;
#   5. runs the post-install hooks, starts each [run.services] entry on a
#      free loopback port with the kit's variables, waits for the kit's
#      health check, shows its answer, runs the example's own
#      check-service.sh (if it has one) with $PORT set, and stops the service.
#
# Tools used from the host: bash, python3 >= 3.11 (tomllib, to read the
# manifest), curl, setsid, unshare, and whatever the example's kind needs.
# $WORK is a new directory under /var/tmp, kept for a look afterwards
# (BALE_CHECK_KEEP=0 removes it). Exit status 0 means every step passed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kinds_file=$here/../crates/bale-manifest/src/kinds.toml

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: $0 EXAMPLE   (one of: $(cd "$here" && printf '%s ' */bale.toml | sed 's|/bale.toml||g'))" >&2
  exit 2
fi
example=$here/${1%/}
manifest=$example/bale.toml
[ -f "$manifest" ] || { echo "check: no bale.toml in $example" >&2; exit 2; }
[ -f "$kinds_file" ] || { echo "check: the kinds file $kinds_file is missing" >&2; exit 2; }

step() { printf '\n==> %s\n' "$*" >&2; }
fail() { echo "check: FAILED: $*" >&2; exit 1; }

# Read the manifest once; python prints bash assignments (shlex-quoted).
eval "$(python3 - "$manifest" "$kinds_file" <<'PY'
import secrets, shlex, sys, tomllib

with open(sys.argv[1], "rb") as f:
    m = tomllib.load(f)
with open(sys.argv[2], "rb") as f:
    kinds = tomllib.load(f)

def arr(name, values):
    print(f"{name}=(" + " ".join(shlex.quote(str(v)) for v in values) + ")")

def var(name, value):
    print(f"{name}={shlex.quote(str(value))}")

pkg = m["package"]
kind = m.get("stack", {}).get("kind")
kdef = kinds.get(kind, {}) if kind else {}
build = m.get("build", {})
var("group", pkg["group"]); var("name", pkg["name"]); var("version", pkg["version"])
var("kind", kind or "")
var("network", "true" if build.get("network", False) else "false")
for step in ("before", "main", "after", "finalize"):
    default = kdef.get(step, []) if step in ("main", "finalize") else []
    arr(f"actions_{step}", build.get(step, default))
arr("build_env", [f"{k}={v}" for k, v in build.get("env", {}).items()])
arr("destinations", build.get("destinations", []))
arr("tests", m.get("test", {}).get("commands", []))
arr("post_install", m.get("hooks", {}).get("post-install", []))
run = m.get("run", {})
var("workdir", run.get("workdir", ""))

# One entry per service: its command, and what its kit says.
services = run.get("services", {})
kits = m.get("kits", {})
arr("service_names", list(services))
for sname, cmd in services.items():
    kit = next((k for kname, k in kits.items() if sname in k.get("services", [kname])), None)
    port, health_kind, health_value, timeout, env = "", "", "", "30s", []
    if kit is not None:
        ports = kit.get("ports", [])
        port = ports[0]["port"] if ports else ""
        health = kit.get("health", {})
        if "http" in health:
            health_kind, health_value = "http", health["http"]
        elif "command" in health:
            health_kind, health_value = "command", health["command"]
        timeout = health.get("timeout", timeout)
        for vname, spec in kit.get("variables", {}).items():
            if "default" in spec:
                env.append(f"{vname}={spec['default']}")
            elif spec.get("provision") == "secret":
                env.append(f"{vname}={secrets.token_hex(32)}")
            elif spec.get("required"):
                env.append(f"{vname}")  # must come from the caller's environment
    var(f"svc_cmd_{sname}", cmd)
    var(f"svc_port_{sname}", port)
    var(f"svc_health_kind_{sname}", health_kind)
    var(f"svc_health_{sname}", health_value)
    var(f"svc_timeout_{sname}", timeout)
    arr(f"svc_env_{sname}", env)
PY
)"

work=$(mktemp -d /var/tmp/bale-check-"$name".XXXXXX)
[ "${BALE_CHECK_KEEP:-1}" = 1 ] || trap 'rm -rf "$work"' EXIT
export BALE_SRC=$work/src
export BALE_PREFIX=$work/pkgs/${group//./\/}/$name/$version
export BALE_CACHE=$work/cache
export BALE_GROUP=$group BALE_NAME=$name BALE_VERSION=$version
export SOURCE_DATE_EPOCH=0
mkdir -p "$BALE_SRC" "$BALE_PREFIX" "$BALE_CACHE"
echo "check: $group:$name:$version (kind ${kind:-none}) in $work" >&2

step "source: $example -> $BALE_SRC"
if git -C "$example" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$example" && git ls-files -z --cached --others --exclude-standard -- . |
    xargs -0 -r cp --parents -P -t "$BALE_SRC" --)
else
  cp -a "$example"/. "$BALE_SRC"/
fi

# Runs one action like the builder: /bin/sh -ec, in $BALE_SRC, with the
# manifest's env, without a network unless the manifest asks for one.
run_action() {
  local isolate=()
  if [ "$network" = false ]; then
    if unshare -rn true 2>/dev/null; then isolate=(unshare -rn); else
      echo "check: (unshare -rn is not available; this action runs with the network)" >&2
    fi
  fi
  echo "+ $1" >&2
  (cd "$BALE_SRC" && env "${build_env[@]}" "${isolate[@]}" /bin/sh -ec "$1") || fail "action: $1"
}

for phase in before main after finalize; do
  declare -n list="actions_$phase"
  step "build: $phase (${#list[@]} actions, network=$network)"
  for action in "${list[@]}"; do run_action "$action"; done
  unset -n list
done

step "collect: destinations -> $BALE_PREFIX/app"
for pattern in "${destinations[@]}"; do
  # The glob is expanded in the source tree; a pattern that matches nothing is an error.
  matches=$(cd "$BALE_SRC" && { compgen -G "$pattern" || true; })
  [ -n "$matches" ] || fail "destination '$pattern' matches nothing in the source tree"
  mkdir -p "$BALE_PREFIX/app"
  while IFS= read -r m; do
    (cd "$BALE_SRC" && cp -a --parents -- "$m" "$BALE_PREFIX/app/")
  done <<<"$matches"
done
(cd "$BALE_PREFIX" && find . -path ./lib/venv -prune -o -path ./app/node_modules -prune -o -print | sort | sed 's/^/  /' >&2)

export PATH=$BALE_PREFIX/bin:$PATH
step "test: ${#tests[@]} commands in $BALE_PREFIX"
for t in "${tests[@]}"; do
  echo "+ $t" >&2
  (cd "$BALE_PREFIX" && /bin/sh -ec "$t") || fail "test: $t"
done

[ ${#service_names[@]} -gt 0 ] || { step "no services; done: OK"; exit 0; }

if [ -z "$workdir" ]; then
  if [ -d "$BALE_PREFIX/app" ]; then workdir=app; else workdir=.; fi
fi
rundir=$work/run
mkdir -p "$rundir"
export BALE_RUN=$rundir BALE_APP=$name-check BALE_COORDINATE=$group:$name:$version

# Seconds in a duration like "30s", "2m".
seconds() {
  case $1 in *ms) echo 1 ;; *s) echo "${1%s}" ;; *m) echo $(( ${1%m} * 60 )) ;; *h) echo $(( ${1%h} * 3600 )) ;; *) echo "$1" ;; esac
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=()
stop_services() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_services' EXIT
[ "${BALE_CHECK_KEEP:-1}" = 1 ] || trap 'stop_services; rm -rf "$work"' EXIT

for svc in "${service_names[@]}"; do
  declare -n cmd="svc_cmd_$svc" port="svc_port_$svc" hkind="svc_health_kind_$svc" \
    health="svc_health_$svc" timeout="svc_timeout_$svc" svc_env="svc_env_$svc"
  vars=()
  for v in "${svc_env[@]}"; do
    if [[ $v == *=* ]]; then vars+=("$v")
    elif [ -n "${!v:-}" ]; then vars+=("$v=${!v}")
    else fail "service $svc: the kit's required variable $v is not set; run with $v=... in the environment"
    fi
  done
  real_port=$(free_port)
  vars+=("PORT=$real_port")

  if [ ${#post_install[@]} -gt 0 ]; then
    step "hooks: post-install (first install) in $workdir"
    for h in "${post_install[@]}"; do
      echo "+ $h" >&2
      (cd "$BALE_PREFIX/$workdir" && env "${vars[@]}" /bin/sh -ec "$h") || fail "post-install: $h"
    done
    post_install=()
  fi

  step "service $svc: $cmd (kit port ${port:-none} -> 127.0.0.1:$real_port)"
  log=$rundir/$svc.log
  (cd "$BALE_PREFIX/$workdir" && exec env "${vars[@]}" setsid /bin/sh -ec "$cmd") >"$log" 2>&1 &
  pids+=($!)
  deadline=$(( $(date +%s) + $(seconds "$timeout") ))
  healthy=false
  while [ "$(date +%s)" -le "$deadline" ]; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log" >&2; fail "service $svc exited before it was healthy"; }
    case $hkind in
      http)
        if body=$(curl -fsS --max-time 2 "http://127.0.0.1:$real_port$health" 2>/dev/null); then
          echo "GET $health -> ${body:0:120}$([ ${#body} -le 120 ] || echo ...)" >&2
          healthy=true; break
        fi ;;
      command)
        if (cd "$BALE_PREFIX/$workdir" && env "${vars[@]}" /bin/sh -ec "$health") >&2; then
          healthy=true; break
        fi ;;
      *) sleep 1; healthy=true; break ;;
    esac
    sleep 0.5
  done
  [ "$healthy" = true ] || { cat "$log" >&2; fail "service $svc: no healthy answer within $timeout"; }
  if [ -x "$example/check-service.sh" ]; then
    step "service $svc: the example's own checks (check-service.sh)"
    PORT=$real_port "$example/check-service.sh" || { cat "$log" >&2; fail "check-service.sh"; }
  fi
  echo "service $svc: healthy; log in $log" >&2
  unset -n cmd port hkind health timeout svc_env
done

stop_services
step "done: OK"
