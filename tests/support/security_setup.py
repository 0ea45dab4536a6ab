"""Two users, three shares, two buckets, behind a key-logging S3 proxy (tests of issue 6)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from s3dav.passwords import hash_password
from tests.support.s3proxy import KeyLoggingProxy

PASSWORDS = {"ann": "ann-Pa55word-7x", "bob": "bob-Pa55word-9y"}
HASHES = {name: hash_password(pw) for name, pw in PASSWORDS.items()}

# Objects outside every share's reach sit beside the shares' prefixes, including a sibling
# prefix that starts with the same letters as ann's (users/ann-evil/).
SEED_MAIN = {
    "users/ann/a.txt": b"ann's file",
    "users/ann/dir/b.txt": b"ann's nested file",
    "users/bob/secret.txt": b"bob's secret",
    "users/bob/dir/c.txt": b"bob's nested file",
    "users/ann-evil/x.txt": b"sibling prefix",
    "root.txt": b"bucket root",
}
SEED_OTHER = {"public/p.txt": b"public file", "private/x.txt": b"private"}


def basic(user: str, password: str | None = None) -> str:
    pw = PASSWORDS[user] if password is None else password
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


@dataclass
class Setup:
    gw: object
    proxy: KeyLoggingProxy
    main: str  # bucket of /ann and /bob
    other: str  # bucket of /pub

    def allowed_for_ann(self) -> dict[str, list[str]]:
        """What ann (or anyone anonymous) may make the gateway touch."""
        return {self.main: ["users/ann/"], self.other: ["public/"]}


def start(
    s3, moto_url: str, make_gateway, main: str, *, cache: dict | None = None, **server
) -> Setup:
    other = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=other)
    for key, data in SEED_MAIN.items():
        s3.put_object(Bucket=main, Key=key, Body=data)
    for key, data in SEED_OTHER.items():
        s3.put_object(Bucket=other, Key=key, Body=data)
    proxy = KeyLoggingProxy(moto_url)
    config = {
        "s3": {"endpoint_url": proxy.url, "addressing_style": "path"},
        "server": {"max_xml_body": "64KiB", **server},
        "cache": dict(cache or {}),
        "users": {name: {"password_hash": h} for name, h in HASHES.items()},
        "shares": [
            {"path": "/ann", "bucket": main, "prefix": "users/ann/", "users": ["ann"]},
            {"path": "/bob", "bucket": main, "prefix": "users/bob/", "users": ["bob"]},
            {
                "path": "/pub",
                "bucket": other,
                "prefix": "public/",
                "users": ["anonymous"],
                "read_only": True,
            },
        ],
    }
    gw = make_gateway(config=config)
    # At start the gateway tidies every share itself (stale multipart uploads of bob's prefix
    # too); the properties are about what requests make it do, so count from here.
    proxy.start_over()
    return Setup(gw, proxy, main, other)
