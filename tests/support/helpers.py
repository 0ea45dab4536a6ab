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
import time
import unicodedata
from pathlib import Path

import requests
import yaml

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


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

    def s3_counts(self) -> dict[str, int]:
        """S3 requests so far by kind, read from /metrics."""
        text = requests.get(self.url + "/metrics", timeout=10).text
        counts: dict[str, int] = {}
        for m in re.finditer(
            r'^s3dav_s3_requests_total\{kind="(\w+)",operation="(\w+)"\} (\S+)$', text, re.M
        ):
            counts[m.group(1)] = counts.get(m.group(1), 0) + int(float(m.group(3)))
        return counts

    def settle(self, timeout: float = 60) -> None:
        """Wait until post-answer upload work (MD5 self-copy, cache ingest) is done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = requests.get(self.url + "/metrics", timeout=10).text
            m = re.search(r"^s3dav_upload_work_pending (\S+)$", text, re.M)
            if m is not None and float(m.group(1)) == 0:
                return
            time.sleep(0.05)
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


def s3_bytes(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


OLD = b"the old object, which must survive\n" * 1000


def open_uploads(s3, bucket: str) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) or []


def wait_until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def pending(gw) -> float:
    text = requests.get(gw.url + "/metrics", timeout=10).text
    line = next(ln for ln in text.splitlines() if ln.startswith("s3dav_uploads_pending "))
    return float(line.split()[1])


def wait_for(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)
