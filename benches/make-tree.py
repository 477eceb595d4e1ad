#!/usr/bin/env python3
"""Makes a ~1 GiB tree of mixed files for the pack/install benchmarks:
many small text files, some large compressible ones, some incompressible."""
import os
import random
import sys

root = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
rng = random.Random(20261122)
words = [
    "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
    for _ in range(5000)
]


def text(size):
    out = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ~250 MiB in 30,000 small files (1–16 KiB) across nested directories.
small = int(30000 * scale)
chunk = text(1 << 20)
for i in range(small):
    size = rng.randint(1024, 16384)
    off = rng.randint(0, len(chunk) - size)
    write(os.path.join(root, "lib", f"mod{i % 97:02d}", f"pkg{i % 13}", f"file{i:05d}.py"), chunk[off:off + size])
# ~450 MiB of large compressible files.
for i in range(int(6 * scale) or 1):
    write(os.path.join(root, "share", f"data{i}.txt"), text(75 << 20))
# ~300 MiB incompressible.
for i in range(int(3 * scale) or 1):
    write(os.path.join(root, "app", f"blob{i}.bin"), rng.randbytes(100 << 20))
