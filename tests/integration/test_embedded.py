"""`s3dav serve` with no bucket: the newcomer's first command."""

import os
import subprocess
import sys

import requests

from tests.support.helpers import free_port, stop_process, wait_http


def test_serve_without_bucket_uses_embedded_s3(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3dav",
                "serve",
                "--port",
                str(port),
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/healthz", proc=proc)
            assert requests.put(url + "/hello.txt", data=b"hi", timeout=30).status_code == 201
            assert requests.get(url + "/hello.txt", timeout=30).content == b"hi"
            page = requests.get(url + "/", timeout=30)
            assert page.status_code == 200 and "hello.txt" in page.text
        finally:
            assert stop_process(proc) == 0
    text = log.read_text()
    assert "IN-MEMORY" in text and "LOST when s3dav exits" in text
