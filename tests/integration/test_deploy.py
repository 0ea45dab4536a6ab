"""The deployment examples work: nginx with TLS in front of a gateway, the Kubernetes
manifest is a configuration s3dav accepts, and the Grafana dashboard asks for real metrics."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
import urllib3
import yaml

from s3dav.config import load
from s3dav.server.metrics import Metrics
from tests.support.helpers import free_port, hrefs, stop_process

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def nginx(tmp_path, gw):
    """deploy/nginx-s3dav.conf with this test's port, certificate and gateway."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    site = (REPO / "deploy/nginx-s3dav.conf").read_text()
    site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{gw.port};")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"user root;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n access_log {tmp_path}/access.log;\n"
        f" client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"{site}\n}}\n"
    )
    proc = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"https://127.0.0.1:{port}"
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url + "/healthz", verify=False, timeout=2)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                stop_process(proc)
                raise
            time.sleep(0.1)
    yield url
    stop_process(proc)


def test_behind_nginx_with_tls(nginx, gw, s3, bucket):
    def dav(method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, nginx + path, verify=False, timeout=30, **kw)

    assert dav("GET", "/healthz").text == "ok\n"
    assert dav("MKCOL", "/docs").status_code == 201
    # A chunked upload streams through nginx (proxy_request_buffering off).
    body = iter([b"a" * 70_000, b"b" * 70_000])
    assert dav("PUT", "/docs/r%C3%A9sum%C3%A9.txt", data=body).status_code == 201
    assert s3.head_object(Bucket=bucket, Key="docs/résumé.txt")["ContentLength"] == 140_000
    # MOVE with the public https URL as Destination: no header rewriting needed.
    r = dav(
        "MOVE",
        "/docs/r%C3%A9sum%C3%A9.txt",
        headers={"Destination": nginx + "/docs/cv.txt", "Overwrite": "F"},
    )
    assert r.status_code == 201, r.text
    r = dav("COPY", "/docs/cv.txt", headers={"Destination": nginx + "/docs/cv2.txt"})
    assert r.status_code == 201, r.text
    listing = dav("PROPFIND", "/docs/", headers={"Depth": "1"})
    assert set(hrefs(listing.text)) == {"/docs/", "/docs/cv.txt", "/docs/cv2.txt"}
    assert dav("GET", "/docs/cv.txt").content == b"a" * 70_000 + b"b" * 70_000
    assert "s3dav_http_requests_total" in dav("GET", "/metrics").text  # allowed from 127.0.0.1


def test_kubernetes_manifest_is_a_valid_replica_setup():
    docs = list(yaml.safe_load_all((REPO / "deploy/kubernetes.yaml").read_text()))
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    deploy = by[("Deployment", "s3dav")]
    assert deploy["spec"]["replicas"] >= 2
    pod = deploy["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The mounted ConfigMap plus the container's environment is a config s3dav accepts.
    config_map = by[("ConfigMap", "s3dav-config")]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    config_arg = container["args"][container["args"].index("--config") + 1]
    assert config_arg == mount["mountPath"] + "/s3dav.yaml"
    f = Path("/tmp") / f"k8s-s3dav-{id(docs)}.yaml"
    f.write_text(config_map["data"]["s3dav.yaml"])
    try:
        env = {e["name"]: e["value"] for e in container["env"]}
        env.update(by[("Secret", "s3dav-s3")]["stringData"])
        cfg = load(str(f), {}, environ=env)
    finally:
        f.unlink()
    assert cfg.locks["storage"].startswith("redis://s3dav-redis:6379/")
    assert by[("Service", "s3dav-redis")]["spec"]["ports"][0]["port"] == 6379
    redis_pods = by[("Deployment", "s3dav-redis")]["spec"]["template"]["metadata"]["labels"]
    assert by[("Service", "s3dav-redis")]["spec"]["selector"].items() <= redis_pods.items()
    service = by[("Service", "s3dav")]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    assert container["ports"][0]["containerPort"] == cfg.server["port"]


def test_grafana_dashboard_uses_only_real_metrics():
    dashboard = json.loads((REPO / "deploy/grafana-s3dav.json").read_text())
    from prometheus_client import generate_latest

    m = Metrics()
    m.http_duration.labels(method="GET").observe(0.1)
    m.s3_duration.labels(kind="GET").observe(0.1)
    m.on_s3_request("GET", "GetObject")
    m.http_requests.labels(method="GET", status="200").inc()
    m.cache_hits.labels(cache="listing").inc()
    m.cache_misses.labels(cache="listing").inc()
    exposed = set(re.findall(r"^(s3dav_\w+)", generate_latest(m.registry).decode(), re.M))
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\bs3dav_\w+", target["expr"]))
    assert used and used <= exposed, used - exposed
    families = {re.sub(r"_(total|bucket|count|sum)$", "", u) for u in used}
    assert {
        "s3dav_s3_requests",
        "s3dav_http_requests",
        "s3dav_http_request_duration_seconds",
        "s3dav_cache_hits",
        "s3dav_cache_misses",
        "s3dav_cache_bytes",
        "s3dav_bytes_up",
        "s3dav_bytes_down",
        "s3dav_uploads_pending",
    } <= families
