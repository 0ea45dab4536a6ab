"""S3 event notifications, the pure part (store/events.py, server/events.py helpers).

Sample bodies follow what each store sends: AWS S3's documented event (and its
s3:TestEvent), an SNS HTTP delivery and SubscriptionConfirmation as in the SNS
docs, MinIO's webhook body (top-level EventName and Key, `minio:s3`, key
QueryEscape'd), Ceph RGW's push (`ceph:s3`, key as it is).
"""

from __future__ import annotations

import json
import threading
import urllib.error
from types import SimpleNamespace

import pytest

from s3dav.server.events import confirm_subscription, token_matches, token_of
from s3dav.store.events import (
    CONFIRM,
    CREATED,
    RECORDS,
    REMOVED,
    UNSUBSCRIBED,
    Change,
    EventError,
    TooManyRecords,
    change_kind,
    deliver,
    folders_up,
    parse_body,
    stale_folders,
    subscribe_url_problem,
)
from s3dav.store.listing import DirInfo, FileInfo, Listing
from s3dav.store.listingcache import ListingCache
from s3dav.store.overlay import Overlay


def aws_record(name: str, bucket: str, key: str, **obj) -> dict:
    """A record as AWS S3 sends it (docs: notification-content-structure, version 2.1)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-west-2",
        "eventTime": "1970-01-01T00:00:00.000Z",
        "eventName": name,
        "userIdentity": {"principalId": "AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {"key": key, "sequencer": "0055AED6DCD90281E5", **obj},
        },
    }


MINIO_BODY = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "photos/2024/summer trip/a+b.jpg",
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2024-06-01T10:00:00.123Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {
                "principalId": "minioadmin",
                "region": "",
                "sourceIPAddress": "10.0.0.7",
            },
            "responseElements": {
                "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
                "x-amz-request-id": "17D9E5A1B2C3D4E5",
                "x-minio-deployment-id": "5b3d0a0e-4b0a-4f8e-9d5e-0c7b7a1f2e3d",
                "x-minio-origin-endpoint": "http://10.0.0.2:9000",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {
                    "name": "photos",
                    "ownerIdentity": {"principalId": "minioadmin"},
                    "arn": "arn:aws:s3:::photos",
                },
                "object": {
                    "key": "2024%2Fsummer+trip%2Fa%2Bb.jpg",
                    "size": 1048576,
                    "eTag": "9b2cf535f27731c974343645a3985328",
                    "contentType": "image/jpeg",
                    "userMetadata": {"content-type": "image/jpeg"},
                    "sequencer": "17D9E5A1B2C3D4E6",
                },
            },
            "source": {
                "host": "10.0.0.7",
                "port": "",
                "userAgent": "MinIO (linux; amd64) minio-go/v7.0.66 mc/RELEASE.2024-01-13",
            },
        }
    ],
}

RGW_RECORD = {
    "eventVersion": "2.1",
    "eventSource": "ceph:s3",
    "awsRegion": "us-east-1",
    "eventTime": "2019-11-22T13:47:35.124724Z",
    "eventName": "ObjectCreated:Put",
    "userIdentity": {"principalId": "tester"},
    "requestParameters": {"sourceIPAddress": ""},
    "responseElements": {
        "x-amz-request-id": "503a4c37-85eb-47cd-8681-2817e80b4281.5330.903595",
        "x-amz-id-2": "14d2-zone1-zonegroup1",
    },
    "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "mynotif1",
        "bucket": {
            "name": "mybucket1",
            "ownerIdentity": {"principalId": "tester"},
            "arn": "arn:aws:s3:us-east-1::mybucket1",
            "id": "503a4c37-85eb-47cd-8681-2817e80b4281.5332.38",
        },
        "object": {
            "key": "my image+1%.jpg",  # RGW sends the key as it is
            "size": "1024",
            "eTag": "37b51d194a7513e45b56f6524f2d51f2",
            "versionId": "",
            "sequencer": "F7E6D75DC742D108",
            "metadata": [],
            "tags": [],
        },
    },
    "eventId": "1575221657.102001.80dad3aad8584778352c68ea8f3c7d1d",
    "opaqueData": "me@example.com",
}

SNS_CONFIRM = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Message": "You have chosen to subscribe to the topic "
    "arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
    "&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic"
    "&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
    "Timestamp": "2012-04-26T20:45:04.751Z",
    "SignatureVersion": "1",
    "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7=",
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/"
    "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
}


def sns_notification(s3_doc: dict) -> dict:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(s3_doc),
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEw6JRN...",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/"
        "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe"
        "&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0",
    }


def body(doc: dict) -> bytes:
    return json.dumps(doc).encode()


# -- parsing --------------------------------------------------------------------------


def test_aws_put_with_url_encoded_key():
    doc = {
        "Records": [
            aws_record(
                "ObjectCreated:Put",
                "mybucket",
                "my+photos/Happy%2BFace+%C3%A9t%C3%A9.jpg",
                size=1024,
                eTag="d41d8cd98f00b204e9800998ecf8427e",
            )
        ]
    }
    message = parse_body(body(doc))
    assert message.kind == RECORDS
    assert message.changes == (
        Change(
            "mybucket", "my photos/Happy+Face été.jpg", CREATED, "d41d8cd98f00b204e9800998ecf8427e"
        ),
    )


def test_aws_removals_and_ignored_events():
    doc = {
        "Records": [
            aws_record("ObjectRemoved:Delete", "b", "a/x.txt"),
            aws_record("ObjectRemoved:DeleteMarkerCreated", "b", "a/y.txt"),
            aws_record("LifecycleExpiration:Delete", "b", "a/z.txt"),
            aws_record("ObjectTagging:Put", "b", "a/t.txt"),
            aws_record("ObjectRestore:Completed", "b", "a/r.txt"),
            aws_record("LifecycleTransition", "b", "a/l.txt"),
        ]
    }
    message = parse_body(body(doc))
    assert [(c.key, c.kind) for c in message.changes] == [
        ("a/x.txt", REMOVED),
        ("a/y.txt", REMOVED),
        ("a/z.txt", REMOVED),
    ]
    assert message.ignored == 3


def test_aws_test_event_is_no_change():
    doc = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2014-10-13T15:57:02.089Z",
        "Bucket": "mybucket",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    message = parse_body(body(doc))
    assert (message.kind, message.changes) == (RECORDS, ())


def test_minio_webhook_body():
    message = parse_body(body(MINIO_BODY))
    assert message.changes == (
        Change("photos", "2024/summer trip/a+b.jpg", CREATED, "9b2cf535f27731c974343645a3985328"),
    )


def test_minio_access_events_change_nothing():
    doc = json.loads(json.dumps(MINIO_BODY))
    for name in ("s3:ObjectAccessed:Get", "s3:ObjectAccessed:Head", "s3:ObjectRemoved:NoOP"):
        doc["Records"][0]["eventName"] = name
        assert parse_body(body(doc)).changes == ()


def test_rgw_key_is_taken_as_it_is():
    message = parse_body(body({"Records": [RGW_RECORD]}))
    assert message.changes == (
        Change("mybucket1", "my image+1%.jpg", CREATED, "37b51d194a7513e45b56f6524f2d51f2"),
    )
    rec = json.loads(json.dumps(RGW_RECORD))
    rec["eventName"] = "ObjectLifecycle:Expiration:Current"
    assert parse_body(body({"Records": [rec]})).changes[0].kind == REMOVED


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ObjectCreated:Put", CREATED),
        ("s3:ObjectCreated:CompleteMultipartUpload", CREATED),
        ("ObjectCreated:Copy", CREATED),
        ("s3:ObjectRemoved:Delete", REMOVED),
        ("ObjectSynced:Delete", REMOVED),
        ("ObjectSynced:Create", CREATED),
        ("ObjectLifecycle:Expiration:AbortMultipartUpload", None),
        ("s3:ObjectAccessed:Get", None),
        ("ObjectAcl:Put", None),
        ("", None),
    ],
)
def test_change_kind(name, kind):
    assert change_kind(name) == kind


def test_sns_notification_envelope():
    inner = {"Records": [aws_record("ObjectCreated:Put", "b", "dir/new+file.txt", size=3)]}
    message = parse_body(body(sns_notification(inner)))
    assert message.changes == (Change("b", "dir/new file.txt", CREATED),)


def test_sns_confirmation_and_unsubscribe():
    message = parse_body(body(SNS_CONFIRM))
    assert message.kind == CONFIRM
    assert message.subscribe_url == SNS_CONFIRM["SubscribeURL"]
    assert message.topic == "arn:aws:sns:us-west-2:123456789012:MyTopic"
    unsub = {**SNS_CONFIRM, "Type": "UnsubscribeConfirmation"}
    assert parse_body(body(unsub)).kind == UNSUBSCRIBED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "the body is not JSON"),
        (b"[1, 2]", "the body is not a JSON object"),
        (b'{"hello": 1}', "no Records"),
        (b'{"Records": {}}', "Records is not a list"),
        (b'{"Records": [1]}', "a record is not a JSON object"),
        (b'{"Records": [{"eventName": "ObjectCreated:Put"}]}', "a record has no s3 object"),
        (
            b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}',
            "no s3.bucket.name or s3.object.key",
        ),
        (
            b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},'
            b' "object": {"key": "%ff"}}}]}',
            "not URL-encoded UTF-8",
        ),
        (b'{"Type": "Notification", "Message": "{nope"}', "SNS Message is not JSON"),
        (b'{"Type": "Weird"}', "unknown Type"),
        (b'{"Type": "SubscriptionConfirmation"}', "without a SubscribeURL"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_bad_bodies(raw, reason):
    with pytest.raises(EventError, match=reason):
        parse_body(raw)


def test_record_count_is_bounded():
    doc = {"Records": [aws_record("ObjectCreated:Put", "b", f"k{i}") for i in range(11)]}
    assert len(parse_body(body(doc), max_records=11).changes) == 11
    with pytest.raises(TooManyRecords, match="11 records; at most 10"):
        parse_body(body(doc), max_records=10)


# -- SubscribeURL: only SNS's own is ever fetched ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        SNS_CONFIRM["SubscribeURL"],
        "https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=x",
        "https://sns.us-east-1.amazonaws.com:443/?Action=ConfirmSubscription&Token=x",
    ],
)
def test_sns_urls_allowed(url):
    assert subscribe_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "not https"),
        ("https://127.0.0.1:8443/?Action=ConfirmSubscription", "not on an sns"),
        ("https://localhost/?Action=ConfirmSubscription", "not on an sns"),
        ("https://sns.us-west-2.amazonaws.com.evil.example/?Action=ConfirmSubscription", "sns"),
        ("https://evil.example/sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "sns"),
        ("https://sns.us-west-2.amazonaws.com@evil.example/?Action=ConfirmSubscription", "cred"),
        ("https://sns.us-west-2.amazonaws.com:8443/?Action=ConfirmSubscription", "not on an sns"),
        ("https://sqs.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "not on an sns"),
        ("https://sns.us-west-2.amazonaws.com/?Action=Publish", "ConfirmSubscription"),
        ("https://sns.us-west-2.amazonaws.com/", "ConfirmSubscription"),
        ("file:///etc/passwd", "not https"),
        ("https://[::1/", "not a URL"),
    ],
)
def test_other_urls_refused(url, reason):
    assert reason in subscribe_url_problem(url)


def test_confirm_fetches_only_sns_urls():
    fetched = []

    def fetch(url):
        fetched.append(url)
        return 200

    assert confirm_subscription("http://127.0.0.1:9/?Action=ConfirmSubscription", fetch)
    assert fetched == []
    assert confirm_subscription(SNS_CONFIRM["SubscribeURL"], fetch) is None
    assert fetched == [SNS_CONFIRM["SubscribeURL"]]
    assert confirm_subscription(SNS_CONFIRM["SubscribeURL"], lambda u: 403) == (
        "SNS answered 403 to the confirmation"
    )

    def down(url):
        raise urllib.error.URLError("unreachable")

    assert (
        confirm_subscription(SNS_CONFIRM["SubscribeURL"], down) == "SNS did not confirm: URLError"
    )


# -- the token ---------------------------------------------------------------------------


def test_token_from_bearer_or_query():
    assert token_of({"HTTP_AUTHORIZATION": "Bearer abc"}) == "abc"
    assert token_of({"HTTP_AUTHORIZATION": "bearer  abc "}) == "abc"
    assert token_of({"QUERY_STRING": "token=q%2Bx"}) == "q+x"
    assert token_of({"HTTP_AUTHORIZATION": "Basic eDp5", "QUERY_STRING": ""}) is None
    assert token_of({}) is None
    assert token_matches("a" * 20, "a" * 20)
    assert not token_matches("a" * 19, "a" * 20)
    assert not token_matches(None, "a" * 20)
    assert not token_matches("\udcff", "a" * 20)  # not encodable: no error, no match


# -- which cached listings a change makes stale -------------------------------------------


def listing(dir_key: str, files=(), dirs=(), marker: bool = False) -> Listing:
    return Listing(
        dir_key=dir_key,
        files={n: FileInfo(key=dir_key + n, size=1, etag="e", last_modified=1.0) for n in files},
        dirs={n: DirInfo(key=dir_key + n + "/") for n in dirs},
        own_marker=FileInfo(key=dir_key, size=0, etag="m", last_modified=1.0) if marker else None,
    )


def peek_of(*listings: Listing):
    cached = {item.dir_key: item for item in listings}
    return cached.get


def test_created_in_a_known_folder_drops_only_that_folder():
    peek = peek_of(listing("p/", dirs=["a"]), listing("p/a/", files=["x"]))
    assert stale_folders("p/a/new.txt", CREATED, "p/", peek) == ["p/a/"]


def test_created_deep_drops_the_cached_folders_that_lack_it():
    peek = peek_of(listing("p/", dirs=["a"]), listing("p/a/", files=["x"]))
    # p/a/b/ and p/a/b/c/ are not cached; p/a/ lacks b; p/ has a: it stays
    assert stale_folders("p/a/b/c/new.txt", CREATED, "p/", peek) == ["p/a/b/c/", "p/a/"]
    assert stale_folders("p/n/new.txt", CREATED, "p/", peek) == ["p/n/", "p/"]


def test_created_marker_drops_its_own_listing_and_a_parent_lacking_it():
    peek = peek_of(listing("", dirs=["p"]), listing("p/", dirs=["a"]))
    assert stale_folders("p/a/", CREATED, "", peek) == ["p/a/"]
    assert stale_folders("p/new/", CREATED, "", peek) == ["p/new/", "p/"]
    assert stale_folders("p/", CREATED, "p/", peek) == ["p/"]  # the share root's own marker


def test_removed_from_a_folder_that_keeps_members():
    peek = peek_of(listing("p/", dirs=["a"]), listing("p/a/", files=["x", "y"]))
    assert stale_folders("p/a/x", REMOVED, "p/", peek) == ["p/a/"]


def test_removed_last_member_drops_the_parent_that_shows_it():
    peek = peek_of(listing("", dirs=["p"]), listing("p/", dirs=["a"]), listing("p/a/", files=["x"]))
    assert stale_folders("p/a/x", REMOVED, "", peek) == ["p/a/", "p/", ""]
    # a marker keeps the folder: nothing above changes
    marked = peek_of(listing("p/", dirs=["a"]), listing("p/a/", files=["x"], marker=True))
    assert stale_folders("p/a/x", REMOVED, "", marked) == ["p/a/"]


def test_removed_below_an_unlisted_folder_is_conservative():
    peek = peek_of(listing("p/", dirs=["a", "b"]))
    # p/a/ not cached: it may be empty now, so p/ (which shows it) goes; p/ keeps b
    assert stale_folders("p/a/x", REMOVED, "", peek) == ["p/a/", "p/"]


def test_removed_marker_and_legacy_marker():
    peek = peek_of(listing("p/", dirs=["a"]), listing("p/a/", marker=True))
    assert stale_folders("p/a/", REMOVED, "", peek) == ["p/a/", "p/"]
    legacy = peek_of(listing("", dirs=["p"]), listing("p/", dirs=["a"]))
    assert stale_folders("p/a_$folder$", REMOVED, "", legacy) == ["p/", ""]


def test_outside_the_prefix_nothing():
    assert stale_folders("q/a.txt", CREATED, "p/", peek_of()) == []
    assert stale_folders("pa.txt", CREATED, "p/", peek_of()) == []


def test_folders_up():
    assert folders_up("p/a/b/x", "p/") == ["p/a/b/", "p/a/", "p/"]
    assert folders_up("x", "") == [""]
    assert folders_up("a/", "") == ["a/", ""]


# -- deliver: every share of the bucket whose prefix holds the key --------------------------


def tree(bucket: str, prefix: str) -> SimpleNamespace:
    return SimpleNamespace(
        bucket=bucket,
        prefix=prefix,
        listings=ListingCache(ttl=300),
        overlay=Overlay(300),
        writeback=None,
        versions_changed=lambda key, whole_tree=False: None,
    )


def test_deliver_reaches_only_matching_shares():
    ann, bob, other = tree("b", "users/ann/"), tree("b", "users/bob/"), tree("c", "users/ann/")
    for t in (ann, bob, other):
        t.listings.put(listing(t.prefix, files=["old"]))
    published = []
    n = deliver(
        [Change("b", "users/ann/new.txt", CREATED)],
        [ann, bob, other],
        lambda bucket, key: published.append((bucket, key)),
    )
    assert n == 1
    assert ann.listings.get("users/ann/") is None
    assert bob.listings.get("users/bob/") is not None
    assert other.listings.get("users/ann/") is not None
    assert published == [("b", "users/ann/new.txt")]
    assert deliver([Change("b", "users/carl/x", CREATED)], [ann, bob], published.append) == 0
    assert published == [("b", "users/ann/new.txt")]  # touched no share: not published


def test_deliver_forgets_own_write_another_tool_deleted():
    t = tree("b", "")
    t.listings.put(listing("d/", files=["mine.txt"]))
    t.overlay.put_file(FileInfo(key="d/mine.txt", size=1, etag="e1", last_modified=1e12))
    assert deliver([Change("b", "d/mine.txt", REMOVED)], [t]) == 1
    assert t.overlay.file("d/mine.txt") is None


def test_deliver_skips_own_write_coming_back():
    t = tree("b", "")
    t.listings.put(listing("d/"))
    t.overlay.put_file(FileInfo(key="d/mine.txt", size=1, etag="e1", last_modified=1e12))
    assert deliver([Change("b", "d/mine.txt", CREATED, "e1")], [t]) == 0
    assert t.listings.get("d/") is not None
    assert deliver([Change("b", "d/mine.txt", CREATED, "e2")], [t]) == 1  # someone else's
    assert t.listings.get("d/") is None


def test_deliver_keeps_pending_write_back_upload():
    t = tree("b", "")
    job = SimpleNamespace(bucket="b", key="d/up.txt")
    t.writeback = SimpleNamespace(pending=lambda: [job])
    t.overlay.put_file(FileInfo(key="d/up.txt", size=1, etag="e1", last_modified=1e12))
    deliver([Change("b", "d/up.txt", REMOVED)], [t])
    assert t.overlay.file("d/up.txt") is not None


def test_deliver_makes_a_deleted_folder_real_again():
    t = tree("b", "")
    t.overlay.delete_tree("gone/")
    t.listings.put(listing("", dirs=["gone"]))
    assert "gone" not in t.overlay.apply(t.listings.get("")).dirs
    deliver([Change("b", "gone/deep/x", CREATED)], [t])
    t.listings.put(listing("", dirs=["gone"]))
    assert "gone" in t.overlay.apply(t.listings.get("")).dirs


def test_listing_in_flight_during_an_event_is_not_served_after_it():
    """A LIST sent before the event, answered after it, may predate the change: refused."""
    cache = ListingCache(ttl=300)
    sent, release = threading.Event(), threading.Event()

    def slow_list():
        fetched = listing("d/", files=["old"])  # fetched_at: when the LIST was sent
        sent.set()
        release.wait(10)
        return fetched

    worker = threading.Thread(target=cache.get_or_fetch, args=("d/", slow_list))
    worker.start()
    assert sent.wait(10)
    t = tree("b", "")
    t.listings = cache
    deliver([Change("b", "d/new", CREATED)], [t])  # the event arrives mid-LIST
    release.set()
    worker.join(10)
    assert cache.get("d/") is None  # the next request lists again
    cache.put(listing("d/", files=["old", "new"]))  # a LIST sent after the event
    assert set(cache.get("d/").files) == {"old", "new"}
