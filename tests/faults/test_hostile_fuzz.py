"""Property-based hostile input: generated requests against a running gateway.

Hypothesis builds batches of requests (methods, paths in every traversal spelling,
headers, XML and binary bodies) and sends them byte for byte to a gateway whose S3
traffic goes through a key-logging proxy. The properties: no answer is a 5xx or shows
a traceback, and S3 is never asked for a key outside the prefixes that ann (the only
user whose password is sent) and anonymous may reach.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support import security_setup
from tests.support.rawhttp import send_raw
from tests.support.s3proxy import outside
from tests.support.security_setup import basic
from tests.support.xmlbodies import BIG_XML, BILLION_LAUGHS, EXTERNAL_ENTITY, PROPFIND_BODY

BATCHES = 200
BATCH_SIZE = 16  # 3,200 requests

METHODS = [
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
    "OPTIONS",
    "POST",
    "PATCH",
    "TRACE",
    "CONNECT",
    "SEARCH",
    "REPORT",
]
NORMAL = [
    "a.txt",
    "dir",
    "b.txt",
    "new.txt",
    "d",
    "x",
    "secret.txt",
    "p.txt",
    "\u00e9t\u00e9",
    "e%cc%81",
    "sp%20ace",
    ".DS_Store",
    "._a",
    "con",
]
TRAVERSAL = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "%2e",
    "..%2f",
    "%2e%2e%2f",
    "..%2F..%2F",
    "%2f",
    "%2F",
    "%5c",
    "..%5c",
    "%5c..",
    "%c0%ae%c0%ae",
    "%c0%af",
    "%e0%80%ae",
    "%c1%9c",
    "%00",
    "%0a",
    "%0d%0a",
    "%7f",
    "%ff",
    "%",
    "%z",
    "%2",
    "%25",
    "%252e%252e",
    "..;",
    ";",
    "~",
    "",
    "users",
    "bob",
    "ann",
    "ann-evil",
    "public",
    "private",
    "%e2%80%ae",
    "k" * 300,
    "k" * 1100,
]
SHARES = ["/ann"] * 6 + [
    "/bob",
    "/pub",
    "/pub",
    "",
    "/",
    "/ANN",
    "/ann-evil",
    "/users",
    "http://127.0.0.1",
]
normal = st.sampled_from(NORMAL)
name = st.one_of(
    normal,
    normal,
    normal,
    st.sampled_from(TRAVERSAL),
    st.text(alphabet="abcXYZ019-_.~%/\\;:@!$&'()*+,=", min_size=1, max_size=12),
)
path = st.builds(
    lambda share, segs, sep, tail: share + "".join(sep + s for s in segs) + tail,
    st.sampled_from(SHARES),
    st.lists(name, max_size=3),
    st.sampled_from(["/"] * 8 + ["//", "%2f", "\\"]),
    st.sampled_from(["", "", "", "/", "/", "?x=1", "#frag", "/."]),
)
AUTH = (
    [basic("ann")] * 12
    + [None] * 3
    + [
        basic("ann", "wrong"),
        basic("bob", "wrong"),
        "Basic !!!",
        "Basic Zm9v",
        "Bearer x",
        'Digest username="ann"',
        "Basic " + "A" * 4000,
    ]
)
XML_BODIES = [
    PROPFIND_BODY,
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    BIG_XML,
    b"<a>",
    b"",
    b'<?xml version="1.0" encoding="bogus"?><a/>',
    b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
    b'<getlastmodified xmlns="DAV:">yesterday</getlastmodified></D:prop></D:set>'
    b"</D:propertyupdate>",
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/>'
    b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>",
]
header_values = st.one_of(
    st.sampled_from(["0", "1", "1", "T", "F"]),
    st.sampled_from(
        [
            "0",
            "1",
            "infinity",
            "-1",
            "T",
            "F",
            "",
            "bytes=0-1",
            "bytes=-5",
            "bytes=9999999999-",
            "1700000000",
            "abc",
            "<urn:x>",
            "(<opaquelocktoken:x>)",
            "*",
            '"etag"',
            "Second-10",
            "Infinite, Second-4100000000",
        ]
    ),
    st.text(alphabet='abc019 =-,;:/<>()"', max_size=30),
)
# Framing (tests/faults/test_http_framing.py has each case alone): sent beside send_raw's own
# Content-Length or Transfer-Encoding, so also as duplicates and conflicts.
FRAMING_VALUES = [
    "-1",
    "+5",
    "5_0",
    "0x5",
    "99999999999999999999999",
    "6597069766656",
    "chunked",
    "gzip",
    "gzip, chunked",
    "chunked, chunked",
    "identity",
]
header_values = st.one_of(header_values, st.sampled_from(FRAMING_VALUES))
HEADER_NAMES = [
    "Depth",
    "Overwrite",
    "Range",
    "X-OC-Mtime",
    "If",
    "If-Match",
    "If-None-Match",
    "Timeout",
    "Lock-Token",
    "Content-Type",
    "Expect",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "Content-Range",
    "OC-Checksum",
    "Content-Length",
    "Transfer-Encoding",
    "Content_Length",
]


@st.composite
def request(draw):
    method = draw(
        st.sampled_from(["PROPFIND", "GET", "PUT"] * 3 + METHODS)
        | st.text(alphabet="ABCXYZ", min_size=1, max_size=8)
    )
    headers = dict(
        draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=2))
    )
    auth = draw(st.sampled_from(AUTH))
    if auth:
        headers["Authorization"] = auth
    if method in ("COPY", "MOVE") or draw(st.booleans()) and draw(st.booleans()):
        host = draw(
            st.sampled_from(
                [
                    "http://127.0.0.1:{port}",
                    "",
                    "http://evil.example",
                    "https://127.0.0.1:{port}",
                    "//127.0.0.1:{port}",
                ]
            )
        )
        headers["Destination"] = host + draw(path)
    if method in ("PROPFIND", "PROPPATCH", "LOCK"):
        body = draw(
            st.one_of(st.just(PROPFIND_BODY), st.sampled_from(XML_BODIES), st.binary(max_size=300))
        )
    elif method == "PUT":
        body = draw(st.binary(max_size=300))
    else:
        body = draw(
            st.one_of(
                st.just(b""),
                st.just(b""),
                st.just(b""),
                st.sampled_from(XML_BODIES),
                st.binary(max_size=300),
            )
        )
    return method, draw(path), headers, body, draw(st.booleans())


def send(port: int, req) -> tuple[int, bytes]:
    method, target, headers, body, chunked = req
    headers = {k: v.replace("{port}", str(port)) for k, v in headers.items()}
    if not target.startswith(("/", "http")):
        target = "/" + target
    ans = send_raw(port, method, target, headers, body, chunked=chunked, timeout=60)
    return ans.status, ans.body


def test_generated_hostile_requests_never_5xx_nor_leave_the_prefix(s3, moto, make_gateway, bucket):
    # Failed logins are part of the generated traffic: no delay and no block here, so that
    # the throttle does not turn every later answer into 429 (test_throttle covers it).
    sec = security_setup.start(
        s3,
        moto.url,
        make_gateway,
        bucket,
        cache={"metadata_ttl": 0},
        login_max_failures=10**9,
        login_delay=0,
    )
    port = sec.gw.port
    statuses: collections.Counter[int] = collections.Counter()
    seen = {"sent": 0}
    pool = ThreadPoolExecutor(max_workers=4)

    # No shrinking: each step would resend a batch; the failing request is in the message.
    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        print_blob=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(request(), min_size=BATCH_SIZE, max_size=BATCH_SIZE))
    def batch(reqs):
        before = len(sec.proxy.snapshot())
        answers = list(pool.map(lambda r: send(port, r), reqs))
        seen["sent"] += len(reqs)
        for req, (status, body) in zip(reqs, answers, strict=True):
            statuses[status] += 1
            assert status < 500, (req, status, body[:300])
            assert b"Traceback" not in body, (req, body[:300])
        bad = outside(sec.proxy.snapshot()[before:], sec.allowed_for_ann())
        assert bad == [], (bad[:5], reqs)

    started = time.monotonic()
    try:
        batch()
    finally:
        pool.shutdown()
        sec.proxy.stop()
        elapsed = time.monotonic() - started
        s3_requests = sec.proxy.requests
        print(
            f"\nhostile fuzz: {seen['sent']} requests in {elapsed:.0f}s, statuses "
            f"{dict(sorted(statuses.items()))}, S3 requests {s3_requests}, keys touched "
            f"outside a prefix: {len(outside(sec.proxy.snapshot(), sec.allowed_for_ann()))}"
        )
    assert seen["sent"] >= BATCHES * BATCH_SIZE
    assert sum(n for s, n in statuses.items() if s >= 500) == 0
    # The generated traffic did reach S3 (so "nothing outside" is not vacuous).
    assert s3_requests > 30  # seen: 79 to 172 per run
    # The gateway is still serving, and bob's data is whole.
    assert send_raw(port, "GET", "/ann/a.txt", {"Authorization": basic("ann")}).status in (200, 404)
    assert (
        s3.get_object(Bucket=sec.main, Key="users/bob/secret.txt")["Body"].read() == b"bob's secret"
    )


pytestmark = pytest.mark.timeout(600)
