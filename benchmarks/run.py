"""Benchmark: s3dav against `rclone serve webdav`, same proxy, same moto, same run.

Starts moto's server, the latency-injecting proxy (tests/support/latencyproxy.py) in
front of it, then for each added latency and each target (s3dav write-through,
s3dav write-back, rclone --vfs-cache-mode off, rclone --vfs-cache-mode full) a
fresh bucket and server, and runs the issues' scenarios (a)-(h). Wall time is
measured at the WebDAV client; S3 requests are counted at the proxy. Prints one
table and writes benchmarks/results/latest.{md,json,png}.

    python -m benchmarks.run                       # 100, 50 and 0 ms, all targets, (a)-(f)
    python -m benchmarks.run --latency 50 --targets s3dav-wt,rclone-full --big-mib 64
    python -m benchmarks.run --latency 100 --scenarios gh --targets s3dav-wt,rclone-full
    python -m benchmarks.run --latency 100 --scenarios g --long   # (g) with 100,000 objects

Everything listens on 127.0.0.1 and is stopped by PID.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import requests
import yaml
from boto3.s3.transfer import TransferConfig
from requests.adapters import HTTPAdapter

from s3dav.options import SCHEMA
from tests.support.helpers import PeakRss

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
MIB = 1024 * 1024
SMALL = b"s" * 4096
PROPFIND_BODY = (
    b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getlastmodified/>'
    b"<getcontentlength/><resourcetype/><getetag/></prop></propfind>"
)
ALL_TARGETS = ["s3dav-wt", "s3dav-wb", "rclone-off", "rclone-full"]
# (g) and (h) run on these targets only: rclone's modes list and look up names alike,
# and (g) costs rclone one HEAD per object, one after another.
GH_TARGETS = {"s3dav-wt", "rclone-full"}
G_OBJECTS, G_OBJECTS_LONG = 20_000, 100_000
# (g) against rclone stops after this many times s3dav's own time (G_MIN_CUTOFF..G_MAX_CUTOFF s):
# enough to show a 1/10 ratio without waiting half an hour for 20,000 HEADs in a row.
G_CUTOFF_FACTOR, G_MIN_CUTOFF, G_MAX_CUTOFF = 10.5, 60.0, 900.0
H_WAIT = 60.0  # (h): a change not visible after this long is reported as "> 60 s"
H_POLL = 0.05  # (h): the client asks again every 50 ms
EVENTS_TOKEN = "benchmark-events-token-0123456789"
NEGATIVE_TTL = 3.0  # cache.negative_ttl given to s3dav in (h)
# (c): every target's 256 MiB PUT (and boto3-direct's) is timed this many times and the median
# counts. One PUT moved by +-15% between runs with the machine's memory and disk state.
C_PUTS = 3
# The WebDAV client sends a file body in writes of this size (urllib3's default is 16 KiB).
# boto3 sends each part in one write, curl in 64 KiB+ ones and rclone with sendfile;
# 16 KiB writes cost the client 0.3 s of CPU per 256 MiB on the machine all share.
CLIENT_BLOCK = MIB
RESPONSE = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?response[\s>]")


class BigWrites(HTTPAdapter):
    """requests' adapter with urllib3 connections that send bodies in CLIENT_BLOCK writes."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["blocksize"] = CLIENT_BLOCK
        super().init_poolmanager(*args, **kwargs)


def webdav_session() -> requests.Session:
    """The benchmark's WebDAV client, the same for every target."""
    session = requests.Session()
    session.mount("http://", BigWrites())
    return session


def responses(multistatus: str) -> int:
    """How many <response> elements a 207 body holds, whatever prefix DAV: has."""
    return len(RESPONSE.findall(multistatus))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log) -> tuple[subprocess.Popen, str]:
    """moto's server for a benchmark (benchmarks/motoserver.py); returns (process, URL)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.motoserver", "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **CREDS},
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Proxy:
    def __init__(self, upstream: str, latency_ms: float, log) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.latencyproxy", "--upstream", upstream,
             "--port", str(self.port), "--latency-ms", str(latency_ms)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_http(self.url + "/__proxy__/counts", self.proc)

    def latency(self, ms: float) -> None:
        requests.post(f"{self.url}/__proxy__/latency?ms={ms}", timeout=5)

    def counts(self) -> dict[str, int]:
        return requests.get(self.url + "/__proxy__/counts", timeout=5).json()

    def spans(self) -> dict[str, dict[str, float]]:
        """Per request kind: first request, last answer (s since reset), most in flight."""
        return requests.get(self.url + "/__proxy__/spans", timeout=5).json()

    def reset(self) -> None:
        requests.post(self.url + "/__proxy__/reset", timeout=5)


class Target:
    """A WebDAV server under test; `url` ends without a slash."""

    name: str
    url: str
    proc: subprocess.Popen

    def settle(self, proxy: Proxy, timeout: float = 120) -> float:
        """Wait until background uploads reached S3; seconds waited."""
        return 0.0

    def stop(self) -> None:
        stop(self.proc)


class S3dav(Target):
    def __init__(
        self, name, endpoint, bucket, workdir: Path, log, *, write_back: bool, events: bool = True
    ) -> None:
        """`events`: S3 event notifications on (events.token), which turns cache.negative_ttl
        off: (h) measures each way with its own gateway."""
        self.name = name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cfg = {
            "server": {"host": "127.0.0.1", "port": port},
            "s3": {"endpoint_url": endpoint},
            "shares": [{"path": "/", "bucket": bucket}],
            "cache": {"dir": str(workdir / "cache"), "write_back": write_back},
            "logging": {"level": "warning"},
        }
        if events:
            cfg["events"] = {"token": EVENTS_TOKEN}
        if "negative_ttl" in SCHEMA["cache"]:
            cfg["cache"]["negative_ttl"] = f"{NEGATIVE_TTL:g}s"
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "s3dav.yaml"
        path.write_text(yaml.safe_dump(cfg))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "s3dav", "serve", "--config", str(path)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **CREDS},
        )  # fmt: skip
        wait_http(self.url + "/healthz", self.proc)
        self.write_back = write_back

    def settle(self, proxy: Proxy, timeout: float = 300) -> float:
        """Wait for write-back uploads and post-answer upload work (MD5 self-copy, ingest)."""
        gauges = ("s3dav_uploads_pending ", "s3dav_upload_work_pending ")
        t0 = time.monotonic()
        first = True
        while time.monotonic() - t0 < timeout:
            text = requests.get(self.url + "/metrics", timeout=5).text
            values = [float(ln.split()[1]) for ln in text.splitlines() if ln.startswith(gauges)]
            if values and not any(values):
                return 0.0 if first else time.monotonic() - t0
            first = False
            time.sleep(0.05)
        raise TimeoutError("background uploads did not finish")


class Rclone(Target):
    def __init__(self, name, endpoint, bucket, workdir: Path, log, *, mode: str) -> None:
        self.name = name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        remote = (
            f":s3,provider=Other,endpoint='{endpoint}',access_key_id=testing,"
            f"secret_access_key=testing,force_path_style=true:{bucket}"
        )
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # rclone refuses it
        self.proc = subprocess.Popen(
            ["rclone", "serve", "webdav", remote, "--addr", f"127.0.0.1:{port}",
             "--vfs-cache-mode", mode, "--cache-dir", str(workdir / "rclone-cache"),
             "--config", "/dev/null", "--log-level", "ERROR"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        wait_http(self.url + "/", self.proc)
        self.mode = mode

    def settle(self, proxy: Proxy, timeout: float = 300) -> float:
        """vfs full writes back ~5 s after the last change: wait for the proxy to go quiet."""
        if self.mode != "full":
            return 0.0
        t0 = time.monotonic()
        last, quiet_since = None, time.monotonic()
        while time.monotonic() - t0 < timeout:
            now = proxy.counts()
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since > 8:
                return quiet_since - t0
            time.sleep(0.2)
        raise TimeoutError("rclone write-back did not finish")


def make_target(name, endpoint, bucket, workdir, log) -> Target:
    if name == "s3dav-wt":
        return S3dav(name, endpoint, bucket, workdir, log, write_back=False)
    if name == "s3dav-wb":
        return S3dav(name, endpoint, bucket, workdir, log, write_back=True)
    if name == "rclone-off":
        return Rclone(name, endpoint, bucket, workdir, log, mode="off")
    if name == "rclone-full":
        return Rclone(name, endpoint, bucket, workdir, log, mode="full")
    raise ValueError(name)


# ------------------------------------------------------------------ scenarios
class Runner:
    def __init__(
        self, target, proxy: Proxy, direct, bucket: str, big: Path, *, gh: bool = False,
        g_objects: int = G_OBJECTS, g_times: dict | None = None, latency_ms: float = 0,
        workdir: Path | None = None, log=None,
    ) -> None:  # fmt: skip
        self.latency_ms = latency_ms
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="s3dav-bench-h-"))
        self.log = log
        self.gh = gh  # (g) and (h) run for this target
        self.g_objects = g_objects
        self.g_times = (
            g_times if g_times is not None else {}
        )  # s3dav's (g) time, for rclone's limit
        self.t = target
        self.proxy = proxy
        self.direct = direct  # boto3 straight to moto: setup that is not measured
        self.bucket = bucket
        self.big = big
        self.http = webdav_session()
        self.rows: list[dict] = []

    def req(self, method: str, path: str, **kw) -> requests.Response:
        r = self.http.request(method, self.t.url + path, timeout=600, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{self.t.name}: {method} {path} -> {r.status_code} {r.text[:200]}")
        return r

    def propfind(self, path: str) -> int:
        r = self.req("PROPFIND", path, headers={"Depth": "1"}, data=PROPFIND_BODY)
        return responses(r.text)

    def phase(
        self, scenario: str, phase: str, fn, *, settle: bool = False, mib: float = 0,
        extra=None,
    ):  # fmt: skip
        """Time `fn` at the client and count its S3 requests; `extra(row)` adds figures.

        `fn` raising CutOff is a phase stopped at its time limit: its row says so
        (`cut_off`) and its wall time is the limit, a lower bound of the real one.
        """
        self.proxy.reset()
        t0 = time.monotonic()
        error = None
        cut_off = False
        try:
            fn()
        except CutOff:
            cut_off = True
        except Exception as exc:  # noqa: BLE001 - reported in the table, the run goes on
            error = str(exc)[:200]
        wall = time.monotonic() - t0
        bg = self.t.settle(self.proxy) if settle and error is None else 0.0
        counts = self.proxy.counts()
        row = {
            "target": self.t.name,
            "scenario": scenario,
            "phase": phase,
            "wall_s": round(wall, 3),
            "background_s": round(bg, 3),
            "s3_requests": sum(counts.values()),
            "by_kind": counts,
        }
        if cut_off:
            row["cut_off"] = True
        if error:
            row["error"] = error
            print(f"  {self.t.name:12} {scenario}:{phase} FAILED: {error}", flush=True)
        elif mib:
            row["mib_per_s"] = round(mib / wall, 1)
        if extra is not None and not error:
            extra(row)
        self.rows.append(row)
        print(
            f"  {self.t.name:12} {scenario}:{phase:14} {wall:8.2f}s"
            f"{f' (+{bg:.1f}s bg)' if bg else '':14} S3 {row['s3_requests']:5} {counts}",
            flush=True,
        )
        return row

    def put_straight(self, keys: list[str]) -> None:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: self.direct.put_object(Bucket=self.bucket, Key=k, Body=SMALL),
                          keys))  # fmt: skip

    def setup(self, scenarios: str) -> None:
        """Objects other tools wrote, in S3 before the server starts."""
        keys = []
        if "d" in scenarios:
            keys += [f"d/o{i:05d}.txt" for i in range(2000)]
        if "e" in scenarios:
            keys += [f"e/src/m{i:02d}.txt" for i in range(50)]
        if "f" in scenarios:
            keys += [f"f/d{i:02d}/x{j:02d}.txt" for i in range(20) for j in range(20)]
        if "g" in scenarios and self.gh:
            keys += [f"g/IMG_{i:06d}.jpg" for i in range(self.g_objects)]
        if "h" in scenarios and self.gh:
            keys += [f"h/old{i:02d}.txt" for i in range(10)]
        self.put_straight(keys)

    def run(self, scenarios: str) -> list[dict]:
        names = [f"f{i:03d}.txt" for i in range(200)]
        if "a" in scenarios or "b" in scenarios:
            self.req("MKCOL", "/a/")

            def put_all():
                for n in names:
                    self.req("PUT", f"/a/{n}", data=SMALL)

            self.phase("a", "put 200x4KiB", put_all, settle=True)
            self.phase("a", "propfind cold", lambda: self.propfind("/a/"))
            self.phase("a", "propfind warm5", lambda: [self.propfind("/a/") for _ in range(5)])
        if "b" in scenarios:
            for i in (1, 2):
                self.phase(
                    "b", f"get 200 #{i}", lambda: [self.req("GET", f"/a/{n}") for n in names]
                )
        if "c" in scenarios:
            mib = self.big.stat().st_size / MIB

            def put_big():
                with open(self.big, "rb") as f:
                    self.req("PUT", "/big.bin", data=f)

            def get_big():
                got = 0
                with self.http.get(self.t.url + "/big.bin", stream=True, timeout=600) as r:
                    r.raise_for_status()
                    for chunk in r.iter_content(MIB):
                        got += len(chunk)
                assert got == self.big.stat().st_size, got

            runs = []
            for _ in range(C_PUTS):
                os.sync()  # no target pays for the disk writes of an earlier step
                runs.append(self.phase("c", f"put {mib:.0f}MiB", put_big, settle=True, mib=mib))
            self.rows = [r for r in self.rows if all(r is not x for x in runs)]
            self.rows.append(median_row(runs))
            self.phase("c", f"get {mib:.0f}MiB", get_big, mib=mib)
        if "d" in scenarios:
            self.phase("d", "propfind cold", lambda: self.propfind("/d/"))
            self.phase("d", "propfind warm", lambda: self.propfind("/d/"))
        if "e" in scenarios:
            self.propfind("/e/")  # the client sees the folder before moving it
            dest = {"Destination": self.t.url + "/e/dst/"}
            self.phase("e", "move 50", lambda: self.req("MOVE", "/e/src/", headers=dest))
        if "f" in scenarios:

            def walk():
                self.propfind("/f/")
                for i in range(20):
                    self.propfind(f"/f/d{i:02d}/")

            self.phase("f", "walk cold", walk)
            self.phase("f", "walk warm", walk)
        if "h" in scenarios and self.gh:
            self.run_h()
        if "g" in scenarios and self.gh:
            self.run_g()  # last: a cut-off (g) leaves rclone busy with its HEADs
        return self.rows

    def run_g(self) -> None:
        """(g) cold PROPFIND Depth 1 of a folder of g_objects objects written straight to S3."""
        n = self.g_objects
        ours = isinstance(self.t, S3dav)
        limit = (
            None
            if ours
            else min(G_MAX_CUTOFF, max(G_MIN_CUTOFF, G_CUTOFF_FACTOR * self.g_times.get(n, 0)))
        )
        rss = PeakRss(self.t.proc.pid) if ours else None
        latency = self.latency_ms / 1000

        def list_all():
            # The limit is on the whole answer: rclone streams its 207 as its HEADs go, so
            # a read timeout alone would never fire (seen: 1520 s for 14,466 of 20,000).
            deadline = time.monotonic() + (limit or 3600)
            body = bytearray()
            try:
                with self.http.request(
                    "PROPFIND", self.t.url + "/g/", headers={"Depth": "1"},
                    data=PROPFIND_BODY, timeout=limit or 3600, stream=True,
                ) as r:  # fmt: skip
                    for chunk in r.iter_content(64 * 1024):
                        body += chunk
                        if time.monotonic() > deadline:
                            raise CutOff
            except requests.Timeout:
                raise CutOff from None
            if r.status_code != 207:
                raise RuntimeError(f"PROPFIND /g/ -> {r.status_code} {bytes(body[:200])!r}")
            got = responses(body.decode("utf-8", "replace"))
            if got != n + 1:
                raise RuntimeError(f"PROPFIND /g/ listed {got - 1} of {n} objects")

        def figures(row: dict) -> None:
            # First LIST sent to last LIST answered: against moto, whose LIST walks the
            # whole bucket, this is moto's CPU more than round trips (docs/caching.md).
            span = self.proxy.spans().get("LIST")
            if span:
                row["list_s"] = round(span["last"] - span["first"], 3)
                row["list_peak"] = span["peak"]
                row["list_floor_s"] = round(-(-n // 1000) * latency, 3)
            if rss is not None:
                row["peak_rss_mib"] = round(rss.peak / MIB, 1)
            if limit is not None:
                row["limit_s"] = round(limit, 1)

        if rss is not None:
            with rss:
                row = self.phase("g", f"propfind cold {n:,}", list_all, extra=figures)
            row["peak_rss_mib"] = round(rss.peak / MIB, 1)
            if not row.get("error"):
                self.g_times[n] = row["wall_s"]
        else:
            self.phase("g", f"propfind cold {n:,}", list_all, extra=figures)

    def run_h(self) -> None:
        """(h) time from a write straight to S3 to its visibility through the server.

        The client has just listed the folder (so the server has it cached), then
        another tool writes; the client asks for the new path every H_POLL s. With
        events: the S3 notification is sent to s3dav's webhook as soon as the write
        returned (S3's own delivery delay is not part of it). Time counts from the
        write's answer to the first answer that shows the new path.
        """
        ours = isinstance(self.t, S3dav)
        cases = [("file, no event", "h/new-file.txt", False)]
        cases.append(("folder, no event", "h/new-folder/", False))
        if ours:
            cases.insert(0, ("file, event", "h/evented.txt", True))
            cases.append(("folder, event", "h/evented-folder/", True))
        plain = None  # s3dav without events: negative_ttl is on only there
        if ours:
            plain = S3dav(
                "s3dav-wt", self.proxy.url, self.bucket, self.workdir / "no-events", self.log,
                write_back=False, events=False,
            )  # fmt: skip
        try:
            for label, key, event in cases:
                self.h_case(label, key, event, plain if (ours and not event) else self.t)
        finally:
            if plain is not None:
                plain.stop()

    def h_case(self, label: str, key: str, event: bool, server: Target) -> None:
        """One (h) case against `server` (the target, or s3dav without events)."""
        folder = key.endswith("/")
        state: dict[str, float] = {}
        probe = webdav_session()
        probe.request("PROPFIND", server.url + "/h/", headers={"Depth": "1"}, data=PROPFIND_BODY)

        def write_and_wait():
            self.direct.put_object(
                Bucket=self.bucket, Key=key, Body=b"" if folder else SMALL,
                ContentType="application/x-directory" if folder else "text/plain",
            )  # fmt: skip
            written = time.monotonic()
            if event:
                self.post_event(key)
            while time.monotonic() < written + H_WAIT:
                if folder:
                    r = probe.request(
                        "PROPFIND", server.url + "/" + key, headers={"Depth": "0"},
                        data=PROPFIND_BODY, timeout=30,
                    )  # fmt: skip
                    seen = r.status_code == 207
                else:
                    seen = probe.get(server.url + "/" + key, timeout=30).status_code == 200
                if seen:
                    state["visible_s"] = time.monotonic() - written
                    return
                time.sleep(H_POLL)
            state["visible_s"] = H_WAIT
            raise CutOff

        def figures(row: dict) -> None:
            row["visible_s"] = round(state.get("visible_s", H_WAIT), 3)

        self.phase("h", label, write_and_wait, extra=figures)

    def post_event(self, key: str) -> None:
        """What S3 (or MinIO, or SNS) pushes for one new object: its Records document."""
        record = {
            "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": self.bucket}, "object": {"key": key, "size": 0}},
        }  # fmt: skip
        r = self.http.post(
            self.t.url + "/_s3dav/events", json={"Records": [record]},
            headers={"Authorization": f"Bearer {EVENTS_TOKEN}"}, timeout=30,
        )  # fmt: skip
        if r.status_code >= 300:
            raise RuntimeError(f"event POST -> {r.status_code} {r.text[:200]}")


class CutOff(Exception):
    """A phase stopped at its time limit (rclone's (g), an (h) change never seen)."""


def median_row(runs: list[dict]) -> dict:
    """The run with the median wall time, every run's time beside it (a failed run wins)."""
    failed = [r for r in runs if r.get("error")]
    if failed:
        return failed[0]
    row = dict(sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2])
    row["runs_s"] = [r["wall_s"] for r in runs]
    print(f"  {row['target']:12} {row['scenario']}:{row['phase']:14} median of "
          f"{len(runs)}: {row['wall_s']:.2f}s of {row['runs_s']}", flush=True)  # fmt: skip
    return row


def timed_direct(proxy: Proxy, phase: str, mib: float, fn) -> dict:
    """One (c) phase of boto3-direct, timed at the client, requests counted at the proxy."""
    proxy.reset()
    t0 = time.monotonic()
    fn()
    wall = time.monotonic() - t0
    counts = proxy.counts()
    print(f"  boto3-direct c:{phase:14} {wall:8.2f}s  {mib / wall:.1f} MiB/s", flush=True)
    return {
        "target": "boto3-direct", "scenario": "c", "phase": phase, "wall_s": round(wall, 3),
        "background_s": 0.0, "s3_requests": sum(counts.values()), "by_kind": counts,
        "mib_per_s": round(mib / wall, 1),
    }  # fmt: skip


def boto3_baseline(proxy: Proxy, bucket: str, big: Path) -> list[dict]:
    """(c) straight through the proxy with boto3's own transfer manager."""
    client = boto3.client(
        "s3", endpoint_url=proxy.url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
    mib = big.stat().st_size / MIB
    puts = []
    for _ in range(C_PUTS):
        os.sync()  # as before every target's (c) PUT
        puts.append(timed_direct(proxy, f"put {mib:.0f}MiB", mib, lambda: client.upload_file(
            str(big), bucket, "base.bin", Config=cfg)))  # fmt: skip
    get = timed_direct(proxy, f"get {mib:.0f}MiB", mib, lambda: client.download_file(
        bucket, "base.bin", str(big) + ".down", Config=cfg))  # fmt: skip
    rows = [median_row(puts), get]
    Path(str(big) + ".down").unlink(missing_ok=True)
    return rows


# ------------------------------------------------------------------ reporting
def find(rows: list[dict], target: str, scenario: str, phase: str) -> dict | None:
    for r in rows:
        if (r["target"], r["scenario"], r["phase"]) == (target, scenario, phase):
            return r
    return None


# Issue 4's "Done when", at 50 ms: (what, ours, theirs, compare, bound).
# "ratio" is our wall time over theirs (at most the bound); "throughput" is our
# MiB/s over theirs (at least the bound).
WARM_PHASES = [
    ("a", "propfind warm5"),
    ("b", "get 200 #1"),
    ("b", "get 200 #2"),
    ("d", "propfind warm"),
    ("f", "walk warm"),
]
GOALS = [
    ("(d) cold PROPFIND of 2000 objects", ("s3dav-wt", "d", "propfind cold"),
     ("rclone-full", "d", "propfind cold"), "ratio", 0.1),
    ("(f) cold walk", ("s3dav-wt", "f", "walk cold"), ("rclone-full", "f", "walk cold"),
     "ratio", 0.2),
    ("(e) MOVE of 50 files", ("s3dav-wt", "e", "move 50"), ("rclone-full", "e", "move 50"),
     "ratio", 0.5),
    ("(a) 200 PUTs, write-through vs rclone off", ("s3dav-wt", "a", "put 200x4KiB"),
     ("rclone-off", "a", "put 200x4KiB"), "ratio", 0.6),
    ("(a) 200 PUTs, write-back vs rclone full", ("s3dav-wb", "a", "put 200x4KiB"),
     ("rclone-full", "a", "put 200x4KiB"), "ratio", 2.0),
    ("(c) upload vs boto3 direct", ("s3dav-wt", "c", "put {mib}MiB"),
     ("boto3-direct", "c", "put {mib}MiB"), "throughput", 0.8),
    ("(c) download vs boto3 direct", ("s3dav-wt", "c", "get {mib}MiB"),
     ("boto3-direct", "c", "get {mib}MiB"), "throughput", 0.8),
] + [
    (f"({sc}) {ph}, {t}, warm", (t, sc, ph), ("rclone-full", sc, ph), "ratio", 2.0)
    for sc, ph in WARM_PHASES
    for t in ("s3dav-wt", "s3dav-wb")
]  # fmt: skip


def goals(rows: list[dict], latency: float = 50) -> str:
    """The issue's "Done when" figures, computed from one run's rows."""
    sub = [r for r in rows if r["latency_ms"] == latency and not r.get("error")]
    mib = next((r["phase"].split()[1] for r in sub if r["scenario"] == "c"), "256MiB")[:-3]
    out = [
        f'\n### Goals at {latency:g} ms (issue 4, "Done when")\n',
        "| goal | s3dav | reference | figure | bound | holds |",
        "|---|---|---|---|---|---|",
    ]
    for what, ours, theirs, kind, bound in GOALS:
        a = find(sub, ours[0], ours[1], ours[2].format(mib=mib))
        b = find(sub, theirs[0], theirs[1], theirs[2].format(mib=mib))
        if a is None or b is None:
            continue
        if kind == "ratio":
            figure = a["wall_s"] / max(b["wall_s"], 1e-3)
            holds = figure <= bound
            cells = f"{a['wall_s']:.2f} s | {b['wall_s']:.2f} s | {figure:.2f}x | <= {bound:g}x"
        else:
            figure = a["mib_per_s"] / max(b["mib_per_s"], 1e-3)
            holds = figure >= bound
            cells = (f"{a['mib_per_s']:.0f} MiB/s | {b['mib_per_s']:.0f} MiB/s | {figure:.2f}x"
                     f" | >= {bound:g}x")  # fmt: skip
        out.append(f"| {what} | {cells} | {'yes' if holds else '**no**'} |")
    out.append("\n(Warm phases are compared with rclone full, both serving from their caches.)")
    return "\n".join(out) + "\n"


def far_goals(rows: list[dict], latency: float) -> str:
    """Issue 15's "Done when" for (g) and (h) at one latency; "" when neither ran."""
    sub = [r for r in rows if r["latency_ms"] == latency and r["scenario"] in "gh"]
    if not sub or latency == 0:
        return ""
    out = [
        f'\n### Goals at {latency:g} ms (issue 15, "Done when")\n',
        "| goal | s3dav | reference | figure | bound | holds |",
        "|---|---|---|---|---|---|",
    ]

    def line(what, figure, ref, value, bound, holds):
        out.append(
            f"| {what} | {figure} | {ref} | {value} | {bound} | {'yes' if holds else '**no**'} |"
        )

    for ours in [r for r in sub if r["target"] == "s3dav-wt" and r["scenario"] == "g"]:
        if ours.get("error"):
            line(f"(g) {ours['phase']}", "failed", "", "", "", False)
            continue
        theirs = find(sub, "rclone-full", "g", ours["phase"])
        if theirs is not None and not theirs.get("error"):
            ratio = ours["wall_s"] / max(theirs["wall_s"], 1e-3)
            ref = f"{'> ' if theirs.get('cut_off') else ''}{theirs['wall_s']:.1f} s (rclone full)"
            value = f"{'< ' if theirs.get('cut_off') else ''}{ratio:.3f}x"
            line(f"(g) {ours['phase']} vs rclone", f"{ours['wall_s']:.2f} s", ref, value,
                 "<= 0.1x", ratio <= 0.1)  # fmt: skip
        if "list_s" in ours:
            ratio = ours["list_s"] / ours["list_floor_s"]
            line(f"(g) {ours['phase']}, LIST part vs sequential floor",
                 f"{ours['list_s']:.2f} s", f"{ours['list_floor_s']:.1f} s (pages x latency)",
                 f"{ratio:.2f}x", "<= 0.3x", ratio <= 0.3)  # fmt: skip
        if "peak_rss_mib" in ours:
            out.append(f"| (g) {ours['phase']}, gateway peak RSS | {ours['peak_rss_mib']:.0f} MiB"
                       " | | | stated | |")  # fmt: skip
    slack = 2 * latency / 1000 + H_POLL  # the recheck's round trip, one poll interval
    for ours in [r for r in sub if r["target"] == "s3dav-wt" and r["scenario"] == "h"]:
        event = "no event" not in ours["phase"]
        bound = 1.0 if event else NEGATIVE_TTL + slack
        seen = ours.get("visible_s", H_WAIT)
        theirs = find(sub, "rclone-full", "h", ours["phase"].replace(", event", ", no event"))
        ref = ""
        if theirs is not None and "visible_s" in theirs:
            ref = (
                f"{'> ' if theirs.get('cut_off') else ''}{theirs['visible_s']:.1f} s (rclone full)"
            )
        line(f"(h) {ours['phase']}", f"visible after {seen:.2f} s", ref, f"{seen:.2f} s",
             f"<= {bound:.2f} s", not ours.get("cut_off") and seen <= bound)  # fmt: skip
    return "\n".join(out) + "\n"


def table(rows: list[dict]) -> str:
    targets = list(dict.fromkeys(r["target"] for r in rows))
    latencies = list(dict.fromkeys(r["latency_ms"] for r in rows))
    out = []
    for lat in latencies:
        sub = [r for r in rows if r["latency_ms"] == lat]
        phases = list(dict.fromkeys((r["scenario"], r["phase"]) for r in sub))
        ts = [t for t in targets if any(r["target"] == t for r in sub)]
        out.append(f"\n### {lat:g} ms added latency per S3 request\n")
        out.append("| scenario | " + " | ".join(ts) + " |")
        out.append("|---|" + "---|" * len(ts))
        for sc, ph in phases:
            cells = []
            for t in ts:
                r = find(sub, t, sc, ph)
                if r is None:
                    cells.append("")
                    continue
                if r.get("error"):
                    cells.append("failed")
                    continue
                cell = f"{r['wall_s']:.2f} s"
                if r.get("cut_off"):
                    cell = f"> {r['wall_s']:.0f} s (stopped)"
                if "visible_s" in r and not r.get("cut_off"):
                    cell = f"visible after {r['visible_s']:.2f} s"
                if "list_s" in r:
                    cell += f" (LIST part {r['list_s']:.2f} s, {r['list_peak']:.0f} at once)"
                if "peak_rss_mib" in r:
                    cell += f", RSS {r['peak_rss_mib']:.0f} MiB"
                if r.get("background_s"):
                    cell += f" (+{r['background_s']:.1f} s bg)"
                if r.get("mib_per_s"):
                    cell += f", {r['mib_per_s']:.0f} MiB/s"
                cell += f" / {r['s3_requests']} req"
                cells.append(cell)
            out.append(f"| ({sc}) {ph} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lat = max(r["latency_ms"] for r in rows)
    sub = [r for r in rows if r["latency_ms"] == lat and r["target"] != "boto3-direct"]
    phases = list(dict.fromkeys((r["scenario"], r["phase"]) for r in sub))
    targets = list(dict.fromkeys(r["target"] for r in sub))
    colors = {"s3dav-wt": "#1f77b4", "s3dav-wb": "#6baed6", "rclone-off": "#d62728",
              "rclone-full": "#ff9896"}  # fmt: skip
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(14, 9), sharex=True)
    width = 0.8 / len(targets)
    for i, t in enumerate(targets):
        xs, walls, reqs = [], [], []
        for j, (sc, ph) in enumerate(phases):
            r = find(sub, t, sc, ph)
            if r is None:
                continue
            xs.append(j + i * width)
            walls.append(max(r["wall_s"], 1e-3))
            reqs.append(max(r["s3_requests"], 0.5))
        ax1.bar(xs, walls, width, label=t, color=colors.get(t))
        ax2.bar(xs, reqs, width, label=t, color=colors.get(t))
    ax1.set_yscale("log")
    ax1.set_ylabel("wall time, s (log)")
    ax2.set_yscale("log")
    ax2.set_ylabel("S3 requests (log)")
    ax2.set_xticks([j + 0.4 - width / 2 for j in range(len(phases))])
    ax2.set_xticklabels([f"({s}) {p}" for s, p in phases], rotation=35, ha="right")
    ax1.legend()
    ax1.set_title(f"s3dav vs rclone serve webdav, {lat:g} ms added S3 latency (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description="s3dav vs rclone serve webdav")
    ap.add_argument(
        "--latency", default="100,50,0", help="added ms per S3 request, comma-separated"
    )
    ap.add_argument("--targets", default=",".join(ALL_TARGETS))
    ap.add_argument("--scenarios", default="abcdef")
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--long", action="store_true", help=f"(g) with {G_OBJECTS_LONG:,} objects")
    ap.add_argument("--g-objects", type=int, default=G_OBJECTS, help="objects in (g)'s folder")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="s3dav-bench-"))
    log = open(work / "servers.log", "wb")  # noqa: SIM115
    moto, moto_url = start_moto(log)
    procs = [moto]
    rows: list[dict] = []
    try:
        wait_http(moto_url + "/moto-api/", moto)
        proxy = Proxy(moto_url, 0, log)
        procs.append(proxy.proc)
        direct = boto3.client(
            "s3", endpoint_url=moto_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        big = work / "big.bin"
        with open(big, "wb") as f:
            for _ in range(a.big_mib):
                f.write(os.urandom(MIB))
        md5 = hashlib.md5()
        with open(big, "rb") as f:
            while chunk := f.read(8 * MIB):
                md5.update(chunk)
        print(f"work dir {work}; big file md5 {md5.hexdigest()}")
        for lat in [float(x) for x in a.latency.split(",")]:
            proxy.latency(lat)
            print(f"\n== {lat:g} ms added latency ==", flush=True)
            g_times: dict[int, float] = {}  # s3dav's (g) time, rclone's limit derives from it
            for name in a.targets.split(","):
                bucket = f"bench-{uuid.uuid4().hex[:10]}"
                direct.create_bucket(Bucket=bucket)
                tdir = work / f"{name}-{lat:g}"
                tdir.mkdir()
                runner = Runner(
                    None, proxy, direct, bucket, big, gh=name in GH_TARGETS, g_times=g_times,
                    g_objects=G_OBJECTS_LONG if a.long else a.g_objects, latency_ms=lat,
                    workdir=tdir, log=log,
                )  # fmt: skip
                runner.setup(a.scenarios)
                target = runner.t = make_target(name, proxy.url, bucket, tdir, log)
                # A quiet disk for every target: none pays for an earlier one's writes
                # (its cache files, their deletion), which slow a journal's fsyncs.
                os.sync()
                try:
                    for r in runner.run(a.scenarios):
                        rows.append({**r, "latency_ms": lat})
                finally:
                    target.stop()
                    shutil.rmtree(tdir, ignore_errors=True)
                requests.post(moto_url + "/moto-api/reset", timeout=30)  # free moto's memory
            if "c" in a.scenarios:
                bucket = f"bench-{uuid.uuid4().hex[:10]}"
                direct.create_bucket(Bucket=bucket)
                for r in boto3_baseline(proxy, bucket, big):
                    rows.append({**r, "latency_ms": lat})
                requests.post(moto_url + "/moto-api/reset", timeout=30)
    finally:
        for p in reversed(procs):
            stop(p)
        log.close()
    text = table(rows)
    if any(r["latency_ms"] == 50 for r in rows):
        text += goals(rows)
    for lat in dict.fromkeys(r["latency_ms"] for r in rows):
        text += far_goals(rows, lat)
    print(text)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rclone": subprocess.run(
            ["rclone", "version"], capture_output=True, text=True
        ).stdout.splitlines()[0],
        "args": vars(a),
    }
    (out / "latest.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (out / "latest.md").write_text(
        f"Run {meta['when']}, {meta['rclone']}, args {a.latency} ms / {a.targets} / "
        f"{a.scenarios} / {a.big_mib} MiB. Cells: wall time / S3 requests at the proxy; "
        f"(c) put: the median of {C_PUTS} PUTs, each target alike; the WebDAV client "
        f"sends a body in {CLIENT_BLOCK // MIB} MiB writes.\n" + text
    )
    try:
        chart(rows, out / "latest.png")
    except ImportError:
        print("matplotlib missing: pip install 's3dav[bench]' for the chart")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
