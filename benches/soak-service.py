#!/usr/bin/env python3
"""The build-service soak's driver (see soak-service.sh): builds submitted to
a running `bale serve` while its `bale worker`s are killed with SIGKILL at
random and started again.

Afterwards, with the workers left alone until the queue is empty:
  * every build reached a final state: succeeded, or failed with the
    service's "worker lost" reason after its last allowed attempt;
  * no build is left queued or running, and every attempt of it ended;
  * every succeeded build's package is in the repository with the digest
    its record names, verifies (`bale fetch`, every hash) and carries a
    signature by the workers' key (minisign, when installed);
  * no `bale build` process outlived its killed worker, and no killed
    worker's build directory is left behind once a worker has started again.

Prints the figures and exits 1 when a check fails. Python 3 standard library only.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FINAL = {"succeeded", "failed", "timed-out", "canceled", "not-reproducible"}


def call(port, method, path, token=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    finally:
        conn.close()


def call_json(port, method, path, token=None, body=None):
    status, data = call(port, method, path, token, body)
    if status >= 300:
        sys.exit(f"soak-service: {method} {path}: {status} {data[:300]!r}")
    return json.loads(data)


class Workers:
    """`bale worker` processes by slot, each started again under a new name after a kill."""

    def __init__(self, args):
        self.args = args
        self.processes = {}
        self.generation = 0
        self.names = []

    def start(self, slot):
        self.generation += 1
        name = f"soak-w{slot}-{self.generation}"
        self.names.append(name)
        log = open(os.path.join(self.args.logs, f"{name}.log"), "wb")
        self.processes[slot] = subprocess.Popen(
            [self.args.bale, "worker", "--database", self.args.database, "--storage", self.args.storage,
             "--concurrency", "1", "--lease-secs", str(self.args.lease_secs), "--allow-local-sources",
             "--name", name],
            stdout=log, stderr=log, start_new_session=True, env={**os.environ, "TMPDIR": self.args.tmpdir})
        log.close()

    def kill(self, slot):
        process = self.processes[slot]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def build_processes(marker):
    """Pids of `bale build` processes whose command line names `marker` (the workers' home)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"build" in cmdline and any(marker.encode() in part for part in cmdline):
            pids.append(int(pid))
    return pids


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bale", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--sources", required=True, help="one source directory per build")
    parser.add_argument("--home", required=True, help="the workers' BALE_HOME")
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--logs", required=True)
    parser.add_argument("--tmpdir", required=True, help="the workers' TMPDIR")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lease-secs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120, help="how long workers are killed")
    parser.add_argument("--kill-every", type=float, default=4)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--label", default="sqlite")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    sources = sorted(os.path.join(args.sources, d) for d in os.listdir(args.sources))
    started = time.time()
    ids = []
    for source in sources:
        record = call_json(args.port, "POST", "/api/v1/builds", args.token, {"source": source})
        ids.append(record["id"])

    workers = Workers(args)
    for slot in range(args.workers):
        workers.start(slot)
    kills = 0
    kill_until = started + args.seconds
    builds = {}
    while time.time() < started + args.timeout:
        listed = call_json(args.port, "GET", f"/api/v1/builds?limit={len(ids) + 10}")["builds"]
        builds = {b["id"]: b for b in listed if b["id"] in ids}
        if len(builds) == len(ids) and all(b["status"] in FINAL for b in builds.values()):
            break
        now = time.time()
        if now < kill_until:
            # Kill a worker now and then, mostly while it runs a build.
            time.sleep(args.kill_every * rng.uniform(0.3, 1.7))
            slot = rng.randrange(args.workers)
            workers.kill(slot)
            kills += 1
            time.sleep(rng.uniform(0, 1.0))
            workers.start(slot)
        else:
            time.sleep(0.5)
    elapsed = time.time() - started
    # Let the restarted workers clear what the killed ones left, then stop them.
    time.sleep(2 * args.lease_secs)
    workers.stop_all()
    orphans = build_processes(args.home)

    problems = []
    counts = {"succeeded": 0, "failed-worker-lost": 0, "stuck": 0, "lost": 0, "other": 0, "retried": 0}
    fetched = tempfile.mkdtemp(prefix="soak-fetch-")
    for build_id in ids:
        build = call_json(args.port, "GET", f"/api/v1/builds/{build_id}")
        attempts = build.get("attempts") or []
        if len(attempts) > 1:
            counts["retried"] += 1
        if build["status"] not in FINAL:
            counts["stuck"] += 1
            problems.append(f"build {build_id} is still {build['status']} (tries {build['tries']})")
            continue
        if any(a.get("finished_at") is None for a in attempts):
            problems.append(f"build {build_id} ({build['status']}) has an attempt that never ended: {attempts}")
        if build["status"] == "failed" and "worker lost" in (build.get("error") or ""):
            counts["failed-worker-lost"] += 1
            if len(attempts) != 3 or any(a.get("outcome") != "lost" for a in attempts):
                problems.append(f"build {build_id} failed as worker lost after {attempts}")
            continue
        if build["status"] != "succeeded":
            counts["other"] += 1
            problems.append(f"build {build_id} {build['status']}: {build.get('error')}")
            continue
        counts["succeeded"] += 1
        coordinate = build["coordinate"]
        group, name, version = coordinate.split(":")
        status, data = call(args.port, "GET", f"/api/v1/packages/{group}/{name}/{version}")
        detail = json.loads(data) if status == 200 else {}
        if detail.get("digest") != build.get("package_digest"):
            counts["lost"] += 1
            problems.append(f"build {build_id}: {coordinate} is {status} in the repository, "
                            f"digest {detail.get('digest')} against the record's {build.get('package_digest')}")
            continue
        out = os.path.join(fetched, str(build_id))
        fetch = subprocess.run([args.bale, "-q", "fetch", coordinate, "--repo", f"http://127.0.0.1:{args.port}",
                                "-o", out], capture_output=True, text=True,
                               env={**os.environ, "BALE_HOME": os.path.join(fetched, "home")})
        archive = os.path.join(out, os.path.basename(detail["files"]["archive"]))
        if fetch.returncode != 0 or not os.path.isfile(archive):
            counts["lost"] += 1
            problems.append(f"build {build_id}: bale fetch {coordinate}: {fetch.stderr.strip()}")
            continue
        digest = "sha256:" + hashlib.sha256(open(archive, "rb").read()).hexdigest()
        if digest != build["package_digest"]:
            problems.append(f"build {build_id}: fetched {digest}, recorded {build['package_digest']}")
        if shutil.which("minisign"):
            signature = detail["files"].get("signature")
            status, data = call(args.port, "GET", signature) if signature else (404, b"")
            with open(archive + ".minisig", "wb") as f:
                f.write(data)
            check = subprocess.run(["minisign", "-Vqm", archive, "-p", args.public_key], capture_output=True)
            if status != 200 or check.returncode != 0:
                problems.append(f"build {build_id}: the signature of {coordinate} does not verify ({status})")
    shutil.rmtree(fetched, ignore_errors=True)
    # What killed attempts may leave: the workers' attempt directories, `bale
    # build`'s work directories and the sandbox's scratch (in the workers' TMPDIR).
    leftovers = {}
    for what, parent, prefix in (("worker attempt", os.path.join(args.home, "tmp", "service"), ""),
                                 ("bale build work", os.path.join(args.home, "tmp"), "build-"),
                                 ("sandbox scratch", args.tmpdir, "bale-run-")):
        names = sorted(os.listdir(parent)) if os.path.isdir(parent) else []
        leftovers[what] = [os.path.join(parent, n) for n in names
                           if n.startswith(prefix) and os.path.isdir(os.path.join(parent, n))]
    if orphans:
        problems.append(f"bale build processes outlived their workers: {orphans}")
    for what, dirs in leftovers.items():
        if dirs:
            problems.append(f"{what} directories left behind: {dirs[:3]}{' …' if len(dirs) > 3 else ''}")
    print(f"soak-service ({args.label}): {len(ids)} builds, {args.workers} workers, {kills} kills in {elapsed:.0f} s; "
          f"{counts['succeeded']} succeeded ({counts['retried']} after a lost attempt), "
          f"{counts['failed-worker-lost']} failed as worker lost {3} times, {counts['other']} other; "
          f"stuck {counts['stuck']}, lost {counts['lost']}, orphaned build processes {len(orphans)}, "
          "leftover directories: "
          + ", ".join(f"{len(dirs)} {what}" for what, dirs in leftovers.items()) + " (targets 0)")
    for text in problems[:20]:
        print(f"  {text}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
