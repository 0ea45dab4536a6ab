"""Server CPU per warm request: s3dav (and rclone) answering from their caches.

The warm phases of benchmarks/run.py send no S3 request, so their wall time
is the server's own CPU. On a shared machine wall time is noisy; the CPU
seconds the server process spends per request are not. This starts moto, one
server (no latency proxy: warm requests do not reach S3), fills the scenarios'
folders, warms them once, then times N repetitions of each warm request:

    python -m benchmarks.warmcpu --target s3dav-wt --repeat 20
    python -m benchmarks.warmcpu --target rclone-full --repeat 20

Printed per phase: wall seconds per repetition and server CPU milliseconds
per request (best and median repetition; CPU from /proc/PID/task/*/schedstat).
`--hold` keeps the loop running (for py-spy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import psutil
import requests

from benchmarks.run import (
    PROPFIND_BODY,
    SMALL,
    Runner,
    make_target,
    start_moto,
    stop,
    wait_http,
)


class NoProxy:
    """Runner wants a proxy for its counts; warm requests have none to count."""

    def reset(self) -> None:
        pass

    def counts(self) -> dict[str, int]:
        return {}


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of all the server's threads, in ns precision where Linux tells it."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError):  # a thread ended meanwhile, or no schedstat here
        return sum(proc.cpu_times()[:2])


def phases(url: str, http: requests.Session) -> dict[str, tuple[int, object]]:
    """name -> (requests per repetition, one repetition)."""

    def propfind(path: str) -> None:
        r = http.request("PROPFIND", url + path, headers={"Depth": "1"}, data=PROPFIND_BODY)
        assert r.status_code == 207, r.status_code

    def get_all() -> None:
        for i in range(200):
            r = http.get(f"{url}/a/f{i:03d}.txt")
            assert r.status_code == 200 and len(r.content) == len(SMALL), r.status_code

    def walk() -> None:
        propfind("/f/")
        for i in range(20):
            propfind(f"/f/d{i:02d}/")

    return {
        "a propfind 200": (1, lambda: propfind("/a/")),
        "b get 200x4KiB": (200, get_all),
        "d propfind 2000": (1, lambda: propfind("/d/")),
        "f walk 21": (21, walk),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="s3dav-wt")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--phases", default="abdf", help="first letters of the phases to time")
    ap.add_argument("--hold", type=float, default=0, help="then loop the phases this many s")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="s3dav-warmcpu-"))
    log = open(work / "servers.log", "wb")  # noqa: SIM115
    moto, moto_url = start_moto(log)
    target = None
    try:
        wait_http(moto_url + "/moto-api/", moto)
        direct = boto3.client(
            "s3", endpoint_url=moto_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        bucket = f"warm-{uuid.uuid4().hex[:10]}"
        direct.create_bucket(Bucket=bucket)
        runner = Runner(None, NoProxy(), direct, bucket, work / "none")
        runner.setup("df")
        (work / "t").mkdir()
        target = runner.t = make_target(a.target, moto_url, bucket, work / "t", log)
        runner.req("MKCOL", "/a/")
        for i in range(200):
            runner.req("PUT", f"/a/f{i:03d}.txt", data=SMALL)
        target.settle(NoProxy(), timeout=120)
        proc = psutil.Process(target.proc.pid)
        http = requests.Session()
        todo = {k: v for k, v in phases(target.url, http).items() if k[0] in a.phases}
        for _n, fn in todo.values():
            fn()  # cold: lists, HEADs, first GETs
            fn()
        print(f"{a.target} pid {target.proc.pid}: {a.repeat} repetitions per phase", flush=True)
        for name, (n, fn) in todo.items():
            walls, cpus = [], []
            for _ in range(a.repeat):
                c0, t0 = cpu_seconds(proc), time.perf_counter()
                fn()
                walls.append(time.perf_counter() - t0)
                cpus.append(cpu_seconds(proc) - c0)
            best, median = min(cpus) / n * 1000, statistics.median(cpus) / n * 1000
            print(
                f"  {name:16} wall best {min(walls):.3f}s median {statistics.median(walls):.3f}s"
                f"  server CPU/request best {best:.2f} ms median {median:.2f} ms",
                flush=True,
            )
        deadline = time.monotonic() + a.hold
        while time.monotonic() < deadline:
            for _n, fn in todo.values():
                fn()
    finally:
        if target is not None:
            target.stop()
        stop(moto)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
