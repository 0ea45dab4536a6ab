"""Start-time checks shared by `s3dav serve` and `s3dav check`: what would fail or leak.

Pure functions of the Config: a missing optional package (an *extra*) is one line
naming what to install, not a traceback at first use; Basic auth over plain HTTP
on a non-loopback address is a warning (passwords cross the network readable).
The bucket probes (`check_buckets` before serving, `ready_probe` for /readyz)
ask S3 once per bucket: HeadBucket.
"""

from __future__ import annotations

import ipaddress

from botocore.exceptions import BotoCoreError, ClientError

from s3dav.config import Config, ConfigError, Share
from s3dav.errors import is_denied, is_missing_bucket, s3_code

# module to import -> (extra that installs it, what needs it)
_EXTRAS = {"redis": ("replicas", "locks.storage: redis://")}


def _importable(module: str) -> bool:
    """Can `module` be imported? (Imported for real: a broken install counts as missing.)"""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def missing_extras(cfg: Config, importable=_importable) -> list[str]:
    """One line per optional package the config needs but Python cannot import."""
    needed = []
    if cfg.locks["storage"] != "memory":
        needed.append("redis")
    problems = []
    for module in needed:
        if not importable(module):
            extra, what = _EXTRAS[module]
            problems.append(
                f"{what}... needs the Python package {module!r}, which is not installed:"
                f" pip install 's3dav[{extra}]'"
            )
    return problems


def is_loopback(host: str) -> bool:
    """Does listening on `host` keep the port to this machine?"""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name (or "" = every address): assume reachable from outside


def plain_http_basic_warning(cfg: Config) -> str | None:
    """A warning when passwords would travel unencrypted beyond this machine."""
    host = cfg.server["host"]
    if cfg.tls or is_loopback(host):
        return None
    logins = [s.path for s in cfg.shares if "anonymous" not in s.users]
    if not logins:
        return None
    return (
        f"Basic auth over plain HTTP on {host}: passwords for {', '.join(logins)} cross the"
        " network readable; set server.tls, or serve only behind a TLS proxy on a trusted"
        " network (docs/SECURITY.md)"
    )


def check_buckets(client, shares: list[Share]) -> None:
    """Fail fast, with one line, when a bucket cannot be reached."""
    for share in {s.bucket: s for s in shares}.values():
        try:
            client.head_bucket(Bucket=share.bucket)
        except ClientError as exc:
            if is_missing_bucket(exc):
                raise ConfigError(f"bucket {share.bucket!r} does not exist") from None
            if is_denied(exc):
                raise ConfigError(
                    f"bucket {share.bucket!r}: access denied (check the credentials)"
                ) from None
            raise ConfigError(f"bucket {share.bucket!r}: S3 answered {s3_code(exc)}") from None
        except BotoCoreError as exc:
            raise ConfigError(f"cannot reach S3 for bucket {share.bucket!r}: {exc}") from None


def ready_probe(client, shares: list[Share]) -> tuple[bool, str]:
    """Is every bucket reachable right now? (for /readyz)"""
    for bucket in sorted({s.bucket for s in shares}):
        try:
            client.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            return False, f"bucket {bucket} unreachable: {type(exc).__name__}"
    return True, "ready"
