"""The Dockerfile, run without Docker (no engine on this machine).

What this proves: the Dockerfile's image settings are what operators rely on (slim base,
non-root USER, EXPOSE 8080, HEALTHCHECK on /healthz, a VOLUME for the cache dir, host
0.0.0.0 by ENV), and its COPY + `pip install` steps build an installable s3dav whose
ENTRYPOINT/CMD, with the image's ENV and config file, serve WebDAV; its HEALTHCHECK command
passes against that server. The install runs in a fresh virtualenv with `--no-deps
--no-index` over the system's site-packages, so it needs no network: the project's own
packaging (pyproject, package list, console script) is proven, and `pip check` proves the
declared dependencies are satisfiable by the installed versions; it does NOT prove that the
python:3.12-slim base can download them, nor the non-pip RUN lines (useradd, chown), which
need root inside an image and are only checked to create the USER.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from s3dav.config import SCHEMA
from tests.support.helpers import TEST_ENV, free_port, hrefs, propfind, stop_process, wait_http

REPO = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile -> [(INSTRUCTION, arguments)], continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        word, _, rest = whole.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def env_pairs(args: str) -> dict[str, str]:
    parts = shlex.split(args)
    if "=" not in parts[0]:  # legacy `ENV KEY value`
        return {parts[0]: " ".join(parts[1:])}
    return dict(p.split("=", 1) for p in parts)


class Image:
    """The Dockerfile's effect, with container paths placed under `root`."""

    def __init__(self, dockerfile: Path, root: Path) -> None:
        self.steps = instructions(dockerfile.read_text())
        self.root = root
        self.env: dict[str, str] = {}
        self.workdir = "/"
        self.user = "root"

    def first(self, name: str) -> str:
        return next(args for word, args in self.steps if word == name)

    def all(self, name: str) -> list[str]:
        return [args for word, args in self.steps if word == name]

    def host_path(self, path: str) -> str:
        return str(self.root / path.lstrip("/")) if path.startswith("/") else path

    def build(self, venv: Path) -> list[list[str]]:
        """Replay COPY, ENV, WORKDIR, USER; run each `pip install` RUN with the venv's pip."""
        ran = []
        for word, args in self.steps:
            if word == "ENV":
                self.env.update(env_pairs(args))
            elif word == "WORKDIR":
                self.workdir = args
                Path(self.host_path(args)).mkdir(parents=True, exist_ok=True)
            elif word == "USER":
                self.user = args
            elif word == "COPY":
                *sources, dest = [a for a in shlex.split(args) if not a.startswith("--")]
                target = Path(self.host_path(dest))
                for src in sources:
                    src_path = REPO / src
                    if src_path.is_dir():
                        shutil.copytree(
                            src_path,
                            target,
                            dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"),
                        )
                    else:
                        into_dir = dest.endswith("/") or len(sources) > 1
                        final = target / src_path.name if into_dir else target
                        final.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src_path, final)
            elif word == "RUN" and "pip install" in args:
                argv = shlex.split(args)
                assert argv[:2] == ["pip", "install"], args
                targets = [self.host_path(a) for a in argv[2:]]
                cmd = [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--no-deps",
                    "--no-index",
                    "--no-build-isolation",
                    "-q",
                    *targets,
                ]
                subprocess.run(cmd, check=True, timeout=300, cwd=self.host_path(self.workdir))
                ran.append(cmd)
        return ran

    def exec_form(self, args: str) -> list[str]:
        argv = json.loads(args)
        assert isinstance(argv, list), f"use the exec form (JSON list): {args}"
        return argv


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    root = tmp_path_factory.mktemp("image-root")
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    img = Image(REPO / "Dockerfile", root)
    ran = img.build(venv)
    assert ran, "the Dockerfile has no pip install step"
    img.venv = venv
    return img


def test_image_settings(image):
    assert image.first("FROM").startswith("python:") and image.first("FROM").endswith("-slim")
    assert image.user not in ("root", "0", "")
    assert any("useradd" in r and image.user in r for r in image.all("RUN"))
    assert image.first("EXPOSE") == "8080" == str(SCHEMA["server"]["port"][1])
    assert "S3DAV_SERVER__PORT" not in image.env  # a mounted file's server.port still counts
    assert image.env["S3DAV_SERVER__HOST"] == "0.0.0.0"
    assert json.loads(image.first("VOLUME")) == [image.env["S3DAV_CACHE__DIR"]]
    assert "/healthz" in image.first("HEALTHCHECK")
    cmd = image.exec_form(image.first("CMD"))
    assert cmd[cmd.index("--config") + 1] == "/etc/s3dav/s3dav.yaml"
    assert (image.root / "etc/s3dav/s3dav.yaml").is_file()


def test_installed_package_is_the_venvs_own_and_dependencies_hold(image):
    py = str(image.venv / "bin" / "python")
    where = subprocess.run(
        [py, "-c", "import s3dav; print(s3dav.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=image.root,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert where.stdout.startswith(str(image.venv)), where.stdout
    check = subprocess.run([py, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert "s3dav" not in check.stdout, check.stdout  # s3dav's requirements are all satisfied


def test_the_containers_command_serves_webdav(image, moto, s3, bucket, tmp_path):
    port = free_port()
    env = {
        "PATH": f"{image.venv / 'bin'}:/usr/bin:/bin",
        "HOME": image.host_path(image.env["S3DAV_CACHE__DIR"]),
        **{k: image.host_path(v) for k, v in image.env.items()},
        # What an operator passes with `docker run -e`:
        **TEST_ENV,
        "S3DAV_S3__ENDPOINT_URL": moto.url,
        "S3DAV_SHARES": f"[{{path: /, bucket: {bucket}}}]",
        "S3DAV_SERVER__PORT": str(port),
        "S3DAV_SERVER__HOST": "127.0.0.1",  # tests listen on loopback only
    }
    Path(env["S3DAV_CACHE__DIR"]).mkdir(parents=True, exist_ok=True)
    argv = image.exec_form(image.first("ENTRYPOINT")) + image.exec_form(image.first("CMD"))
    argv = [str(image.venv / "bin" / argv[0]), *(image.host_path(a) for a in argv[1:])]
    log = open(tmp_path / "container.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        argv, env=env, cwd=image.host_path(image.workdir), stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
        assert (
            requests.put(url + "/hello.txt", data=b"from the container", timeout=30).status_code
            == 201
        )
        assert requests.request("MKCOL", url + "/dir", timeout=30).status_code == 201

        class _Gw:
            def request(self, method, path, **kw):
                return requests.request(method, url + path, timeout=30, **kw)

        listing = propfind(_Gw(), "/")
        assert listing.status_code == 207
        assert {"/hello.txt", "/dir/"} <= set(hrefs(listing.text))
        assert requests.get(url + "/hello.txt", timeout=30).content == b"from the container"
        assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"from the container"
        assert list(Path(env["S3DAV_CACHE__DIR"]).iterdir()), "nothing cached on the volume"
        health = shlex.split(image.first("HEALTHCHECK"))
        hc = image.exec_form(image.first("HEALTHCHECK")[image.first("HEALTHCHECK").index("[") :])
        assert health[-len(hc) - 1] == "CMD"
        hc[0] = str(image.venv / "bin" / hc[0])
        assert subprocess.run(hc, env=env, timeout=30).returncode == 0
    finally:
        code = stop_process(proc)
        log.close()
    assert code == 0, (tmp_path / "container.log").read_text()
    # The healthcheck fails when the server is gone.
    assert subprocess.run(hc, env=env, timeout=30, capture_output=True).returncode != 0


def test_compose_example_is_a_valid_configuration():
    """docker-compose.yml's s3dav service: its environment is a config s3dav accepts."""
    import yaml

    from s3dav.config import load

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    s3dav = compose["services"]["s3dav"]
    assert s3dav["build"] == "."
    assert "minio" in compose["services"]
    env = {k: str(v) for k, v in s3dav["environment"].items()}
    cfg = load(None, {}, environ=env)
    assert cfg.s3["endpoint_url"] == "http://minio:9000"
    assert [(s.path, s.bucket) for s in cfg.shares] == [("/", "files")]
    init = " ".join(compose["services"]["minio-init"]["command"])
    assert "mb --ignore-existing local/files" in init
    assert (
        env["AWS_SECRET_ACCESS_KEY"]
        == compose["services"]["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    )
