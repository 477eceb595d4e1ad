#!/usr/bin/env bash
# bale pack vs `tar --sort=name … | zstd -3 -T0`, and vs the peer doing the
# same work as bale pack (sha256sum of every file, then the archive through
# `tee | sha256sum` for the package digest, then sync); bale install vs
# `zstd -d | tar -x`; on the same ~1 GiB tree in the same run.
set -euo pipefail
bale=$1
work=${BENCH_DIR:-/var/tmp/bale-bench}
runs=${BENCH_RUNS:-3}
tree=$work/tree
mkdir -p "$work"
if [ ! -f "$work/tree.done" ]; then
  echo "making the benchmark tree in $tree (once)…" >&2
  rm -rf "$tree"
  python3 "$(dirname "$0")/make-tree.py" "$tree" "${BENCH_SCALE:-1}"
  touch "$work/tree.done"
fi
cat > "$work/bale.toml" <<'TOML'
[package]
group = "org.example"
name = "bench"
version = "1.0.0"
[stack]
name = "host"
kind = "static"
TOML

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
size_gib=$(du -sb "$tree" | awk '{printf "%.2f", $1/1073741824}')

# Warm the page cache for both sides alike.
tar -cf - -C "$tree" . > /dev/null

pack_bale=(); pack_tar=(); pack_sync=(); pack_same=(); pack_same_sync=(); inst_bale=(); inst_tar=(); loads=()
# Each side starts with nothing dirty in the page cache, so neither pays
# for writing back what the other left behind (the peer leaves its output
# unsynced).
pack_with_bale() {
  local t0 t1
  sync
  t0=$(now); "$bale" -q pack "$tree" --manifest "$work/bale.toml" -o "$work/out"; t1=$(now)
  pack_bale+=("$(echo "$t1 - $t0" | bc)")
}
# The peer as the target states it; then, apart, the fsync that `bale pack`
# also does before it returns, for the comparison at equal durability.
pack_with_peer() {
  local t0 t1 t2
  sync
  t0=$(now)
  tar --sort=name --mtime=@0 --owner=0 --group=0 -cf - -C "$tree" . | zstd -q -3 -T0 > "$work/out/peer.tar.zst"
  t1=$(now)
  sync -f "$work/out/peer.tar.zst"
  t2=$(now)
  pack_tar+=("$(echo "$t1 - $t0" | bc)")
  pack_sync+=("$(echo "$t2 - $t0" | bc)")
}
# The peer at equal work: bale pack hashes every file (for the index) and
# the package (its digest), and fsyncs the package; so does this one. The
# file hashes run on every core, as bale's do.
pack_with_same_work() {
  local t0 t1 t2
  sync
  t0=$(now)
  (cd "$tree" && find . -type f -print0 | xargs -0 -r -n 32 -P "$(nproc)" sha256sum) > "$work/out/peer.sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 -cf - -C "$tree" . | zstd -q -3 -T0 \
    | tee "$work/out/same.tar.zst" | sha256sum > "$work/out/same.digest"
  t1=$(now)
  sync -f "$work/out/same.tar.zst"
  t2=$(now)
  pack_same+=("$(echo "$t1 - $t0" | bc)")
  pack_same_sync+=("$(echo "$t2 - $t0" | bc)")
}
for i in $(seq "$runs"); do
  rm -rf "$work/out" && mkdir -p "$work/out"
  loads+=("$(cut -d' ' -f1 /proc/loadavg)")
  # Rotate which goes first, so none always meets another's leftovers.
  case $((i % 3)) in
    1) pack_with_bale; pack_with_peer; pack_with_same_work ;;
    2) pack_with_peer; pack_with_same_work; pack_with_bale ;;
    0) pack_with_same_work; pack_with_bale; pack_with_peer ;;
  esac
  echo "pack run $i: bale ${pack_bale[-1]}s, tar|zstd ${pack_tar[-1]}s (+fsync ${pack_sync[-1]}s), same work ${pack_same[-1]}s (+fsync ${pack_same_sync[-1]}s), load ${loads[-1]}" >&2

  rm -rf "${work:?}/home" "$work/untar" && mkdir -p "$work/untar"
  t0=$(now); BALE_HOME="$work/home" "$bale" -q install --allow-unsigned "$work/out/bench-1.0.0-"*.bale; t1=$(now)
  inst_bale+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now); zstd -q -d < "$work/out/bench-1.0.0-"*.bale | tar -x -C "$work/untar" && sync -f "$work/untar"; t1=$(now)
  inst_tar+=("$(echo "$t1 - $t0" | bc)")
  chmod -R u+w "$work/home" 2>/dev/null || true
done

pb=$(printf '%s\n' "${pack_bale[@]}" | median); pt=$(printf '%s\n' "${pack_tar[@]}" | median)
ps=$(printf '%s\n' "${pack_sync[@]}" | median); load=$(printf '%s\n' "${loads[@]}" | median)
pw=$(printf '%s\n' "${pack_same[@]}" | median); pws=$(printf '%s\n' "${pack_same_sync[@]}" | median)
ib=$(printf '%s\n' "${inst_bale[@]}" | median); it=$(printf '%s\n' "${inst_tar[@]}" | median)
bale_size=$(stat -c %s "$work/out/bench-1.0.0-"*.bale); peer_size=$(stat -c %s "$work/out/peer.tar.zst")
printf 'pack     %s GiB tree: bale %.2fs  tar|zstd -3 -T0 %.2fs  ratio %.2fx (target <= 1.0x)  sizes %d vs %d bytes\n' \
  "$size_gib" "$pb" "$pt" "$(echo "$pb / $pt" | bc -l)" "$bale_size" "$peer_size"
printf 'pack     at equal durability: bale (fsyncs its package) %.2fs  tar|zstd + sync -f %.2fs  ratio %.2fx; medians of %d runs, load %s\n' \
  "$pb" "$ps" "$(echo "$pb / $ps" | bc -l)" "$runs" "$load"
printf 'pack     at equal work: bale %.2fs  sha256sum of every file + tar|zstd|tee|sha256sum + sync -f %.2fs  ratio %.2fx (target <= 1.0x; %.2fs and %.2fx before its sync)\n' \
  "$pb" "$pws" "$(echo "$pb / $pws" | bc -l)" "$pw" "$(echo "$pb / $pw" | bc -l)"
printf 'install  (verify+unpack+sync): bale %.2fs  zstd -d|tar -x + sync %.2fs  ratio %.2fx (target <= 1.2x)\n' \
  "$ib" "$it" "$(echo "$ib / $it" | bc -l)"
rm -rf "${work:?}/home" "$work/untar" "$work/out"
