"""Starting real servers for tests: moto's S3 server and s3dav gateways, as processes.

Every server listens on 127.0.0.1 on a free port and is stopped by its PID.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `check` until it returns a true value and return that value.

    After `timeout` seconds, check's answer then (false: the caller asserts on it and
    says what it waited for). The one polling loop of the tests: no sleep is an assert.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return check()


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers at all (any status); fail at once if `proc` exits."""

    def answers() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
        except requests.ConnectionError:
            return False
        return True

    if not wait_until(answers, timeout):
        raise TimeoutError(f"{url} did not answer within {timeout}s")


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of a Prometheus text page as (name, labels, value).

    The one /metrics reader of the tests, parsed by prometheus_client's own parser.
    """
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def metric(text: str, name: str, /, absent: float | None = 0.0, **labels: str) -> float | None:
    """The value of the sample `name` with exactly these labels; `absent` when there is none."""
    for got, got_labels, value in samples(text):
        if got == name and got_labels == labels:
            return value
    return absent


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class MotoServer:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f"moto-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **TEST_ENV},
        )
        wait_http(self.url + "/moto-api/", proc=self.proc)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class Gateway:
    """One `s3dav serve` process with its own config file and cache directory."""

    def __init__(
        self, workdir: Path, config: dict, *, env: dict | None = None, args: list[str] | None = None
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = config.setdefault("server", {}).setdefault("port", free_port())
        config["server"].setdefault("host", "127.0.0.1")
        config.setdefault("cache", {}).setdefault("dir", str(workdir / "cache"))
        self.config = config
        self.config_path = workdir / "s3dav.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        scheme = "https" if config["server"].get("tls") else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log_path = workdir / "gateway.log"
        self.env = {**os.environ, **TEST_ENV, **(env or {})}
        self.args = args or []
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "s3dav", "serve", "--config", str(self.config_path), *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        wait_http(self.url + "/healthz", proc=self.proc)

    def stop(self) -> int:
        code = stop_process(self.proc)
        self._log.close()
        return code

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 60)
        return requests.request(method, self.url + path, **kw)

    def metrics(self) -> str:
        """The gateway's /metrics page (Prometheus text)."""
        return requests.get(self.url + "/metrics", timeout=10).text

    def metric(self, name: str, /, absent: float | None = None, **labels: str) -> float | None:
        """One sample of /metrics now (`absent`, None by default, when it is not there)."""
        return metric(self.metrics(), name, absent, **labels)

    def s3_counts(self) -> dict[str, int]:
        """S3 requests so far by kind, read from /metrics."""
        counts: dict[str, int] = {}
        for name, labels, value in samples(self.metrics()):
            if name == "s3dav_s3_requests_total":
                counts[labels["kind"]] = counts.get(labels["kind"], 0) + int(value)
        return counts

    def settle(self, timeout: float = 60) -> None:
        """Wait until post-answer upload work (MD5 self-copy, cache ingest) is done."""
        if not wait_until(lambda: self.metric("s3dav_upload_work_pending") == 0, timeout, 0.05):
            raise TimeoutError("post-upload work did not finish")

    def s3_delta(self, before: dict[str, int]) -> dict[str, int]:
        after = self.s3_counts()
        return {
            k: after.get(k, 0) - before.get(k, 0)
            for k in after
            if after.get(k, 0) != before.get(k, 0)
        }


PROPFIND_ALL = b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'


def propfind(gw: Gateway, path: str, depth: str = "1", body: bytes = PROPFIND_ALL, **kw):
    return gw.request(
        "PROPFIND", path, headers={"Depth": depth, **kw.pop("headers", {})}, data=body, **kw
    )


def hrefs(xml_text: str) -> list[str]:
    from urllib.parse import unquote

    return [unquote(h) for h in re.findall(r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>", xml_text)]


def multistatus(xml_text: str) -> dict[str, dict[str, str]]:
    """href (decoded) -> {property's local name: its text} of the 200 propstats of a 207.

    A collection's `resourcetype` reads "collection", a file's "".
    """
    from urllib.parse import unquote
    from xml.etree import ElementTree

    out: dict[str, dict[str, str]] = {}
    for response in ElementTree.fromstring(xml_text).iter("{DAV:}response"):
        props: dict[str, str] = {}
        for propstat in response.iter("{DAV:}propstat"):
            if " 200 " not in (propstat.findtext("{DAV:}status") or ""):
                continue
            for prop in propstat.iter("{DAV:}prop"):
                for el in prop:
                    local = el.tag.rsplit("}", 1)[-1]
                    if local == "resourcetype":
                        props[local] = "collection" if len(el) else ""
                    else:
                        props[local] = el.text or ""
        out[unquote(response.findtext("{DAV:}href") or "")] = props
    return out


def s3_bytes(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


OLD = b"the old object, which must survive\n" * 1000


def open_uploads(s3, bucket: str) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) or []


def pending(gw: Gateway) -> float | None:
    """Write-back uploads not yet in S3 (s3dav_uploads_pending)."""
    return gw.metric("s3dav_uploads_pending")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


class PeakRss:
    """The highest RSS of process `pid` while the `with` block runs, sampled every 50 ms."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        import psutil

        self._proc = psutil.Process(pid)
        self._error = psutil.Error
        self.peak = self._proc.memory_info().rss
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except self._error:
                return
            self._done.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
