"""The option table: every setting of every section, declared once.

Each `Option` holds how its value is read (a parser that raises a one-line
ConfigError naming the key), its default, what it does, and the command-line
flag that sets it, if any. config.py reads sections with it; cli.py makes its
flags from it; config/s3dav.yaml documents the same keys and defaults (a test
holds the two together).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from s3dav.networks import parse_networks
from s3dav.redis_url import parse_redis_url


class ConfigError(ValueError):
    """A configuration problem, phrased for one line on stderr."""


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_DURATION_UNITS = {"": 1, "ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_size(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a size like 10GiB, got {value!r}")
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ConfigError(f"{key}: expected a size like 10GiB, got {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_duration(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a duration like 30s, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _DURATION_UNITS:
        raise ConfigError(f"{key}: expected a duration like 30s, got {value!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]


def parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def parse_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}") from None


def parse_count(value: Any, key: str) -> int:
    number = parse_int(value, key)
    if number < 0:
        raise ConfigError(f"{key}: expected 0 or more, got {value!r}")
    return number


def parse_str(value: Any, key: str) -> str:
    if isinstance(value, dict | list):
        raise ConfigError(f"{key}: expected text, got a {type(value).__name__}")
    return str(value)


def parse_opt_str(value: Any, key: str) -> str | None:
    return None if value is None or value == "" else parse_str(value, key)


def choice(*options: str):
    """A parser accepting one of `options` (kept on it as `.choices`, for the CLI)."""

    def parse(value: Any, key: str) -> str:
        text = parse_str(value, key)
        if text not in options:
            raise ConfigError(f"{key}: must be one of {', '.join(options)}, got {text!r}")
        return text

    parse.choices = options
    return parse


def parse_networks_list(value: Any, key: str) -> list[str]:
    """IP addresses or CIDR ranges: a YAML list, or one comma-separated text (environment)."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        return [str(net) for net in parse_networks(i for i in items if str(i).strip())]
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def parse_lock_storage(value: Any, key: str) -> str:
    """`memory` (one replica) or `redis://[:password@]host:port/db` (shared by replicas)."""
    text = parse_str(value, key).strip()
    if text == "memory":
        return text
    try:
        parse_redis_url(text)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    return text


class Option(NamedTuple):
    """One setting. `flag` is "--name" or "--name METAVAR" when the command line sets it."""

    parse: Callable[[Any, str], Any]
    default: Any
    help: str
    flag: str | None = None


SCHEMA: dict[str, dict[str, Option]] = {
    "server": {
        "host": Option(
            parse_str, "127.0.0.1", "address to listen on; 0.0.0.0 in a container", "--host"
        ),
        "port": Option(parse_int, 8080, "port to listen on", "--port"),
        "threads": Option(
            parse_int, 64, "worker threads; the S3 connection pool is sized to match"
        ),
        "auth": Option(
            choice("anonymous", "basic"),
            "anonymous",
            "who may use a share that names no users",
            "--auth",
        ),
        "max_xml_body": Option(
            parse_size, "1MiB", "largest PROPFIND/PROPPATCH/LOCK body (else 413)"
        ),
        "login_max_failures": Option(parse_int, 10, "failed logins from one address before 429"),
        "login_user_max_failures": Option(
            parse_count, 20, "failed logins for one user name before 429; 0 = no limit"
        ),
        "login_block": Option(
            parse_duration, "5min", "how long a blocked address or name gets 429"
        ),
        "login_delay": Option(parse_duration, "0.25s", "wait before answering a failed login"),
        "shutdown_timeout": Option(
            parse_duration, "30s", "on SIGTERM, time left to in-flight uploads"
        ),
        "header_timeout": Option(
            parse_duration, "10s", "the whole request head within this, or 408"
        ),
        "max_header_bytes": Option(parse_size, "64KiB", "largest request head (else 431)"),
        "body_timeout": Option(
            parse_duration, "30s", "longest wait for the next body bytes, or 408"
        ),
        "max_body_bytes": Option(parse_size, "5TiB", "largest request body (else 413)"),
        "trusted_proxies": Option(
            parse_networks_list, [], "proxies whose X-Forwarded-For names the client"
        ),
    },
    "s3": {
        "endpoint_url": Option(
            parse_opt_str, None, "S3 endpoint (MinIO, Ceph, ...); none: AWS", "--endpoint-url"
        ),
        "region": Option(parse_str, "us-east-1", "S3 region", "--region"),
        "addressing_style": Option(
            choice("auto", "path", "virtual"), "auto", "bucket in path or host"
        ),
        "access_key_id": Option(
            parse_opt_str, None, "none: boto3's chain (environment, profile, role)"
        ),
        "secret_access_key": Option(
            parse_opt_str, None, "e.g. ${AWS_SECRET_ACCESS_KEY}; never logged"
        ),
        "connect_timeout": Option(parse_duration, "5s", "to connect to S3"),
        "read_timeout": Option(parse_duration, "30s", "for S3 to answer"),
        "max_attempts": Option(parse_int, 5, "per S3 request, retries included"),
        "part_size": Option(parse_size, "8MiB", "multipart part size (grown to stay under 10,000)"),
        "multipart_threshold": Option(parse_size, "8MiB", "bodies this large go up in parts"),
        "upload_concurrency": Option(parse_int, 10, "parts of one upload sent at once"),
        "copy_threshold": Option(parse_size, "5GiB", "larger objects are copied in parts"),
        "legacy_s3fs_dirs": Option(
            parse_bool, False, "read s3fs's application/x-directory objects"
        ),
        "abort_stale_uploads_after": Option(
            parse_duration, "24h", "abort multipart uploads older than this (0 = never)"
        ),
        "abort_stale_uploads_every": Option(
            parse_duration, "1h", "and again this often (0 = at start)"
        ),
        "conditional_writes": Option(
            parse_bool, True, "pass If-Match / If-None-Match on PUT to S3"
        ),
        "part_checksums": Option(
            parse_bool, True, "a CRC32 on every multipart part, checked by S3"
        ),
    },
    "cache": {
        "dir": Option(parse_str, "~/.cache/s3dav", "cache directory", "--cache-dir"),
        "size": Option(parse_size, "10GiB", "content cache bound; 0 = off"),
        "metadata_ttl": Option(parse_duration, "30s", "how long a folder listing is trusted"),
        "negative_ttl": Option(
            parse_duration, "3s", "a read of a path a listing lacks asks S3 this often; 0 = never"
        ),
        "overlay_ttl": Option(
            parse_duration, "300s", "how long own writes are merged into listings"
        ),
        "head_unseen": Option(parse_bool, True, "HEAD objects no s3dav has seen, for their mtime"),
        "readahead_folders": Option(
            parse_count, 32, "subfolders listed ahead by a browse; 0 = off"
        ),
        "write_back": Option(parse_bool, False, "answer PUT once journalled; upload in background"),
        "write_back_delay": Option(
            parse_duration, "0.5s", "write-back starts once PUTs paused this"
        ),
    },
    "locks": {
        "storage": Option(
            parse_lock_storage,
            "memory",
            "memory, or redis://host:port/db shared by several replicas",
            "--lock-storage URL",
        ),
        "max_timeout": Option(parse_duration, "1h", "a LOCK is granted at most this long"),
        "max_owner": Option(parse_size, "4KiB", "largest <owner> of a LOCK (else 400)"),
    },
    "macos": {"metadata_files": Option(choice("store", "refuse"), "store", "._* and .DS_Store")},
    "logging": {
        "level": Option(choice("debug", "info", "warning", "error"), "info", "log level"),
        "format": Option(choice("plain", "json"), "plain", "log line format"),
    },
    "metrics": {"enabled": Option(parse_bool, True, "GET /metrics in Prometheus text format")},
    # Share links (issue 17): off while `key` is unset (server/sharelinks.py, docs/SECURITY.md).
    "share_links": {
        "key": Option(
            parse_opt_str, None, "HMAC key that signs share links (16+ characters); unset: off"
        ),
        "max_expiry": Option(parse_duration, "30d", "longest lifetime a share link may have"),
        "max_per_user": Option(parse_count, 200, "share links one user may hold at once"),
    },
    # S3 event notifications (issue 15): POST /_s3dav/events, off while `token` is unset
    # (server/events.py, docs/DEPLOY.md).
    "events": {
        "token": Option(
            parse_opt_str, None, "shared secret of POST /_s3dav/events (16+ characters); unset: off"
        ),
        "max_body": Option(parse_size, "1MiB", "largest event body taken"),
        "max_records": Option(parse_count, 1000, "most records in one event body"),
    },
}


def flag_dest(flag: str) -> str:
    """The argparse dest of "--cache-dir URL": cache_dir (the key of `load`'s flags)."""
    return flag.split(" ", 1)[0].removeprefix("--").replace("-", "_")


def flagged() -> Iterator[tuple[str, str, Option]]:
    """(section, key, option) of every option the command line can set."""
    for section, options in SCHEMA.items():
        for key, option in options.items():
            if option.flag:
                yield section, key, option
