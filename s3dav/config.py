"""The configuration: one YAML file, environment variables, command-line flags.

Precedence: defaults < file < S3DAV_<SECTION>__<KEY> environment < flags.
Every problem is reported as one `ConfigError` line naming the key. The
sections' keys, parsers, defaults and flags are the table in options.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from s3dav.options import (
    SCHEMA,
    ConfigError,
    choice,
    flag_dest,
    flagged,
    parse_bool,
    parse_duration,
    parse_size,
    parse_str,
)
from s3dav.passwords import password_hash_problem
from s3dav.store.keys import BadPath, normalize_prefix
from s3dav.store.objectargs import SSE_MODES, STORAGE_CLASSES, ObjectArgs, decode_sse_c_key


class ListenError(ConfigError):
    """The server cannot listen where it is told to (port in use, no such address)."""


TLS_KEYS = {"cert", "key"}
# The gateway's own web UI lives under this path (s3dav/dav/webui.py): no share there.
UI_PREFIX = "/_s3dav"
SHARE_KEYS = {
    "path",
    "bucket",
    "prefix",
    "read_only",
    "users",
    "quota",
    "inline_active_content",
    "downloads",
    "redirect_threshold",
    "redirect_expiry",
    "storage_class",
    "sse",
    "sse_kms_key_id",
    "sse_c_key_env",
}
MIN_LINK_KEY = 16  # characters of share_links.key: an HMAC key, not a password
MIN_EVENTS_TOKEN = 16  # characters of events.token: a shared secret, not a password
MAX_PRESIGN_SECONDS = 7 * 86400  # SigV4 presigned URLs live at most a week


@dataclass
class Share:
    path: str  # "/" or "/photos"
    bucket: str
    prefix: str = ""
    read_only: bool = False
    users: list[str] = field(default_factory=lambda: ["anonymous"])
    quota: int | None = None
    # Show HTML/SVG/XML/JS/PDF files in the browser instead of as downloads (safety.py);
    # they stay sandboxed (no script, opaque origin) either way.
    inline_active_content: bool = False
    # Direct downloads (issue 17, dav/directget.py): `redirect` answers GET of a file of at
    # least `redirect_threshold` bytes with 302 to a presigned S3 URL valid `redirect_expiry`.
    downloads: str = "proxy"
    redirect_threshold: int = 8 * 1024**2
    redirect_expiry: float = 300.0
    # Storage class and server-side encryption of what the share writes (issue 16,
    # store/objectargs.py); the SSE-C key itself is read from the environment.
    objects: ObjectArgs = field(default_factory=ObjectArgs)


@dataclass
class Config:
    server: dict
    s3: dict
    cache: dict
    locks: dict
    macos: dict
    logging: dict
    metrics: dict
    tls: dict | None
    shares: list[Share]
    users: dict[str, dict]
    share_links: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """No bucket configured: serve the embedded in-memory S3."""
        return not self.shares


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: Any, key: str, environ: dict) -> Any:
    """Replace ${VAR} references (secrets are kept out of the file this way)."""
    if isinstance(value, str):

        def sub(m: re.Match) -> str:
            if m.group(1) not in environ:
                raise ConfigError(f"{key}: environment variable {m.group(1)} is not set")
            return environ[m.group(1)]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{key}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{key}[{i}]", environ) for i, v in enumerate(value)]
    return value


def read_file(path: str | os.PathLike) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    return data


# Kubernetes injects these into every pod of a namespace holding a Service named
# `s3dav` (service links); they are not settings and must not stop the gateway.
_K8S_SERVICE_LINK = re.compile(
    r"S3DAV_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)


def key_env_names(shares: Any) -> set[str]:
    """The variables shares name as `sse_c_key_env`: secrets, not settings, even when
    they are called S3DAV_SOMETHING."""
    if not isinstance(shares, list):
        return set()
    return {
        str(s["sse_c_key_env"]) for s in shares if isinstance(s, dict) and s.get("sse_c_key_env")
    }


def env_overrides(environ: dict, secrets: set[str] = frozenset()) -> dict:
    """S3DAV_<SECTION>__<KEY>=value; S3DAV_SHARES / S3DAV_USERS take YAML.

    `secrets` (shares' sse_c_key_env) are left alone."""
    raw: dict = {}
    for name, value in environ.items():
        if not name.startswith("S3DAV_") or _K8S_SERVICE_LINK.fullmatch(name):
            continue
        if name in secrets:
            continue
        rest = name[len("S3DAV_") :].lower()
        if rest in ("shares", "users"):
            try:
                raw[rest] = yaml.safe_load(value)
            except yaml.YAMLError:
                raise ConfigError(f"{name}: not valid YAML") from None
            continue
        if "__" not in rest:
            raise ConfigError(f"{name}: expected S3DAV_<SECTION>__<KEY>")
        parts = rest.split("__")
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: conflicts with another variable")
        node[parts[-1]] = value
    return raw


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def _section(raw: dict, name: str) -> dict:
    given = raw.get(name) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{name}: expected a mapping")
    schema = SCHEMA[name]
    out = {}
    for key in given:
        if key == "tls" and name == "server":
            continue
        if key not in schema:
            raise ConfigError(f"unknown key {name}.{key}")
    for key, option in schema.items():
        value = given.get(key, option.default)
        out[key] = None if value is None else option.parse(value, f"{name}.{key}")
    return out


def _tls(raw: dict) -> dict | None:
    tls = (raw.get("server") or {}).get("tls")
    if not tls:
        return None
    if not isinstance(tls, dict):
        raise ConfigError("server.tls: expected a mapping with cert and key")
    for key in tls:
        if key not in TLS_KEYS:
            raise ConfigError(f"unknown key server.tls.{key}")
    for key in TLS_KEYS:
        if not tls.get(key):
            raise ConfigError(f"server.tls.{key}: missing")
        if not Path(str(tls[key])).is_file():
            raise ConfigError(f"server.tls.{key}: no such file {tls[key]}")
    return {k: str(v) for k, v in tls.items()}


def _download_settings(item: dict, where: str) -> dict:
    """A share's direct-download keys (downloads, redirect_threshold, redirect_expiry)."""
    expiry = parse_duration(item.get("redirect_expiry", "5m"), f"{where}.redirect_expiry")
    if not 1 <= expiry <= MAX_PRESIGN_SECONDS:
        raise ConfigError(f"{where}.redirect_expiry: must be from 1s to 7d (S3's own limit)")
    return {
        "downloads": choice("proxy", "redirect")(
            item.get("downloads", "proxy"), f"{where}.downloads"
        ),
        "redirect_threshold": parse_size(
            item.get("redirect_threshold", "8MiB"), f"{where}.redirect_threshold"
        ),
        "redirect_expiry": expiry,
    }


def _object_args(item: dict, where: str, environ: dict) -> ObjectArgs:
    """A share's storage_class, sse, sse_kms_key_id and sse_c_key_env, checked now:
    a wrong class or a bad key is a start-up error, not a failed PUT later."""
    storage_class = item.get("storage_class")
    if storage_class is not None:
        storage_class = choice(*STORAGE_CLASSES)(storage_class, f"{where}.storage_class")
    sse = choice(*SSE_MODES)(item.get("sse", "none"), f"{where}.sse")
    kms_key_id = item.get("sse_kms_key_id")
    if kms_key_id is not None:
        if sse != "aws:kms":
            raise ConfigError(f"{where}.sse_kms_key_id: needs sse: aws:kms")
        kms_key_id = parse_str(kms_key_id, f"{where}.sse_kms_key_id")
    key_env, sse_c_key = item.get("sse_c_key_env"), None
    if key_env is not None:
        key_env = parse_str(key_env, f"{where}.sse_c_key_env")
        if sse != "none":
            raise ConfigError(f"{where}.sse_c_key_env: SSE-C excludes sse: {sse}")
        if item.get("downloads") == "redirect":
            # a browser following a presigned URL cannot send the SSE-C key headers
            raise ConfigError(f"{where}.downloads: redirect cannot be used with SSE-C")
        if not environ.get(key_env):
            raise ConfigError(f"{where}.sse_c_key_env: environment variable {key_env} is not set")
        try:
            sse_c_key = decode_sse_c_key(environ[key_env])
        except ValueError as exc:  # never the value: it is a secret
            raise ConfigError(f"{where}.sse_c_key_env: {key_env} {exc}") from None
    return ObjectArgs(
        storage_class=storage_class,
        sse=None if sse == "none" else sse,
        kms_key_id=kms_key_id,
        sse_c_key=sse_c_key,
    )


def _same_objects(shares: list[Share]) -> None:
    """Shares over one bucket and prefix see the same objects: one way to write them."""
    seen: dict[tuple[str, str], Share] = {}
    for share in shares:
        first = seen.setdefault((share.bucket, share.prefix), share)
        if first.objects != share.objects:
            raise ConfigError(
                f"shares {first.path} and {share.path}: one bucket and prefix, "
                "different storage_class or encryption"
            )


def _shares(raw: dict, auth: str, users: dict, environ: dict) -> list[Share]:
    given = raw.get("shares") or []
    if not isinstance(given, list):
        raise ConfigError("shares: expected a list")
    default_users = ["anonymous"] if auth == "anonymous" else sorted(users)
    shares: list[Share] = []
    for i, item in enumerate(given):
        where = f"shares[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping")
        for key in item:
            if key not in SHARE_KEYS:
                raise ConfigError(f"unknown key {where}.{key}")
        if not item.get("bucket"):
            raise ConfigError(f"{where}.bucket: missing")
        path = "/" + parse_str(item.get("path", "/"), f"{where}.path").strip("/")
        if (path.lower() + "/").startswith(UI_PREFIX + "/"):
            raise ConfigError(f"{where}.path: {UI_PREFIX} is reserved for the gateway's web UI")
        try:
            prefix = normalize_prefix(parse_str(item.get("prefix", ""), f"{where}.prefix"))
        except BadPath as exc:
            raise ConfigError(f"{where}.prefix: {exc}") from None
        share_users = item.get("users", default_users)
        if not isinstance(share_users, list) or not all(isinstance(u, str) for u in share_users):
            raise ConfigError(f"{where}.users: expected a list of user names")
        for u in share_users:
            if u != "anonymous" and u not in users:
                raise ConfigError(f"{where}.users: no user {u!r} in users")
        quota = item.get("quota")
        shares.append(
            Share(
                path=path,
                bucket=parse_str(item["bucket"], f"{where}.bucket"),
                prefix=prefix,
                read_only=parse_bool(item.get("read_only", False), f"{where}.read_only"),
                users=list(share_users),
                quota=None if quota is None else parse_size(quota, f"{where}.quota"),
                inline_active_content=parse_bool(
                    item.get("inline_active_content", False), f"{where}.inline_active_content"
                ),
                **_download_settings(item, where),
                objects=_object_args(item, where, environ),
            )
        )
    paths = [s.path for s in shares]
    if len(set(paths)) != len(paths):
        raise ConfigError("shares: two shares have the same path")
    _same_objects(shares)
    return shares


def _users(raw: dict) -> dict[str, dict]:
    given = raw.get("users") or {}
    if not isinstance(given, dict):
        raise ConfigError("users: expected a mapping of name to {password_hash: ...}")
    out = {}
    for name, spec in given.items():
        if name == "anonymous":
            raise ConfigError("users.anonymous: that name is reserved")
        if not isinstance(spec, dict) or not spec.get("password_hash"):
            raise ConfigError(f"users.{name}.password_hash: missing")
        for key in spec:
            if key != "password_hash":
                raise ConfigError(f"unknown key users.{name}.{key}")
        stored = str(spec["password_hash"])
        problem = password_hash_problem(stored)
        if problem:
            # Never the value: it may be the plain password written where its hash belongs.
            raise ConfigError(f"users.{name}.password_hash: {problem}")
        out[str(name)] = {"password_hash": stored}
    return out


KNOWN_TOP = set(SCHEMA) | {"shares", "users"}


def build(raw: dict, environ: dict | None = None) -> Config:
    """Validate a merged raw mapping into a Config."""
    environ = dict(os.environ) if environ is None else environ
    for key in raw:
        if key not in KNOWN_TOP:
            raise ConfigError(f"unknown key {key}")
    raw = expand_env(raw, "config", environ)
    sections = {name: _section(raw, name) for name in SCHEMA}
    if not 0 < sections["server"]["port"] < 65536:
        raise ConfigError(f"server.port: {sections['server']['port']} is not a TCP port")
    if sections["server"]["threads"] < 1:
        raise ConfigError("server.threads: must be at least 1")
    for key in ("header_timeout", "body_timeout"):
        if sections["server"][key] <= 0:
            raise ConfigError(f"server.{key}: must be more than 0")
    if sections["server"]["max_header_bytes"] < 4096:
        raise ConfigError("server.max_header_bytes: must be at least 4KiB")
    if sections["server"]["max_body_bytes"] < 1:
        raise ConfigError("server.max_body_bytes: must be at least 1")
    if bool(sections["s3"]["access_key_id"]) != bool(sections["s3"]["secret_access_key"]):
        raise ConfigError("s3.access_key_id, s3.secret_access_key: set both or neither")
    if sections["s3"]["upload_concurrency"] < 1:
        raise ConfigError("s3.upload_concurrency: must be at least 1")
    if not 1 <= sections["locks"]["max_timeout"] <= 4 * 604800:
        raise ConfigError("locks.max_timeout: must be from 1s to 28d (WsgiDAV's own limit)")
    if sections["locks"]["max_owner"] < 1:
        raise ConfigError("locks.max_owner: must be at least 1 byte")
    if sections["s3"]["part_size"] < 5 * 1024**2:
        raise ConfigError("s3.part_size: S3 needs at least 5MiB")
    key = sections["share_links"]["key"]
    if key is not None and len(key) < MIN_LINK_KEY:
        raise ConfigError(f"share_links.key: must be at least {MIN_LINK_KEY} characters")
    if not 1 <= sections["share_links"]["max_expiry"] <= 10 * 365 * 86400:
        raise ConfigError("share_links.max_expiry: must be from 1s to 10 years")
    token = sections["events"]["token"]
    if token is not None and len(token) < MIN_EVENTS_TOKEN:
        raise ConfigError(f"events.token: must be at least {MIN_EVENTS_TOKEN} characters")
    if not 1 <= sections["events"]["max_records"] <= 100_000:
        raise ConfigError("events.max_records: must be from 1 to 100000")
    if not 1024 <= sections["events"]["max_body"] <= 64 * 1024**2:
        raise ConfigError("events.max_body: must be from 1KiB to 64MiB")
    users = _users(raw)
    shares = _shares(raw, sections["server"]["auth"], users, environ)
    if sections["server"]["auth"] == "basic" and not users:
        raise ConfigError("server.auth: basic needs at least one entry in users")
    return Config(tls=_tls(raw), shares=shares, users=users, **sections)


def load(path: str | None, flags: dict, environ: dict | None = None) -> Config:
    """Defaults < file < environment < flags. `flags` holds only flags given."""
    environ = dict(os.environ) if environ is None else environ
    raw: dict = read_file(path) if path else {}
    secrets = key_env_names(raw.get("shares"))
    try:
        secrets |= key_env_names(yaml.safe_load(environ.get("S3DAV_SHARES") or "[]"))
    except yaml.YAMLError:
        pass  # env_overrides says so
    raw = merge(raw, env_overrides(environ, secrets))
    for section, key, option in flagged():
        value = flags.get(flag_dest(option.flag))
        if value is not None:
            raw[section] = {**(raw.get(section) or {}), key: value}
    if flags.get("bucket"):
        share = {"path": "/", "bucket": flags["bucket"], "prefix": flags.get("prefix") or ""}
        if flags.get("read_only"):
            share["read_only"] = True
        raw["shares"] = [share]
    elif flags.get("prefix"):
        raise ConfigError("--prefix needs --bucket")
    elif flags.get("read_only"):
        shares = raw.get("shares") or []
        raw["shares"] = [{**s, "read_only": True} for s in shares if isinstance(s, dict)]
        raw["_read_only_flag"] = True
    read_only_embedded = raw.pop("_read_only_flag", False) or bool(flags.get("read_only"))
    cfg = build(raw, environ)
    cfg.server["read_only_default"] = read_only_embedded
    return cfg
