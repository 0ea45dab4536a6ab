"""The outermost WSGI layer: what WsgiDAV's handlers do not do for us.

- answers 201 rather than 204 when a natively handled COPY/MOVE created the target;
- adds `X-OC-Mtime: accepted` when a client-sent modification time was stored;
- writes one access-log line per request.
"""

from __future__ import annotations

import logging
import time

from wsgidav.mw.base_mw import BaseMiddleware

from s3dav.provider import CREATED, MTIME_ACCEPTED

_access = logging.getLogger("s3dav.access")


class S3davMiddleware(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)

    def is_disabled(self):
        return False

    def __call__(self, environ, start_response):
        started = time.monotonic()
        method = environ.get("REQUEST_METHOD", "")
        state = {"status": "", "bytes": 0}

        def wrapped_start(status, headers, exc_info=None):
            if method in ("COPY", "MOVE") and environ.get(CREATED) and status.startswith("204"):
                status = "201 Created"
            if environ.get(MTIME_ACCEPTED):
                headers = [*headers, ("X-OC-Mtime", "accepted")]
            state["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            for chunk in self.next_app(environ, wrapped_start):
                state["bytes"] += len(chunk)
                yield chunk
        finally:
            self._log(environ, state["status"], state["bytes"], started)

    @staticmethod
    def _log(environ, status: str, nbytes: int, started: float) -> None:
        _access.info(
            "%s %s %s %d %.1fms user=%s",
            environ.get("REQUEST_METHOD", ""),
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
            status or "-",
            nbytes,
            (time.monotonic() - started) * 1000,
            environ.get("wsgidav.auth.user_name") or "-",
        )
