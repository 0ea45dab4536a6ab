"""LOCK requests within bounds: a capped timeout and a small owner.

A client may ask for `Timeout: Infinite` (WsgiDAV then keeps the lock for a
month) and send an `<owner>` of any size up to `server.max_xml_body` (kept in
the lock store for as long as the lock lives, and echoed in every
lockdiscovery). RFC 4918 (section 10.7) lets a server answer a shorter timeout
than asked: every LOCK, also a refresh, gets at most `locks.max_timeout`
seconds, and the timeout granted is also sent as a `Timeout` response header.
An owner over `locks.max_owner` bytes is refused with 400 before a lock exists.
"""

from __future__ import annotations

import io
from xml.etree.ElementTree import tostring

from defusedxml.ElementTree import fromstring
from wsgidav.mw.base_mw import BaseMiddleware

DAV_OWNER = "{DAV:}owner"


def capped_timeout(header: str | None, cap: int) -> int:
    """Seconds to grant for a `Timeout` request header: the first usable entry, at most `cap`.

    `Infinite`, an absent or unreadable header (WsgiDAV would give a week) all get `cap`.
    """
    for item in (header or "").split(","):
        item = item.strip()
        if item.lower() == "infinite":
            return cap
        if item.lower().startswith("second-") and item[7:].isdigit():
            return max(1, min(int(item[7:]), cap))
    return cap


def owner_size(body: bytes) -> int:
    """Bytes of the `<owner>` element of a LOCK body as the lock store keeps it (0: none)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception:  # noqa: BLE001 - WsgiDAV answers a malformed body itself
        return 0
    owner = root.find(DAV_OWNER)
    if owner is None:
        return 0
    return len(tostring(owner))


class LockGuard(BaseMiddleware):
    """Cap LOCK timeouts and owner sizes before WsgiDAV stores a lock."""

    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        opts = config["s3dav"]
        self.max_timeout: int = opts["max_lock_timeout"]
        self.max_owner: int = opts["max_lock_owner"]

    def is_disabled(self):
        return False

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "LOCK":
            return self.next_app(environ, start_response)
        if int(environ.get("CONTENT_LENGTH") or 0) > self.max_owner:
            body = environ["wsgi.input"].read()  # xmlguard read and checked it already
            environ["wsgi.input"] = io.BytesIO(body)
            size = owner_size(body)
            if size > self.max_owner:
                return self._refuse(
                    environ,
                    start_response,
                    f"LOCK {environ.get('PATH_INFO', '/')}: "
                    f"the owner element is {size} bytes, over the limit of {self.max_owner} "
                    "(locks.max_owner)",
                )
        seconds = capped_timeout(environ.get("HTTP_TIMEOUT"), self.max_timeout)
        environ["HTTP_TIMEOUT"] = f"Second-{seconds}"

        def lock_start(status, headers, exc_info=None):
            if status[:3] in ("200", "201"):
                headers = [*headers, ("Timeout", f"Second-{seconds}")]
            return start_response(status, headers, exc_info)

        return self.next_app(environ, lock_start)

    @staticmethod
    def _refuse(environ, start_response, reason: str):
        body = f"400 Bad Request: {reason}\n".encode()
        start_response(
            "400 Bad Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]
