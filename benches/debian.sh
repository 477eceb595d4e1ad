#!/usr/bin/env bash
# Debian's own tools on the same work, in the same run:
#   (a) a clean build of GNU hello from its Debian source package (the .dsc,
#       Debian's patches applied): `bale build` over a warm stack and build
#       environment against `sbuild --chroot-mode=unshare` over a buildd
#       tarball made by mmdebstrap before the timing (sbuild installs the
#       build dependencies from the mirror, as it always does);
#   (b) `bale stack create debian-bookworm` (debootstrap, minbase, then the
#       image's digest and identity) against `mmdebstrap --variant=minbase`
#       of the same suite from the same mirror into a directory.
# Both builds skip the upstream test suite (bale has no `make check`; sbuild
# gets DEB_BUILD_OPTIONS=nocheck) and run make with one job per core.
# Needs root and the network to the Debian mirror. Installs sbuild,
# mmdebstrap, uidmap and dpkg-dev; sbuild's unshare mode runs as an
# unprivileged user with subordinate ids (BENCH_SBUILD_USER, default
# bale-bench, made when missing).
set -euo pipefail
bale=$1
work=${BENCH_DIR:-/var/tmp/bale-bench}/debian
cache=${BALE_TEST_STACK_CACHE:-/var/tmp/bale-stack-cache}
user=${BENCH_SBUILD_USER:-bale-bench}
suite=bookworm
stack=debian-$suite
[ "$(id -u)" -eq 0 ] || { echo "debian benchmarks need root; skipped" >&2; exit 0; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  sbuild mmdebstrap uidmap dpkg-dev >/dev/null
arch=$(dpkg --print-architecture)
jobs=$(nproc)
mkdir -p "$work"

load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$1" "$2"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }
echo "debian benchmarks, load average $(load)"

# bale's side: a home whose stack comes from the image cache, kept warm.
home=$work/home
mkdir -p "$home"
echo "image-cache = \"$cache\"" > "$home/stacks.toml"
export BALE_HOME=$home
[ -f "$home/stacks/$stack/stack.json" ] || "$bale" -q stack create "$stack" >/dev/null
"$bale" -q stack start "$stack"
# Everything below uses the mirror the stack was made from.
mirror=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mirror"])' "$home/stacks/$stack/stack.json")

# The Debian source package, through an apt of our own (deb-src of the same
# mirror): the host's apt state is not touched.
sources=$work/source
if ! ls "$sources"/hello_*.dsc >/dev/null 2>&1; then
  apt_dir=$work/apt
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$sources"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  apt-get -q "${apt_opts[@]}" update >/dev/null
  (cd "$sources" && apt-get -q "${apt_opts[@]}" source --download-only hello >/dev/null)
fi
dsc=$(ls "$sources"/hello_*.dsc | head -1)
version=$(sed -n 's/^Version: //p' "$dsc" | head -1)
tree=$work/hello
rm -rf "$tree" && dpkg-source --no-check -x "$dsc" "$tree" >/dev/null
cat > "$tree/bale.toml" <<'EOF'
[package]
group = "org.debian"
name = "hello"
version = "1.0.0"

[stack]
name = "debian-bookworm"
kind = "c"

[test]
commands = ["test \"$(hello)\" = 'Hello, world!'"]
EOF

# (a) bale: one build outside the timing makes the build environment
# (build-essential); the timed one is a clean build in a fresh sandbox over it.
"$bale" -q build "$tree" -o "$work/bale-warmup" >/dev/null
rm -rf "$work/bale-out"
start=$(now)
"$bale" -q build "$tree" -o "$work/bale-out" >/dev/null
bale_build=$(elapsed "$start" "$(now)")

# (a) sbuild: its user, and the buildd tarball where unshare mode looks for it.
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$user"
fi
grep -q "^$user:" /etc/subuid || usermod --add-subuids 300000-365535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 300000-365535 "$user"
user_home=$(getent passwd "$user" | cut -d: -f6)
tarball=$user_home/.cache/sbuild/$suite-$arch.tar.zst
if [ ! -f "$tarball" ]; then
  mkdir -p "$(dirname "$tarball")"
  mmdebstrap --quiet --variant=buildd "$suite" "$tarball" "$mirror"
  chown -R "$user:" "$user_home/.cache"
fi
builds=$work/sbuild
rm -rf "$builds" && mkdir -p "$builds" && cp "$sources"/hello_* "$builds"/ && chown -R "$user:" "$builds"
start=$(now)
if ! runuser -u "$user" -- env HOME="$user_home" DEB_BUILD_OPTIONS="nocheck parallel=$jobs" \
    sh -c 'cd "$1" && sbuild --chroot-mode=unshare -d "$2" --arch-any --no-arch-all \
           --no-run-lintian --no-run-piuparts --no-run-autopkgtest "$3"' \
    sbuild "$builds" "$suite" "$(basename "$dsc")" >"$work/sbuild.log" 2>&1; then
  echo "sbuild failed; the last lines of $work/sbuild.log:" >&2
  tail -30 "$work/sbuild.log" >&2
  exit 1
fi
sbuild_build=$(elapsed "$start" "$(now)")
printf 'debian   hello %s from its Debian source package: bale build (warm stack and build environment) %ss; sbuild --chroot-mode=unshare %ss; bale/sbuild %sx (target <= 0.5x)\n' \
  "$version" "$bale_build" "$sbuild_build" "$(ratio "$bale_build" "$sbuild_build")"

# (b) a new stack: debootstrap (no image cache) against mmdebstrap.
fresh=$work/stack-create
rm -rf "$fresh" && mkdir -p "$fresh"
start=$(now)
BALE_HOME=$fresh "$bale" -q stack create "$stack" >/dev/null
bale_stack=$(elapsed "$start" "$(now)")
root=$work/mmdebstrap-root
rm -rf "$root"
start=$(now)
mmdebstrap --quiet --variant=minbase --components=main "$suite" "$root" "$mirror"
mm_stack=$(elapsed "$start" "$(now)")
rm -rf "$root" "$fresh"
printf 'debian   %s minbase: bale stack create %ss; mmdebstrap %ss; bale/mmdebstrap %sx (reported)\n' \
  "$suite" "$bale_stack" "$mm_stack" "$(ratio "$bale_stack" "$mm_stack")"
echo "debian benchmarks done, load average $(load)"
