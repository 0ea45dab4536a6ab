"""What the dav room keeps in a request's WSGI environ.

The per-request memo of path -> resource (as WsgiDAV's hg_dav_provider keeps
one: WsgiDAV resolves the same path several times per request), and the marks
it leaves for the gateway middleware, which shapes the answer from them.
"""

from __future__ import annotations

RESOLVED = "s3dav.resolved"  # environ key: per-request memo of path -> resource
CREATED = "s3dav.created"  # environ key: a natively handled COPY/MOVE made a new resource
MTIME_ACCEPTED = "s3dav.mtime_accepted"


# Requests that only read: a path they name that a cached listing lacks is asked of S3
# again (store/negative.py). Never a write: a sync tool's thousands of new destinations
# (PUT, MKCOL, COPY, MOVE) must cost no LIST each.
READ_METHODS = frozenset({"GET", "HEAD", "PROPFIND"})


def rechecks_misses(environ: dict) -> bool:
    """Whether this request may check S3 for a path its folder's cached listing lacks."""
    return environ.get("REQUEST_METHOD") in READ_METHODS


def forget_resolved(environ: dict) -> None:
    environ.pop(RESOLVED, None)
