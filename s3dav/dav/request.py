"""What the dav room keeps in a request's WSGI environ.

The per-request memo of path -> resource (as WsgiDAV's hg_dav_provider keeps
one: WsgiDAV resolves the same path several times per request), and the marks
it leaves for the gateway middleware, which shapes the answer from them.
"""

from __future__ import annotations

RESOLVED = "s3dav.resolved"  # environ key: per-request memo of path -> resource
CREATED = "s3dav.created"  # environ key: a natively handled COPY/MOVE made a new resource
MTIME_ACCEPTED = "s3dav.mtime_accepted"


def forget_resolved(environ: dict) -> None:
    environ.pop(RESOLVED, None)
