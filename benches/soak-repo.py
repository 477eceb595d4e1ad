#!/usr/bin/env python3
"""The repository soak's driver (see soak-repo.sh): one `bale serve`, killed
with SIGKILL and restarted every few seconds, while publishers PUT signed
packages and downloaders GET, HEAD and Range-GET what was published.

Afterwards, with the server up for good:
  * every publish the server acknowledged (2xx) is served byte-identical
    (sha256) with the signature sent and the digest its metadata declares;
  * every complete response during the soak matched the bytes published
    (nothing partial or foreign was ever served);
  * every publish that was never acknowledged succeeds when sent again, or
    is answered "unchanged" (the same bytes are already there);
  * the storage holds only the three files of each package: no staging or
    upload file is left where a mirror would serve it.

Prints the figures and exits 1 when anything was lost or corrupted.
Python 3 standard library only.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET


class Package:
    """One pre-packed package: its coordinate, paths and bytes."""

    def __init__(self, archive):
        self.archive = archive
        self.data = open(archive, "rb").read()
        self.signature = open(archive + ".minisig", "rb").read()
        self.digest = "sha256:" + hashlib.sha256(self.data).hexdigest()
        # `bale pack` writes <name>-<version>.bale; the group is the soak's.
        name, version = os.path.basename(archive)[: -len(".bale")].rsplit("-", 1)
        self.name, self.version = name, version
        self.base = f"/org/example/soak/{name}/{version}/{name}-{version}"
        self.api = f"/api/v1/packages/org.example.soak/{name}/{version}"


class Figures:
    """Counters shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.problems = []

    def add(self, name, n=1):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def problem(self, text):
        with self.lock:
            self.problems.append(text)
            self.counts["corrupted"] = self.counts.get("corrupted", 0) + 1

    def get(self, name):
        return self.counts.get(name, 0)


class Server:
    """`bale serve` as a child process, killed and started again on demand."""

    def __init__(self, bale, port, storage, log, env):
        self.args = [bale, "-q", "serve", "--listen", f"127.0.0.1:{port}", "--storage", storage,
                     "--workers", "0", "--no-supervise"]
        self.port, self.log, self.env = port, log, env
        self.process = None

    def start(self):
        log = open(self.log, "ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=log, env=self.env)
        log.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"soak-repo: bale serve exited with {self.process.returncode}; see {self.log}")
            try:
                status, _, _ = request(self.port, "GET", "/api/v1/health", timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        sys.exit(f"soak-repo: bale serve did not answer within 60 s; see {self.log}")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


def request(port, method, path, body=None, headers=None, timeout=30):
    """One request on a new connection: (status, headers, body). A body
    shorter than its Content-Length raises http.client.IncompleteRead."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


DOWN = (OSError, http.client.HTTPException)


def publish(port, token, package):
    headers = {
        "Authorization": f"Bearer {token}",
        "bale-signature": base64.b64encode(package.signature).decode(),
        "Content-Length": str(len(package.data)),
    }
    return request(port, "PUT", package.base + ".bale", body=package.data, headers=headers)


class Soak:
    def __init__(self, args, packages, token):
        self.args, self.token = args, token
        self.figures = Figures()
        self.acked = []  # packages the server acknowledged
        self.sent = {}  # archive path -> package, every package sent at least once
        self.unacked = set()  # sent, never acknowledged (yet)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rng = random.Random(args.seed)
        self.queues = [packages[i:: args.publishers] for i in range(args.publishers)]

    # Publishers: each PUTs its own packages in turn; a publish that got no
    # answer (the server died) is tried again later, as a client would.
    def publisher(self, queue):
        f = self.figures
        retry = []
        while not self.stop.is_set() and (queue or retry):
            package = retry.pop(0) if retry and (not queue or len(retry) > 3) else queue.pop(0)
            with self.lock:
                self.sent[package.archive] = package
            f.add("requests")
            f.add("publishes")
            try:
                status, _, body = publish(self.args.port, self.token, package)
            except DOWN:
                f.add("publishes unanswered")
                with self.lock:
                    self.unacked.add(package.archive)
                retry.append(package)
                time.sleep(0.05)
                continue
            if status in (200, 201):
                outcome = json.loads(body)
                if outcome.get("digest") != package.digest:
                    f.problem(f"{package.base}: acknowledged as {outcome.get('digest')}, sent {package.digest}")
                f.add("acknowledged")
                with self.lock:
                    self.acked.append(package)
                    self.unacked.discard(package.archive)
            elif status >= 500:
                f.add("publishes refused 5xx")
                with self.lock:
                    self.unacked.add(package.archive)
                retry.append(package)
            else:
                f.problem(f"{package.base}: publish answered {status}: {body[:300]!r}")

    # Downloaders: GET, HEAD, Range GET, index, signature and metadata of an
    # acknowledged package; GET of one in flight (404 or the whole bytes).
    def downloader(self, seed):
        rng = random.Random(seed)
        f = self.figures
        while not self.stop.is_set():
            with self.lock:
                acked = self.acked[-200:] if self.acked else []
                in_flight = list(self.unacked)
            if not acked:
                time.sleep(0.01)
                continue
            package = rng.choice(acked)
            kind = rng.choice(["get", "get", "head", "range", "range", "index", "signature", "metadata", "in-flight"])
            if kind == "in-flight" and in_flight:
                with self.lock:
                    package = self.sent[rng.choice(in_flight)]
            f.add("requests")
            try:
                self.download(kind, package, rng)
            except http.client.IncompleteRead:
                # The server died mid-body: the client knows it is short.
                f.add("downloads cut short")
            except DOWN:
                f.add("downloads unanswered")
                time.sleep(0.02)

    def download(self, kind, package, rng):
        f, port = self.figures, self.args.port
        if kind in ("get", "in-flight"):
            status, headers, body = request(port, "GET", package.base + ".bale")
            if status == 404 and kind == "in-flight":
                return f.add("downloads")
            if status != 200 or body != package.data:
                return f.problem(f"GET {package.base}.bale: {status}, {len(body)} bytes, "
                                 f"sha256 {hashlib.sha256(body).hexdigest()[:16]}, published {package.digest[:23]}")
        elif kind == "head":
            status, headers, _ = request(port, "HEAD", package.base + ".bale")
            if status != 200 or int(headers.get("content-length", -1)) != len(package.data):
                return f.problem(f"HEAD {package.base}.bale: {status}, length {headers.get('content-length')}")
        elif kind == "range":
            start = rng.randrange(len(package.data))
            end = rng.randrange(start, len(package.data))
            status, headers, body = request(port, "GET", package.base + ".bale",
                                            headers={"Range": f"bytes={start}-{end}"})
            want = f"bytes {start}-{end}/{len(package.data)}"
            if status != 206 or headers.get("content-range") != want or body != package.data[start:end + 1]:
                return f.problem(f"GET {package.base}.bale bytes={start}-{end}: {status}, "
                                 f"{headers.get('content-range')}, {len(body)} bytes")
        elif kind == "index":
            status, _, body = request(port, "GET", package.base + ".json")
            index = json.loads(body) if status == 200 else None
            if not index or index.get("coordinate") != f"org.example.soak:{package.name}:{package.version}":
                return f.problem(f"GET {package.base}.json: {status}, {body[:200]!r}")
        elif kind == "signature":
            status, _, body = request(port, "GET", package.base + ".bale.minisig")
            if status != 200 or body != package.signature:
                return f.problem(f"GET {package.base}.bale.minisig: {status}, {body[:200]!r}")
        elif kind == "metadata":
            status, _, body = request(port, "GET", package.api)
            detail = json.loads(body) if status == 200 else {}
            if detail.get("digest") != package.digest:
                return f.problem(f"GET {package.api}: {status}, digest {detail.get('digest')}, published {package.digest}")
        f.add("downloads")

    # The killer: SIGKILL every few seconds (with jitter), then start again.
    def killer(self, server):
        while not self.stop.wait(self.args.kill_every * self.rng.uniform(0.5, 1.5)):
            server.kill()
            self.figures.add("kills")
            time.sleep(self.rng.uniform(0, 0.3))
            server.start()

    def run(self, server):
        threads = [threading.Thread(target=self.publisher, args=(q,)) for q in self.queues]
        threads += [threading.Thread(target=self.downloader, args=(self.args.seed + i,))
                    for i in range(self.args.downloaders)]
        killer = threading.Thread(target=self.killer, args=(server,))
        for t in threads + [killer]:
            t.start()
        deadline = time.time() + self.args.seconds
        while time.time() < deadline:
            time.sleep(0.2)
        self.stop.set()
        for t in threads + [killer]:
            t.join()


def check_after(soak, server, args):
    """The checks with the server up for good; returns (lost, corrupted)."""
    f, port = soak.figures, args.port
    lost = 0
    for package in soak.acked:
        try:
            status, _, body = request(port, "GET", package.base + ".bale")
            _, _, sig = request(port, "GET", package.base + ".bale.minisig")
            meta_status, _, meta = request(port, "GET", package.api)
        except DOWN as e:
            sys.exit(f"soak-repo: the server stopped answering after the soak: {e}")
        if status == 404 or meta_status == 404:
            lost += 1
            soak.figures.problems.append(f"lost: {package.base}.bale ({status}, metadata {meta_status})")
        elif body != package.data or sig != package.signature or json.loads(meta).get("digest") != package.digest:
            f.problem(f"after the soak {package.base}: {status}, {len(body)} bytes, signature "
                      f"{'equal' if sig == package.signature else 'different'}")
    # Publishes never acknowledged: the same bytes again succeed (201), or are already there (200).
    for archive in sorted(soak.unacked):
        package = soak.sent[archive]
        status, _, body = publish(port, soak.token, package)
        f.add("republished")
        if status not in (200, 201):
            f.problem(f"republish of unacknowledged {package.base}.bale: {status} {body[:300]!r}")
            continue
        _, _, served = request(port, "GET", package.base + ".bale")
        if served != package.data:
            f.problem(f"republished {package.base}.bale is served as other bytes")
    return lost


def stored_keys(args):
    """Every object key in the storage (files under the directory, or the bucket's keys)."""
    if args.storage_dir:
        keys = []
        for root, _, files in os.walk(args.storage_dir):
            for name in files:
                keys.append(os.path.relpath(os.path.join(root, name), args.storage_dir))
        return keys
    keys, token = [], None
    while True:
        query = {"list-type": "2"}
        if token:
            query["continuation-token"] = token
        endpoint = urllib.parse.urlparse(args.s3_endpoint)
        status, _, body = request(endpoint.port, "GET", f"/{args.s3_bucket}?{urllib.parse.urlencode(query)}")
        if status != 200:
            sys.exit(f"soak-repo: listing the bucket: {status} {body[:200]!r}")
        ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        tree = ET.fromstring(body)
        keys += [e.text for e in tree.findall("s3:Contents/s3:Key", ns)]
        token_el = tree.find("s3:NextContinuationToken", ns)
        if token_el is None:
            return keys
        token = token_el.text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bale", required=True)
    parser.add_argument("--packages", required=True, help="directory of NAME-VERSION.bale + .minisig")
    parser.add_argument("--storage", required=True, help="bale serve --storage")
    parser.add_argument("--storage-dir", help="the directory, for local storage")
    parser.add_argument("--s3-endpoint")
    parser.add_argument("--s3-bucket")
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--downloaders", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=3)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--label", default="local")
    args = parser.parse_args()

    archives = sorted(os.path.join(args.packages, n) for n in os.listdir(args.packages) if n.endswith(".bale"))
    packages = [Package(a) for a in archives]
    server = Server(args.bale, args.port, args.storage, args.log, os.environ.copy())
    server.start()
    soak = Soak(args, packages, args.token)
    started = time.time()
    try:
        soak.run(server)
        elapsed = time.time() - started
        # The last server may have been killed and not yet started again.
        if server.process.poll() is not None:
            server.start()
        lost = check_after(soak, server, args)
        # Leftovers: anything in storage that is not one of a package's three files.
        expected = set()
        for package in soak.sent.values():
            base = package.base.lstrip("/")
            expected |= {base + ".bale", base + ".bale.minisig", base + ".json"}
        # The tree as a mirror would see it once the server is stopped.
        server.stop()
        leftovers = sorted(k for k in stored_keys(args) if k not in expected)
    finally:
        server.stop()

    f = soak.figures
    requests = f.get("requests") + f.get("republished")
    print(f"soak-repo ({args.label}): {elapsed:.0f} s, {args.publishers} publishers, {args.downloaders} downloaders, "
          f"{requests} requests, {f.get('kills')} kills; {f.get('acknowledged')} acknowledged publishes of "
          f"{len(soak.sent)} sent ({f.get('publishes unanswered')} unanswered, {f.get('republished')} republished after); "
          f"{f.get('downloads')} downloads checked ({f.get('downloads cut short')} cut short by a kill, "
          f"{f.get('downloads unanswered')} unanswered); lost {lost}, corrupted {f.get('corrupted')}, "
          f"leftover files {len(leftovers)} (targets 0, 0, 0)")
    for text in f.problems[:20]:
        print(f"  {text}")
    for key in leftovers[:20]:
        print(f"  leftover: {key}")
    if lost or f.get("corrupted") or leftovers:
        sys.exit(1)


if __name__ == "__main__":
    main()
