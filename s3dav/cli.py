"""The `s3dav` command: serve, hash-password, check."""

from __future__ import annotations

import argparse
import atexit
import getpass
import logging
import shutil
import sys
import tempfile

from s3dav import __version__
from s3dav.config import Config, ConfigError, ListenError, Share, load
from s3dav.options import flag_dest, flagged, parse_int


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="s3dav", description="A WebDAV server that fronts an S3 bucket."
    )
    p.add_argument("--version", action="version", version=f"s3dav {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", "-c", metavar="FILE", help="YAML configuration file")
        add_option_flags(sp)
        sp.add_argument("--bucket", help="serve this bucket as the single share at /")
        sp.add_argument("--prefix", help="key prefix inside --bucket")
        sp.add_argument(
            "--read-only", action="store_true", default=None, help="refuse every write with 403"
        )

    serve = sub.add_parser("serve", help="run the WebDAV server")
    common(serve)
    check = sub.add_parser("check", help="validate the config and probe each bucket")
    common(check)
    sub.add_parser("hash-password", help="read a password on stdin, print its hash")
    return p


# The argparse type of a flag whose option has this parser (others take the text as is).
_FLAG_TYPES = {parse_int: int}


def add_option_flags(sp: argparse.ArgumentParser) -> None:
    """One flag per option of the table (options.py) that has one, with its help and default."""
    for _section, _key, option in flagged():
        name, _, metavar = option.flag.partition(" ")
        sp.add_argument(
            name,
            dest=flag_dest(option.flag),
            metavar=metavar or None,
            type=_FLAG_TYPES.get(option.parse),
            choices=getattr(option.parse, "choices", None),
            help=option.help
            if option.default is None
            else f"{option.help} (default {option.default})",
        )


def _flags(args: argparse.Namespace) -> dict:
    names = [flag_dest(option.flag) for _s, _k, option in flagged()]
    return {n: getattr(args, n, None) for n in [*names, "bucket", "prefix", "read_only"]}


def _setup_logging(cfg: Config) -> None:
    from s3dav.server.logs import configure

    configure(cfg.logging["level"], cfg.logging["format"])


def _use_embedded(cfg: Config) -> object:
    from s3dav.embedded import DEMO_BUCKET, DEMO_KEY, DEMO_SECRET, start_embedded_s3

    server, url = start_embedded_s3()
    cfg.s3.update(endpoint_url=url, access_key_id=DEMO_KEY, secret_access_key=DEMO_SECRET)
    # The demo's objects die with the process; so do its caches and dead properties,
    # which must never show up on a real bucket's files or in a later demo.
    cache = tempfile.mkdtemp(prefix="s3dav-demo-cache-")
    atexit.register(shutil.rmtree, cache, ignore_errors=True)
    cfg.cache["dir"] = cache
    users = ["anonymous"] if cfg.server["auth"] == "anonymous" else sorted(cfg.users)
    cfg.shares = [
        Share(
            path="/",
            bucket=DEMO_BUCKET,
            users=users,
            read_only=bool(cfg.server.get("read_only_default")),
        )
    ]
    return server


def cmd_serve(args) -> int:
    from s3dav.app import build_gateway
    from s3dav.embedded import MissingDemoExtra
    from s3dav.preflight import missing_extras, plain_http_basic_warning
    from s3dav.server.memory import tune_malloc
    from s3dav.server.serve import listen_problem, serve_forever

    tune_malloc()  # before the big buffers of uploads and cache blocks come and go
    cfg = load(args.config, _flags(args))
    _setup_logging(cfg)
    for problem in missing_extras(cfg):
        print(f"s3dav: {problem}", file=sys.stderr)
        return 2
    problem = listen_problem(cfg.server["host"], cfg.server["port"])
    if problem:  # before S3 is asked anything or a journalled upload resumes
        raise ListenError(problem)
    embedded = None
    if cfg.embedded:
        try:
            embedded = _use_embedded(cfg)
        except MissingDemoExtra as exc:
            print(f"s3dav: {exc}", file=sys.stderr)
            return 2
    warning = plain_http_basic_warning(cfg)
    if warning:
        logging.getLogger("s3dav.cli").warning("%s", warning)
    try:
        gw = build_gateway(cfg)
    except ConfigError:
        if embedded:
            embedded.stop()
        raise
    try:
        serve_forever(gw)
    finally:
        if embedded:
            embedded.stop()
    return 0


def cmd_hash_password(_args) -> int:
    from s3dav.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("s3dav: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_check(args) -> int:
    from s3dav.check import run_check

    cfg = load(args.config, _flags(args))
    logging.basicConfig(level=logging.WARNING)
    return run_check(cfg)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    handlers = {"serve": cmd_serve, "hash-password": cmd_hash_password, "check": cmd_check}
    try:
        return handlers[args.command](args)
    except ListenError as exc:
        print(f"s3dav: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"s3dav: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
