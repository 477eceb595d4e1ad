#!/usr/bin/env bash
# Building for another architecture under emulation against building
# natively: GNU hello's release tarball (autotools, the kind's default
# ./configure && make && make install), built with `bale build` for arm64 on
# debian-bookworm@arm64 (gcc, make and the shell run through
# qemu-user-static) and for the machine's own architecture on
# debian-bookworm, one timed build each with the dependency layers already
# made. Prints both wall times and their ratio.
# Needs root, qemu-user-static + binfmt-support + arch-test, and hyperfine;
# the stacks come from the image cache (made there the first time).
set -euo pipefail
bale=$1
work=${BENCH_DIR:-/var/tmp/bale-bench}/arch
cache=${BALE_TEST_STACK_CACHE:-/var/tmp/bale-stack-cache}
tarball=${BENCH_HELLO_TARBALL:-$(ls /var/tmp/bale-upstream-cache/orig/hello/*.orig.tar.* 2>/dev/null | head -1)}
runs=${BENCH_RUNS:-1}
[ "$(id -u)" -eq 0 ] || { echo "arch benchmark needs root; skipped" >&2; exit 0; }
[ "$(dpkg --print-architecture)" = amd64 ] || { echo "arch benchmark runs on amd64; skipped" >&2; exit 0; }
[ -n "$tarball" ] || { echo "no GNU hello tarball (run the bale-build upstream tests, or set BENCH_HELLO_TARBALL)" >&2; exit 1; }
command -v hyperfine >/dev/null || apt-get install -y -q hyperfine >/dev/null
mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$1"; }

rm -rf "$work/src" && mkdir -p "$work/src" "$work/home"
tar -xf "$tarball" -C "$work/src" --strip-components=1
cat > "$work/src/bale.toml" <<'TOML'
[package]
group = "org.debian.upstream"
name = "hello"
version = "1.0.0"

[stack]
name = "debian-bookworm"
kind = "c"
TOML
echo "image-cache = \"$cache\"" > "$work/home/stacks.toml"
export BALE_HOME=$work/home
for arch in amd64 arm64; do
  dir=debian-bookworm; [ "$arch" = amd64 ] || dir=debian-bookworm@$arch
  [ -f "$work/home/stacks/$dir/stack.json" ] || "$bale" -q stack create debian-bookworm --arch "$arch" >/dev/null
  # The first build makes the dependency layer (build-essential); not timed.
  "$bale" -q build "$work/src" -o "$work/out-$arch" --arch "$arch" >/dev/null
  hyperfine -N --runs "$runs" --export-json "$work/$arch.json" \
    "$bale -q build $work/src -o $work/out-$arch --arch $arch" >/dev/null
done
native=$(mean "$work/amd64.json"); emulated=$(mean "$work/arm64.json")
printf 'arch     GNU hello (autotools): amd64 native %.1fs, arm64 emulated %.1fs = %.1fx\n' \
  "$native" "$emulated" "$(python3 -c "print($emulated / $native)")"
