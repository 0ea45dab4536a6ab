"""Listening and serving: the cheroot server around a built gateway, and its signals.

Kept apart from app.py (which composes the gateway) because this is the HTTP
shell: which socket, which limits on a request's head and body, TLS, and a
clean stop on SIGTERM. `listen_problem` runs before anything is built, so a
busy port costs one clear line and no side effects.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import threading
from typing import TYPE_CHECKING

from cheroot import wsgi

from s3dav.config import ListenError
from s3dav.server.httpguard import DeferredHandshakeAdapter, GuardedServer, Limits
from s3dav.server.onewrite import OneWriteGateway

if TYPE_CHECKING:
    from s3dav.app import Gateway

_log = logging.getLogger(__name__)


def describe_listen_error(code: int | None, host: str, port: int, detail: str = "") -> str:
    """One line saying why s3dav cannot listen on host:port, and what to change."""
    if code == errno.EADDRINUSE:
        return f"port {port} is in use; pick another with --port"
    if code == errno.EACCES:
        return f"port {port} needs privileges this process lacks; pick another with --port"
    if code == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; pick another with --host"
    return f"cannot listen on {host}:{port}: {detail or os.strerror(code or 0)}"


def errno_in(message: str) -> int | None:
    """The first `[Errno N]` in cheroot's bind message (it drops the exception's errno)."""
    m = re.search(r"\[Errno (\d+)\]", message)
    return int(m.group(1)) if m else None


def listen_problem(host: str, port: int) -> str | None:
    """Can a server listen on host:port? None if so, else describe_listen_error()'s line.

    Probed before anything starts (bucket checks, write-back recovery), so a busy
    port costs one clear line and no side effects; binding as cheroot does
    (SO_REUSEADDR) so a port in TIME_WAIT is not reported busy.
    """
    if os.getenv("LISTEN_PID"):
        return None  # systemd hands over a bound socket
    try:
        infos = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot listen on {host}: {exc.strerror}; pick another with --host"
    failure: OSError | None = None
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
                return None
            except OSError as exc:
                failure = exc
    if failure is None:
        return f"cannot listen on {host}:{port}: no address"
    return describe_listen_error(failure.errno, host, port, failure.strerror or "")


def make_server(gw: Gateway) -> wsgi.Server:
    cfg = gw.config
    server = GuardedServer(  # s3dav/server/httpguard.py: bounded heads, strict framing
        (cfg.server["host"], cfg.server["port"]),
        gw.app,
        numthreads=cfg.server["threads"],
        server_name="s3dav",
        request_queue_size=128,
        timeout=60,  # how long an idle kept-alive connection stays open
        limits=Limits(
            header_timeout=cfg.server["header_timeout"],
            max_header_bytes=cfg.server["max_header_bytes"],
            body_timeout=cfg.server["body_timeout"],
            max_body_bytes=cfg.server["max_body_bytes"],
        ),
    )
    server.gateway = OneWriteGateway  # headers and a small body in one send
    if cfg.tls:
        server.ssl_adapter = DeferredHandshakeAdapter(cfg.tls["cert"], cfg.tls["key"])
    return server


def stop_on_signals(server: wsgi.Server) -> list[threading.Thread]:
    """On the first SIGTERM/SIGINT, stop `server` from a thread (the list holds it, for join)."""
    stopper: list[threading.Thread] = []

    def on_signal(signum, _frame):
        if stopper:
            return
        _log.info("signal %s: shutting down (in-flight requests may finish)", signum)
        thread = threading.Thread(target=server.stop, name="s3dav-stop")
        stopper.append(thread)
        thread.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stopper


def serve_forever(gw: Gateway) -> None:
    """Run until SIGTERM/SIGINT; then stop taking requests and exit cleanly.

    On the signal the listening socket closes at once (new connections are
    refused, idle keep-alive ones closed) while requests in flight, uploads
    above all, get up to `server.shutdown_timeout` to finish. Only then do the
    caches close and the process exit.
    """
    server = make_server(gw)
    server.shutdown_timeout = gw.config.server["shutdown_timeout"]
    stopper = stop_on_signals(server)
    scheme = "https" if gw.config.tls else "http"
    host, port = gw.config.server["host"], gw.config.server["port"]
    try:
        try:
            server.prepare()
        except OSError as exc:  # lost a race since listen_problem(), or called without it
            message = str(exc)
            raise ListenError(
                describe_listen_error(errno_in(message), host, port, message)
            ) from None
        _log.info("s3dav listening on %s://%s:%s/", scheme, host, port)
        server.serve()
        for thread in stopper:
            # server.stop() waits up to shutdown_timeout for busy workers
            thread.join(server.shutdown_timeout + 5)
        _log.info("stopped")
    finally:
        gw.close()
