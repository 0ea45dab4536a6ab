"""The embedded S3 endpoint: moto's server on loopback, for trying s3dav out.

Data lives in memory and is gone when the process exits. It needs the `demo`
extra (moto), which a production install does not carry.
"""

from __future__ import annotations

import logging
import socket

_log = logging.getLogger(__name__)

DEMO_BUCKET = "s3dav-demo"
DEMO_KEY = "s3dav-demo-key"
DEMO_SECRET = "s3dav-demo-secret"

BANNER = """
************************************************************************
*  s3dav is serving its EMBEDDED, IN-MEMORY S3 endpoint ({url}).
*  Everything you store is LOST when s3dav exits.
*  Configure a real bucket (--bucket, or shares: in the config) to keep data.
************************************************************************"""


class MissingDemoExtra(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_embedded_s3():
    """Start moto on 127.0.0.1 and create the demo bucket. Returns (server, url)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise MissingDemoExtra(
            "no bucket is configured and the embedded S3 needs the demo extra: "
            "pip install 's3dav[demo]' (or give --bucket / a config file)"
        ) from exc
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=DEMO_KEY,
        aws_secret_access_key=DEMO_SECRET,
    )
    client.create_bucket(Bucket=DEMO_BUCKET)
    _log.warning(BANNER.format(url=url))
    return server, url
