"""moto's S3 server for the benchmark: the same moto app, served by cheroot.

Every target in a run (s3dav and rclone alike) talks to this one moto, so its
CPU per request is a floor under every scenario that sends thousands of
requests (2000 HEADs in (d)). Two changes take that floor from about 5 ms to
about 3.3 ms a request on the 2-core machine the README figures come from:

- moto's dispatcher lists its own package directory (listdir + isdir of ~150
  entries) on every request to learn the service names; the list is computed
  once here;
- cheroot's thread pool replaces werkzeug's development server (a thread per
  connection, a log line per request). Its limit of 10 kept-alive connections
  is raised: beyond it every answer closes its connection, and the proxy (a
  connection per client connection) would connect anew for each request;
- ListObjects(V2) reads one page from a sorted index of the bucket's names, as S3
  does, instead of walking and sorting the whole bucket for every page (see below).

    python -m benchmarks.motoserver --port 5000
"""

from __future__ import annotations

import argparse
import bisect
import signal
import sys

import moto.backends
from cheroot.wsgi import Server


def cache_module_list() -> None:
    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules


# --- ListObjects(V2) in O(page) -------------------------------------------------------------
# moto's ListObjects(V2) walks, filters and sorts every key of the bucket for every page
# (about 0.8 s of CPU a page at 20,000 keys), where S3 reads one page from its index. The
# benchmark's (g) measures how a gateway's parallel listing hides round trips; with moto's
# walk it measured moto's CPU instead. Below, each bucket's key store keeps its names sorted
# (rebuilt after a key is added or removed) and a page is read from a bisect, with S3's
# semantics: keys and common prefixes in one order, StartAfter/marker/token exclusive,
# MaxKeys counting both. tests/unit/test_bench_motoserver.py compares it with moto's own.

_GEN = "_s3dav_generation"
_SORTED = "_s3dav_sorted"
_TOP = "\U0010ffff"  # above every character: prefix + _TOP is past every key under prefix


def _changed(store) -> None:
    store.__dict__[_GEN] = store.__dict__.get(_GEN, 0) + 1


def sorted_names(store) -> list[str]:
    """The store's key names, sorted; rebuilt only after the set of names changed."""
    gen = store.__dict__.get(_GEN, 0)
    cached = store.__dict__.get(_SORTED)
    if cached is not None and cached[0] == gen:
        return cached[1]
    names = sorted(dict.keys(store))
    store.__dict__[_SORTED] = (gen, names)
    return names


def track_key_names() -> None:
    """Bump a store's generation whenever a name comes or goes (moto's writes, deletes)."""
    from moto.s3.utils import _VersionedKeyStore as Store

    set_item, set_list, pop = Store.__setitem__, Store.setlist, Store.pop

    def __setitem__(self, key, value):
        new = not dict.__contains__(self, key)
        set_item(self, key, value)
        if new:
            _changed(self)

    def setlist(self, key, list_):
        new = not dict.__contains__(self, key)
        set_list(self, key, list_)
        if new:
            _changed(self)

    def pop_(self, key, *default):
        try:
            return pop(self, key, *default)
        finally:
            _changed(self)

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        _changed(self)

    def clear(self):
        dict.clear(self)
        _changed(self)

    Store.__setitem__, Store.setlist, Store.pop = __setitem__, setlist, pop_
    Store.__delitem__, Store.clear = __delitem__, clear


def page(bucket, prefix: str | None, delimiter: str | None, after: str | None, max_keys: int):
    """One page: (items, truncated); items are FakeKeys and common-prefix strings in order."""
    from moto.s3.models import FakeDeleteMarker

    names = sorted_names(bucket.keys)
    prefix = prefix or ""
    i = bisect.bisect_left(names, prefix)
    if after:
        i = max(i, bisect.bisect_right(names, after))
    items: list = []
    while i < len(names) and names[i].startswith(prefix):
        name = names[i]
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            item = prefix + rest.split(delimiter, 1)[0] + delimiter
            i = bisect.bisect_left(names, item + _TOP, i)
            if after and item <= after:
                continue
        else:
            i += 1
            item = bucket.keys.get(name)
            if item is None or isinstance(item, FakeDeleteMarker):
                continue
        if len(items) == max_keys:
            return items, True
        items.append(item)
    return items, False


def lean_listing() -> None:
    """Serve moto's ListObjects and ListObjectsV2 from page() (see above)."""
    from moto.s3.exceptions import MethodNotAllowed
    from moto.s3.models import FakeKey, FakeTableStorageBucket, S3Backend
    from moto.utilities.utils import md5_hash

    def token(backend, items: list) -> str:
        last = items[-1]
        name = last.name if isinstance(last, FakeKey) else last
        tok = md5_hash(name.encode("utf-8")).hexdigest()
        backend._pagination_tokens[tok] = name
        return tok

    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        if isinstance(bucket, FakeTableStorageBucket):
            raise MethodNotAllowed()
        after = (
            self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        )
        if max_keys == 0:
            return [], False, None
        items, truncated = page(bucket, prefix, delimiter, after, max_keys)
        return items, truncated, token(self, items) if truncated else None

    def list_objects(self, bucket, prefix, delimiter, marker, max_keys):
        if isinstance(bucket, FakeTableStorageBucket):
            raise MethodNotAllowed()
        after = (self._pagination_tokens.get(marker) or marker) if marker else None
        if max_keys == 0:
            return [], [], False, None
        items, truncated = page(
            bucket, prefix, delimiter, after, sys.maxsize if max_keys is None else max_keys
        )
        keys = [k for k in items if isinstance(k, FakeKey)]
        folders = [k for k in items if not isinstance(k, FakeKey)]
        return keys, folders, truncated, token(self, items) if truncated else None

    S3Backend.list_objects_v2 = list_objects_v2
    S3Backend.list_objects = list_objects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=32)
    a = ap.parse_args()
    cache_module_list()
    track_key_names()
    lean_listing()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    server = Server(
        (a.host, a.port),
        DomainDispatcherApplication(create_backend_app),
        numthreads=a.threads,
        request_queue_size=256,  # cheroot's 5 makes a burst of new connections wait 1 s
    )
    server.keep_alive_conn_limit = 512
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    server.start()


if __name__ == "__main__":
    main()
