"""Many clients at once on overlapping paths: the load behind tests/faults/test_soak.py and
benchmarks/soak.py.

Each client runs a fixed number of operations (PUT, GET, PROPFIND) on a small
set of shared paths, within a time limit. Every PUT body is unique and
recorded before it is sent, so that any body read back (by GET, or from S3 at
the end) can be checked to be exactly one complete PUT.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

FOLDERS = ["a", "b", "c"]
NAMES = ["x.bin", "y.bin", "z.bin", "w.bin"]


def paths() -> list[str]:
    return [f"/{d}/{n}" for d in FOLDERS for n in NAMES]


@dataclass
class SoakResult:
    ops: Counter = field(default_factory=Counter)  # method -> count
    failures: list[str] = field(default_factory=list)  # anything not as expected
    put_bodies: dict[str, set[str]] = field(default_factory=dict)  # path -> sha256s sent
    completed: dict[str, set[str]] = field(default_factory=dict)  # path -> sha256s answered 2xx
    seconds: float = 0.0
    bytes_up: int = 0
    bytes_down: int = 0


def proc_figures(pid: int) -> tuple[int, int]:
    """(resident KiB, threads) of a process, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


def run_soak(
    base_url: str,
    *,
    clients: int = 12,
    ops_per_client: int = 25,
    max_seconds: float = 20.0,
    max_body: int = 200_000,
    seed: int = 5,
) -> SoakResult:
    result = SoakResult()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    for d in FOLDERS:
        requests.request("MKCOL", f"{base_url}/{d}/", timeout=30)

    def record(kind: dict, path: str, digest: str) -> None:
        with lock:
            kind.setdefault(path, set()).add(digest)

    def fail(msg: str) -> None:
        with lock:
            result.failures.append(msg)

    def client(n: int) -> None:
        rnd = random.Random(seed * 1000 + n)
        http = requests.Session()
        for i in range(ops_per_client):
            if time.monotonic() > deadline:
                fail(f"client {n}: time limit reached after {i} operations")
                return
            path = rnd.choice(paths())
            op = rnd.choices(["PUT", "GET", "PROPFIND"], weights=[4, 4, 2])[0]
            try:
                if op == "PUT":
                    body = f"{n}-{i}-".encode() + os.urandom(rnd.randint(0, max_body))
                    digest = hashlib.sha256(body).hexdigest()
                    record(result.put_bodies, path, digest)
                    r = http.put(base_url + path, data=body, timeout=60)
                    if r.status_code not in (201, 204):
                        fail(f"PUT {path}: {r.status_code} {r.text[:200]}")
                    else:
                        record(result.completed, path, digest)
                    with lock:
                        result.bytes_up += len(body)
                elif op == "GET":
                    with lock:
                        known = path in result.completed  # before the GET is sent
                    r = http.get(base_url + path, timeout=60)
                    if r.status_code == 404:
                        if known:
                            fail(f"GET {path}: 404 after a completed PUT")
                    elif r.status_code != 200:
                        fail(f"GET {path}: {r.status_code} {_reason(r.text)}")
                    else:
                        digest = hashlib.sha256(r.content).hexdigest()
                        with lock:
                            ok = digest in result.put_bodies.get(path, set())
                            result.bytes_down += len(r.content)
                        if not ok:
                            fail(f"GET {path}: {len(r.content)} bytes that no PUT sent")
                else:
                    folder = path.rsplit("/", 1)[0] + "/"
                    r = http.request(
                        "PROPFIND", base_url + folder, headers={"Depth": "1"}, timeout=60
                    )
                    if r.status_code != 207:
                        fail(f"PROPFIND {folder}: {r.status_code} {r.text[:200]}")
            except requests.RequestException as exc:
                fail(f"{op} {path}: {type(exc).__name__}: {exc}")
            with lock:
                result.ops[op] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 90)
    result.seconds = time.monotonic() - started
    return result


def check_store(result: SoakResult, s3, bucket: str, base_url: str) -> list[str]:
    """Every path ends holding exactly one complete PUT's bytes, in S3 and via the gateway."""
    problems: list[str] = []
    for path in paths():
        if path not in result.completed:
            continue
        key = path.lstrip("/")
        stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        digest = hashlib.sha256(stored).hexdigest()
        if digest not in result.completed[path]:
            problems.append(f"s3://{bucket}/{key}: {len(stored)} bytes of no complete PUT")
        served = requests.get(base_url + path, timeout=60).content
        if served != stored:
            problems.append(f"{path}: the gateway serves other bytes than S3 holds")
    if s3.list_multipart_uploads(Bucket=bucket).get("Uploads"):
        problems.append("multipart uploads left open")
    return problems


def _reason(html: str) -> str:
    """The short reason inside WsgiDAV's error page."""
    import re

    m = re.search(r"<p>(.*?)</p>", html, re.S)
    return (m.group(1) if m else html[:200]).strip()
