#!/usr/bin/env bash
# `bale export oci` of examples/flask-notes against `podman build` of the
# same files, same run: a two-line Containerfile FROM the debian-bookworm
# stack image imported into podman (the import is outside the timing),
# COPYing the runtime layer's and the package's files (taken from the
# export's own layers, so both images hold the same bytes). Prints both
# times, the ratio, and the two images' sizes side by side (the layout's
# gzip blobs; podman's uncompressed storage and its `podman save` archive).
# Needs root, podman (runc), hyperfine and the network for the first
# flask-notes build (PyPI).
set -euo pipefail
bale=$1
here=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-/var/tmp/bale-bench}/export-oci
cache=${BALE_TEST_STACK_CACHE:-/var/tmp/bale-stack-cache}
runs=${BENCH_RUNS:-3}
[ "$(id -u)" -eq 0 ] || { echo "export-oci benchmark needs root; skipped" >&2; exit 0; }
command -v hyperfine >/dev/null || apt-get install -y -q hyperfine >/dev/null
command -v podman >/dev/null || apt-get install -y -q --no-install-recommends podman runc >/dev/null
podman() { command podman --runtime runc --cgroup-manager cgroupfs "$@"; }
mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$1"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }
mib() { python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1048576:.1f} MiB")' "$1"; }
mkdir -p "$work"
echo "export-oci benchmark, load average $(cut -d' ' -f1-3 /proc/loadavg)"

home=$work/home
mkdir -p "$home"
echo "image-cache = \"$cache\"" > "$home/stacks.toml"
export BALE_HOME=$home
if ! "$bale" stack list --json | python3 -c 'import json,sys; sys.exit(0 if any(s["name"] == "debian-bookworm" and s["state"] != "absent" for s in json.load(sys.stdin)) else 1)'; then
  "$bale" -q stack create debian-bookworm >/dev/null
fi
out=$work/out
package=$(ls "$out"/flask-notes-1.0.0*.bale 2>/dev/null | head -n 1 || true)
if [ -z "$package" ]; then
  "$bale" -q build "$here/examples/flask-notes" -o "$out" >/dev/null
  package=$(ls "$out"/flask-notes-1.0.0*.bale | head -n 1)
fi
layout=$work/flask-notes.oci
# A first export makes the runtime layer if this machine lacks it; the timed ones reuse it.
rm -rf "$layout" && "$bale" -q export oci "$package" -o "$layout" >/dev/null

# The peer's inputs, outside the timing: the stack image in podman, and a
# build context with the files of the export's runtime and package layers.
image=$home/stacks/debian-bookworm/image
tar -C "$image" --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . | podman import -q - localhost/bale-bench-stack:bookworm >/dev/null
ctx=$work/context
rm -rf "$ctx" && mkdir -p "$ctx/rootfs"
manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"].split(":")[1])' "$layout/index.json")
python3 -c 'import json,sys; [print(l["digest"].split(":")[1]) for l in json.load(open(sys.argv[1]))["layers"][1:]]' "$layout/blobs/sha256/$manifest" |
  while read -r blob; do tar -C "$ctx/rootfs" --exclude='*.wh.*' -xzf "$layout/blobs/sha256/$blob"; done
printf 'FROM localhost/bale-bench-stack:bookworm\nCOPY rootfs/ /\n' > "$ctx/Containerfile"

hyperfine -N --runs "$runs" --export-json "$work/bale.json" \
  --prepare "rm -rf $layout" "$bale -q export oci $package -o $layout" >/dev/null
hyperfine -N --runs "$runs" --export-json "$work/podman.json" \
  --prepare "sh -c 'podman --runtime runc --cgroup-manager cgroupfs rmi -f bale-bench-flask-notes >/dev/null 2>&1 || true'" \
  "podman --runtime runc --cgroup-manager cgroupfs build --no-cache -q -t bale-bench-flask-notes $ctx" >/dev/null
ours=$(mean "$work/bale.json"); theirs=$(mean "$work/podman.json")
layout_size=$(du -sb "$layout" | cut -f1)
podman_size=$(podman image inspect -f '{{.Size}}' bale-bench-flask-notes)
podman save -q --format oci-archive -o "$work/podman.tar" bale-bench-flask-notes
saved_size=$(stat -c %s "$work/podman.tar")
printf 'export   flask-notes: bale export oci %.2fs; podman build (FROM the stack, COPY the same files) %.2fs; ratio %s\n' \
  "$ours" "$theirs" "$(ratio "$ours" "$theirs")"
printf 'size     bale layout (gzip layers) %s | podman storage (uncompressed) %s, podman save oci-archive (gzip layers) %s\n' \
  "$(mib "$layout_size")" "$(mib "$podman_size")" "$(mib "$saved_size")"
podman rmi -f bale-bench-flask-notes localhost/bale-bench-stack:bookworm >/dev/null 2>&1 || true
rm -f "$work/podman.tar"
