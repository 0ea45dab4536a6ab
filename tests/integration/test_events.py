"""Changes by other tools seen at once (issue 15, item 3): S3 event notifications.

Against the running gateway: objects are written and deleted straight in S3
(boto3, as another tool would), then the test posts the event as MinIO's
webhook target does (Authorization: Bearer, MinIO's body) or as SNS does
(?token=, an SNS envelope). S3 request counts come from /metrics.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote_plus

import pytest

from s3dav.passwords import hash_password
from tests.support.helpers import hrefs, propfind

TOKEN = "events-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

# Long enough that no cached listing expires by itself during a test.
SLOW_CACHE = {"metadata_ttl": "600s", "readahead_folders": 0}


def minio_event(bucket: str, key: str, name: str = "s3:ObjectCreated:Put", etag: str = "") -> bytes:
    """A MinIO webhook body (top-level EventName and Key; the record's key QueryEscape'd)."""
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2024-06-01T10:00:00.123Z",
        "eventName": name,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "::1"},
        "responseElements": {"x-amz-request-id": "17D9E5A1B2C3D4E5"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": 5, "eTag": etag, "sequencer": "17D9"},
        },
        "source": {"host": "::1", "port": "", "userAgent": "MinIO (linux; amd64)"},
    }
    return json.dumps({"EventName": name, "Key": f"{bucket}/{key}", "Records": [record]}).encode()


def sns_envelope(kind: str, **fields) -> bytes:
    return json.dumps(
        {
            "Type": kind,
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
            "Timestamp": "2012-04-26T20:45:04.751Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem",
            **fields,
        }
    ).encode()


def post_event(gw, data: bytes, headers=None, query: str = ""):
    headers = BEARER if headers is None else headers
    return gw.request("POST", "/_s3dav/events" + query, data=data, headers=headers)


def listed(gw, path: str, **kw) -> list[str]:
    r = propfind(gw, path, **kw)
    assert r.status_code == 207, r.text
    return hrefs(r.text)


@pytest.fixture
def evgw(make_gateway, bucket, s3):
    """A gateway with events on, /dir/ listed (and so cached) with one file."""
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"a")
    gw = make_gateway(bucket, config={"events": {"token": TOKEN}, "cache": dict(SLOW_CACHE)})
    assert listed(gw, "/dir/") == ["/dir/", "/dir/a.txt"]
    return gw


def test_created_file_is_listed_after_its_event(evgw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="dir/new file.txt", Body=b"hello")
    before = evgw.s3_counts()
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt"]  # cached: not seen yet
    assert evgw.s3_delta(before) == {}
    started = time.monotonic()
    r = post_event(evgw, minio_event(bucket, "dir/new file.txt"))
    print(f"\nPOST /_s3dav/events answered in {(time.monotonic() - started) * 1000:.1f} ms")
    assert r.status_code == 200, r.text
    assert r.text == "200 OK: POST /_s3dav/events: 1 changes, 1 listings dropped\n"
    assert evgw.s3_delta(before) == {}, "learning of the change costs no S3 request"
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt", "/dir/new file.txt"]
    # The folder's LIST, and the HEAD any unseen object costs (x-amz-meta-mtime).
    assert evgw.s3_delta(before) == {"LIST": 1, "HEAD": 1}
    assert evgw.request("GET", "/dir/new file.txt").content == b"hello"


def test_removed_file_vanishes_after_its_event(evgw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="dir/b.txt", Body=b"b")
    post_event(evgw, minio_event(bucket, "dir/b.txt"))
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt", "/dir/b.txt"]
    s3.delete_object(Bucket=bucket, Key="dir/b.txt")
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt", "/dir/b.txt"]  # cached
    before = evgw.s3_counts()
    r = post_event(evgw, minio_event(bucket, "dir/b.txt", "s3:ObjectRemoved:Delete"))
    assert r.status_code == 200, r.text
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt"]
    assert evgw.s3_delta(before) == {"LIST": 1}  # dir/ keeps a.txt: its parent is not listed
    assert evgw.request("GET", "/dir/b.txt").status_code == 404


def test_own_file_deleted_by_another_tool_vanishes(evgw, bucket, s3):
    """The overlay of own writes must not keep showing a file someone else deleted."""
    assert evgw.request("PUT", "/dir/mine.txt", data=b"mine").status_code == 201
    evgw.settle()
    s3.delete_object(Bucket=bucket, Key="dir/mine.txt")
    assert "/dir/mine.txt" in listed(evgw, "/dir/")
    r = post_event(evgw, minio_event(bucket, "dir/mine.txt", "s3:ObjectRemoved:Delete"))
    assert r.status_code == 200, r.text
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt"]


def test_own_write_coming_back_as_an_event_costs_nothing(evgw, bucket, s3):
    assert evgw.request("PUT", "/dir/mine.txt", data=b"mine").status_code == 201
    evgw.settle()
    etag = s3.head_object(Bucket=bucket, Key="dir/mine.txt")["ETag"].strip('"')
    assert "/dir/mine.txt" in listed(evgw, "/dir/")
    before = evgw.s3_counts()
    r = post_event(evgw, minio_event(bucket, "dir/mine.txt", etag=etag))
    assert r.text.endswith("1 changes, 0 listings dropped\n"), r.text
    assert "/dir/mine.txt" in listed(evgw, "/dir/")
    assert evgw.s3_delta(before) == {}


def test_folder_made_by_another_tool_is_found_after_its_event(evgw, bucket, s3):
    """The case of the issue: s3fs's mkdir (a `name/` marker) answered 404 for up to 30 s."""
    assert evgw.request("PROPFIND", "/made", headers={"Depth": "0"}).status_code == 404
    s3.put_object(
        Bucket=bucket,
        Key="made/",
        Body=b"",
        ContentType="application/x-directory",
        Metadata={"mode": "493", "mtime": "1700000000"},
    )
    assert evgw.request("PROPFIND", "/made", headers={"Depth": "0"}).status_code == 404
    before = evgw.s3_counts()
    r = post_event(evgw, minio_event(bucket, "made/"))
    assert r.text.endswith("1 changes, 1 listings dropped\n"), r.text  # the root
    assert evgw.s3_delta(before) == {}
    assert listed(evgw, "/made/") == ["/made/"]
    # The folder's own LIST (its marker proves it; no LIST of the root), its marker's HEAD.
    assert evgw.s3_delta(before) == {"LIST": 1, "HEAD": 1}


def test_file_deep_in_a_new_folder(evgw, bucket, s3):
    assert listed(evgw, "/", headers={"Depth": "1"}) == ["/", "/dir/"]
    s3.put_object(Bucket=bucket, Key="new/deep/x.txt", Body=b"x")
    assert listed(evgw, "/") == ["/", "/dir/"]
    before = evgw.s3_counts()
    post_event(evgw, minio_event(bucket, "new/deep/x.txt"))
    assert listed(evgw, "/") == ["/", "/dir/", "/new/"]
    assert evgw.s3_delta(before) == {"LIST": 1}  # the root only: dir/ is still cached


def test_wrong_or_missing_token_changes_nothing(evgw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="dir/new.txt", Body=b"n")
    body = minio_event(bucket, "dir/new.txt")
    r = post_event(evgw, body, headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert r.status_code == 403, r.text
    assert r.text == "403 Forbidden: POST /_s3dav/events: wrong events token\n"
    r = post_event(evgw, body, headers={}, query="?token=" + "x" * len(TOKEN))
    assert r.status_code == 403
    r = post_event(evgw, body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="s3dav events"'
    before = evgw.s3_counts()
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt"]
    assert evgw.s3_delta(before) == {}


def test_wrong_tokens_count_in_the_login_throttle(make_gateway, bucket):
    gw = make_gateway(
        bucket,
        config={
            "events": {"token": TOKEN},
            "server": {"login_max_failures": 2, "login_delay": "0.01s", "login_block": "5min"},
        },
    )
    wrong = {"Authorization": "Bearer " + "w" * len(TOKEN)}
    assert [post_event(gw, b"{}", headers=wrong).status_code for _ in range(2)] == [403, 403]
    r = post_event(gw, minio_event(bucket, "x"))  # the right token, from a blocked address
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) > 0


def test_bad_requests(evgw, bucket):
    r = post_event(evgw, b"this is not json")
    assert (r.status_code, r.text) == (
        400,
        "400 Bad Request: POST /_s3dav/events: the body is not JSON\n",
    )
    r = post_event(evgw, b'{"Records": [{"eventName": "s3:ObjectCreated:Put"}]}')
    assert (r.status_code, r.text) == (
        400,
        "400 Bad Request: POST /_s3dav/events: a record has no s3 object\n",
    )
    r = post_event(evgw, b"{" + b" " * (1024**2) + b"}")
    assert r.status_code == 413, r.text
    many = json.loads(minio_event(bucket, "dir/x"))
    many["Records"] *= 1001
    r = post_event(evgw, json.dumps(many).encode())
    assert r.status_code == 413
    assert "1001 records; at most 1000" in r.text
    r = evgw.request("GET", "/_s3dav/events", headers=BEARER)
    assert (r.status_code, r.headers["Allow"]) == (405, "POST, HEAD")
    assert (
        evgw.request("HEAD", "/_s3dav/events", headers=BEARER).status_code == 200
    )  # MinIO's probe
    assert evgw.request("HEAD", "/_s3dav/events").status_code == 401
    assert evgw.request("PROPFIND", "/_s3dav/events", headers=BEARER).status_code == 405
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt"]  # the gateway still serves


def test_events_off_without_a_token(make_gateway, bucket):
    gw = make_gateway(bucket)
    r = post_event(gw, minio_event(bucket, "x"))
    assert r.status_code == 404
    assert (
        r.text == "404 Not Found: POST /_s3dav/events: events are off (events.token is not set)\n"
    )


def test_other_bucket_or_prefix_is_not_invalidated(make_gateway, bucket, s3):
    """An event reaches every share of its bucket whose prefix holds the key, no other."""
    for key in ("users/ann/a.txt", "users/bob/b.txt", "other/o.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    gw = make_gateway(
        config={
            "events": {"token": TOKEN},
            "cache": dict(SLOW_CACHE),
            "shares": [
                {"path": "/ann", "bucket": bucket, "prefix": "users/ann/"},
                {"path": "/users", "bucket": bucket, "prefix": "users/"},
                {"path": "/bob", "bucket": bucket, "prefix": "users/bob/"},
            ],
        }
    )
    assert listed(gw, "/ann/") == ["/ann/", "/ann/a.txt"]
    assert listed(gw, "/users/ann/") == ["/users/ann/", "/users/ann/a.txt"]
    assert listed(gw, "/bob/") == ["/bob/", "/bob/b.txt"]
    s3.put_object(Bucket=bucket, Key="users/ann/new.txt", Body=b"n")
    s3.put_object(Bucket=bucket, Key="other/new.txt", Body=b"n")
    before = gw.s3_counts()
    # A bucket of another name; a key outside every share's prefix: nothing here shows them.
    r = post_event(gw, minio_event("some-other-bucket", "users/ann/new.txt"))
    assert r.text.endswith("1 changes, 0 listings dropped\n"), r.text
    r = post_event(gw, minio_event(bucket, "other/new.txt"))
    assert r.text.endswith("1 changes, 0 listings dropped\n"), r.text
    assert listed(gw, "/ann/") == ["/ann/", "/ann/a.txt"]
    assert listed(gw, "/users/ann/") == ["/users/ann/", "/users/ann/a.txt"]
    assert gw.s3_delta(before) == {}
    # ann's key: both shares that show it drop their listing of users/ann/; bob's stays.
    r = post_event(gw, minio_event(bucket, "users/ann/new.txt"))
    assert r.text.endswith("1 changes, 2 listings dropped\n"), r.text
    assert listed(gw, "/ann/") == ["/ann/", "/ann/a.txt", "/ann/new.txt"]
    assert listed(gw, "/users/ann/") == ["/users/ann/", "/users/ann/a.txt", "/users/ann/new.txt"]
    assert listed(gw, "/bob/") == ["/bob/", "/bob/b.txt"]
    # One LIST per share (each caches its own listings) and, as each share has its own
    # store (the prefix is part of it), one HEAD per share for the unseen object.
    assert gw.s3_delta(before) == {"LIST": 2, "HEAD": 2}


def test_sns_notification_with_query_token(evgw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="dir/from aws.txt", Body=b"aws")
    record = json.loads(minio_event(bucket, "dir/from aws.txt", "ObjectCreated:Put"))["Records"]
    record[0]["eventSource"] = "aws:s3"
    body = sns_envelope(
        "Notification",
        Subject="Amazon S3 Notification",
        Message=json.dumps({"Records": record}),
    )
    r = post_event(
        evgw, body, headers={"x-amz-sns-message-type": "Notification"}, query="?token=" + TOKEN
    )
    assert r.status_code == 200, r.text
    assert listed(evgw, "/dir/") == ["/dir/", "/dir/a.txt", "/dir/from aws.txt"]
    assert TOKEN not in evgw.log()  # the access log has the path, not the query


class CountingServer:
    """A loopback HTTP server that counts the requests it gets (it must get none)."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_sns_confirmation_fetches_no_other_url(evgw):
    target = CountingServer()
    try:
        for url in (
            f"http://127.0.0.1:{target.port}/?Action=ConfirmSubscription&Token=t",
            f"https://127.0.0.1:{target.port}/?Action=ConfirmSubscription&Token=t",
            f"http://sns.us-west-2.amazonaws.com@127.0.0.1:{target.port}/?Action=ConfirmSubscription",
        ):
            body = sns_envelope("SubscriptionConfirmation", Token="t", SubscribeURL=url)
            r = post_event(evgw, body, headers={}, query="?token=" + TOKEN)
            assert r.status_code == 400, r.text
            assert "SubscribeURL" in r.text
        unsub = sns_envelope("UnsubscribeConfirmation", Token="t", SubscribeURL="http://x/")
        r = post_event(evgw, unsub, headers={}, query="?token=" + TOKEN)
        assert (r.status_code, r.text) == (200, "200 OK: POST /_s3dav/events: unsubscribed\n")
        assert target.hits == []
    finally:
        target.stop()


def test_no_webdav_login_needed(make_gateway, bucket, s3):
    """With server.auth basic the endpoint takes its token, not a user's password."""
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    password = "ann-Pa55word-7x"
    gw = make_gateway(
        config={
            "server": {"auth": "basic"},
            "users": {"ann": {"password_hash": hash_password(password)}},
            "events": {"token": TOKEN},
            "cache": dict(SLOW_CACHE),
            "shares": [{"path": "/", "bucket": bucket, "users": ["ann"]}],
        }
    )
    assert listed(gw, "/", auth=("ann", password)) == ["/", "/a.txt"]
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"b")
    r = post_event(gw, minio_event(bucket, "b.txt"))
    assert r.status_code == 200, r.text
    assert post_event(gw, minio_event(bucket, "b.txt"), headers={}).status_code == 401
    assert listed(gw, "/", auth=("ann", password)) == ["/", "/a.txt", "/b.txt"]


REPLICA_BOUND = 2.0  # seconds for Redis pub/sub to carry the change to the other replica


def test_event_posted_to_one_replica_reaches_the_other(make_gateway, bucket, s3, redis_url):
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"a")

    def config() -> dict:
        return {
            "events": {"token": TOKEN},
            "cache": dict(SLOW_CACHE),
            "locks": {"storage": redis_url},
        }

    a = make_gateway(bucket, config=config(), name="a")
    b = make_gateway(bucket, config=config(), name="b")
    for gw in (a, b):
        assert listed(gw, "/dir/") == ["/dir/", "/dir/a.txt"]
    s3.put_object(Bucket=bucket, Key="dir/new.txt", Body=b"n")
    assert listed(b, "/dir/") == ["/dir/", "/dir/a.txt"]
    assert post_event(a, minio_event(bucket, "dir/new.txt")).status_code == 200
    assert listed(a, "/dir/") == ["/dir/", "/dir/a.txt", "/dir/new.txt"]
    started = time.monotonic()
    while "/dir/new.txt" not in listed(b, "/dir/"):
        assert time.monotonic() - started < REPLICA_BOUND, "the other replica never saw it"
        time.sleep(0.02)
    print(f"\nother replica lists it {(time.monotonic() - started) * 1000:.0f} ms after the event")


def test_event_reaches_the_other_replicas_listings_above_the_key(
    make_gateway, bucket, s3, redis_url
):
    """A file in a new folder, then the last file of a folder gone: the other replica's
    listing of the folder above shows the folder come and go, not only the key's parent."""
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"a")
    config = {
        "events": {"token": TOKEN},
        "cache": dict(SLOW_CACHE),
        "locks": {"storage": redis_url},
    }
    a = make_gateway(bucket, config=json.loads(json.dumps(config)), name="a")
    b = make_gateway(bucket, config=json.loads(json.dumps(config)), name="b")

    def b_lists(path: str, want: list[str]) -> None:
        started = time.monotonic()
        while (got := listed(b, path)) != want:
            assert time.monotonic() - started < REPLICA_BOUND, f"the other replica shows {got}"
            time.sleep(0.02)

    for gw in (a, b):
        assert listed(gw, "/") == ["/", "/dir/"]
    s3.put_object(Bucket=bucket, Key="new/deep/f.txt", Body=b"f")
    assert post_event(a, minio_event(bucket, "new/deep/f.txt")).status_code == 200
    assert listed(a, "/") == ["/", "/dir/", "/new/"]
    b_lists("/", ["/", "/dir/", "/new/"])
    s3.delete_object(Bucket=bucket, Key="dir/a.txt")
    r = post_event(a, minio_event(bucket, "dir/a.txt", name="s3:ObjectRemoved:Delete"))
    assert r.status_code == 200, r.text
    assert listed(a, "/") == ["/", "/new/"]
    b_lists("/", ["/", "/new/"])


@pytest.fixture
def s3fs_mnt(tmp_path):
    """A mount point; unmounted afterwards whatever happened."""
    from tests.support.mounts import unmount

    mnt = tmp_path / "s3fs"
    yield mnt
    unmount(mnt)


@pytest.mark.mount
def test_folder_made_through_s3fs(evgw, moto, bucket, s3, tmp_path, s3fs_mnt):
    """The issue's case with the real tool: mkdir on an s3fs mount of the same bucket."""
    from tests.support.mounts import mount_s3fs, unmount

    assert evgw.request("PROPFIND", "/from-s3fs", headers={"Depth": "0"}).status_code == 404
    mount_s3fs(moto.url, bucket, s3fs_mnt, tmp_path)
    (s3fs_mnt / "from-s3fs").mkdir()
    unmount(s3fs_mnt)
    head = s3.head_object(Bucket=bucket, Key="from-s3fs/")
    assert head["ContentType"] == "application/x-directory"
    assert evgw.request("PROPFIND", "/from-s3fs", headers={"Depth": "0"}).status_code == 404
    before = evgw.s3_counts()
    r = post_event(evgw, minio_event(bucket, "from-s3fs/", etag=head["ETag"].strip('"')))
    assert r.status_code == 200, r.text
    assert evgw.s3_delta(before) == {}
    started = time.monotonic()
    assert listed(evgw, "/from-s3fs/") == ["/from-s3fs/"]
    took = (time.monotonic() - started) * 1000
    print(
        f"\nfolder made through s3fs: listed by the first PROPFIND after the event ({took:.0f} ms)"
    )
    assert evgw.s3_delta(before) == {"LIST": 1, "HEAD": 1}  # its own LIST, its marker's HEAD
