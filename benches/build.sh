#!/usr/bin/env bash
# Build benchmarks, each against its peer in the same run:
#   (a) warm sandbox start (`true` inside the debian-bookworm stack with the
#       flask-notes dependency layer) against `bwrap --ro-bind <the same
#       merged root> / true`;
#   (b) no-change and source-only-change rebuilds of examples/flask-notes
#       against its cold build (`--fresh`: no layer, no cache);
#   (c) `bale stack create debian-bookworm` by debootstrap from the mirror
#       against from the image cache.
# Needs root (stacks, overlay mounts), the network (Debian mirror, PyPI) and
# hyperfine. BENCH_COLD_STACK=0 skips the debootstrap run (minutes).
set -euo pipefail
bale=$1
here=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-/var/tmp/bale-bench}/build
cache=${BALE_TEST_STACK_CACHE:-/var/tmp/bale-stack-cache}
runs=${BENCH_RUNS:-3}
mkdir -p "$work"
command -v hyperfine >/dev/null || apt-get install -y -q hyperfine >/dev/null
[ "$(id -u)" -eq 0 ] || { echo "build benchmarks need root; skipped" >&2; exit 0; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$1"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }
pct() { python3 -c 'import sys; print(f"{100 * float(sys.argv[1]) / float(sys.argv[2]):.0f}%")' "$1" "$2"; }
echo "build benchmarks, load average $(load)"

# One home for (a) and (b): its stack comes from the image cache.
home=$work/home
mkdir -p "$home"
echo "image-cache = \"$cache\"" > "$home/stacks.toml"
export BALE_HOME=$home
if ! "$bale" stack list --json | python3 -c 'import json,sys; sys.exit(0 if any(s["name"] == "debian-bookworm" and s["state"] != "absent" for s in json.load(sys.stdin)) else 1)'; then
  "$bale" -q stack create debian-bookworm >/dev/null
fi
"$bale" -q stack start debian-bookworm

# (b) flask-notes: cold, then rebuilds, from a copy so the source can change.
src=$work/flask-notes
rm -rf "$src" && cp -r "$here/examples/flask-notes" "$src"
out=$work/out
"$bale" -q build "$src" -o "$out" >/dev/null   # fills the layer and pip's cache
hyperfine -N --runs 1 --export-json "$work/cold.json" "$bale -q build $src -o $out --fresh" >/dev/null
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/nochange.json" "$bale -q build $src -o $out" >/dev/null
# Each run changes one line of the app's source first.
hyperfine -N --runs "$runs" --export-json "$work/source.json" \
  --prepare "sh -c 'echo \"# changed \$(date +%s%N)\" >> $src/notes/__init__.py'" "$bale -q build $src -o $out" >/dev/null
cold=$(mean "$work/cold.json"); nochange=$(mean "$work/nochange.json"); source=$(mean "$work/source.json")
printf 'rebuild  flask-notes cold (--fresh) %.1fs; no change %.1fs = %s of cold; source-only change %.1fs = %s of cold (target <= 20%%)\n' \
  "$cold" "$nochange" "$(pct "$nochange" "$cold")" "$source" "$(pct "$source" "$cold")"

# (a) warm start over the stack and flask-notes' dependency layer.
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layer"])' "$out/flask-notes-1.0.0.build.json")
image=$home/stacks/debian-bookworm/image
layer_dir=$home/stacks/debian-bookworm/layers/$layer
merged=$work/merged
mkdir -p "$merged"
mount -t overlay overlay -o "ro,lowerdir=$layer_dir:$image" "$merged"
trap 'umount "$merged" 2>/dev/null || true' EXIT
target=${CARGO_TARGET_DIR:-/var/tmp/bale-target}
(cd "$here" && CARGO_TARGET_DIR=$target cargo build --release -q -p bale-sandbox --example warm_start --locked)
BWRAP_ROOT=$merged "$target/release/examples/warm_start" "$image" 100 "$layer_dir" | sed 's/^/warm     /'
hyperfine -N --warmup 5 --runs 100 --export-json "$work/bwrap.json" "bwrap --ro-bind $merged / --proc /proc --dev /dev true" >/dev/null
printf 'warm     hyperfine: bwrap --ro-bind <merged root> / true %.2f ms\n' "$(python3 -c "print(1000 * $(mean "$work/bwrap.json"))")"
umount "$merged"
trap - EXIT

# (c) stack create: debootstrap from the mirror vs a copy from the image cache.
from_cache=$work/stack-from-cache
rm -rf "$from_cache" && mkdir -p "$from_cache" && echo "image-cache = \"$cache\"" > "$from_cache/stacks.toml"
if [ ! -f "$cache/debian-bookworm/stack.json" ]; then
  BALE_HOME=$from_cache "$bale" -q stack create debian-bookworm >/dev/null   # fills the cache
  rm -rf "$from_cache/stacks"
fi
hyperfine -N --runs 1 --export-json "$work/stack-cache.json" --cleanup "rm -rf $from_cache/stacks" \
  "env BALE_HOME=$from_cache $bale -q stack create debian-bookworm" >/dev/null
copied=$(mean "$work/stack-cache.json")
if [ "${BENCH_COLD_STACK:-1}" = 1 ]; then
  cold_home=$work/stack-cold
  rm -rf "$cold_home" && mkdir -p "$cold_home"
  hyperfine -N --runs 1 --export-json "$work/stack-cold.json" --cleanup "rm -rf $cold_home/stacks" \
    "env BALE_HOME=$cold_home $bale -q stack create debian-bookworm" >/dev/null
  debootstrap=$(mean "$work/stack-cold.json")
  printf 'stack    create debian-bookworm: debootstrap from the mirror %.1fs; from the image cache %.1fs (%sx faster)\n' \
    "$debootstrap" "$copied" "$(ratio "$debootstrap" "$copied")"
else
  printf 'stack    create debian-bookworm from the image cache %.1fs (debootstrap run skipped)\n' "$copied"
fi
echo "build benchmarks done, load average $(load)"
