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
  connection per client connection) would connect anew for each request.

    python -m benchmarks.motoserver --port 5000
"""

from __future__ import annotations

import argparse
import signal

import moto.backends
from cheroot.wsgi import Server


def cache_module_list() -> None:
    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=32)
    a = ap.parse_args()
    cache_module_list()
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
