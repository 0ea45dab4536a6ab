"""Pure parts of issue 16 items 2 and 3: a share's object arguments, their config,
the restore value, the archived answer (the S3 side is in tests/integration)."""

from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError

from s3dav.config import ConfigError, build
from s3dav.dav.archive import parse_restore
from s3dav.errors import classify, refuses_parameter
from s3dav.store.listing import restore_header_state, restore_state
from s3dav.store.objectargs import ObjectArgs, ShareClient, decode_sse_c_key, share_client

KEY = bytes(range(32))
SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
SOURCE_C = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY}


def test_arguments_per_call():
    args = ObjectArgs(storage_class="STANDARD_IA", sse="aws:kms", kms_key_id="k1")
    assert args.put_args("a.txt") == {
        "StorageClass": "STANDARD_IA",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "k1",
    }
    assert "StorageClass" not in args.put_args("dir/")  # markers stay STANDARD
    assert args.read_args() == {}
    assert args.copy_args("a.txt") == args.put_args("a.txt")
    c = ObjectArgs(sse_c_key=KEY)
    assert c.read_args() == SSE_C
    assert c.put_args("a") == SSE_C
    assert c.copy_args("a") == {**SSE_C, **SOURCE_C}
    assert c.part_copy_args() == {**SSE_C, **SOURCE_C}
    assert "SSECustomerKey" not in repr(c) and str(list(KEY)) not in repr(c)
    assert ObjectArgs(sse="AES256").put_args("a") == {"ServerSideEncryption": "AES256"}


class Recorder:
    """Stands for boto3's client: records each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, name):
        return lambda **kw: self.calls.append((name, kw)) or {}


def test_share_client_adds_arguments_and_the_caller_wins():
    raw = Recorder()
    client = ShareClient(raw, ObjectArgs(storage_class="GLACIER_IR", sse_c_key=KEY))
    client.get_object(Bucket="b", Key="k", Range="bytes=0-1")
    client.copy_object(Bucket="b", Key="k", CopySource={}, StorageClass="STANDARD")
    client.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=b"")
    client.delete_objects(Bucket="b", Delete={})
    client.list_objects_v2(Bucket="b")
    assert raw.calls[0] == (
        "get_object",
        {**SSE_C, "Bucket": "b", "Key": "k", "Range": "bytes=0-1"},
    )
    assert raw.calls[1][1]["StorageClass"] == "STANDARD" and raw.calls[1][1]["SSECustomerKey"]
    assert raw.calls[1][1]["CopySourceSSECustomerKey"] == KEY
    assert raw.calls[2][1]["SSECustomerKey"] == KEY and "StorageClass" not in raw.calls[2][1]
    assert raw.calls[3] == ("delete_objects", {"Bucket": "b", "Delete": {}})
    assert raw.calls[4] == ("list_objects_v2", {"Bucket": "b"})
    assert share_client(raw, ObjectArgs()) is raw  # nothing to add: no wrapper


def test_sse_c_key_decoding():
    assert decode_sse_c_key(base64.b64encode(KEY).decode()) == KEY
    with pytest.raises(ValueError, match="base64"):
        decode_sse_c_key("not base64!")
    with pytest.raises(ValueError, match="32 bytes"):
        decode_sse_c_key(base64.b64encode(b"short").decode())


def one(share: dict, environ: dict | None = None):
    return build({"shares": [{"bucket": "b", **share}]}, environ=environ or {}).shares[0]


def test_config_builds_object_args():
    assert one({}).objects == ObjectArgs()
    assert one({"storage_class": "INTELLIGENT_TIERING"}).objects.storage_class == (
        "INTELLIGENT_TIERING"
    )
    kms = one({"sse": "aws:kms", "sse_kms_key_id": "arn:k"}).objects
    assert (kms.sse, kms.kms_key_id) == ("aws:kms", "arn:k")
    env = {"S3DAV_SSE_C_KEY": base64.b64encode(KEY).decode()}
    assert one({"sse_c_key_env": "S3DAV_SSE_C_KEY"}, env).objects.sse_c_key == KEY


@pytest.mark.parametrize(
    ("share", "environ", "words"),
    [
        ({"storage_class": "COLD"}, {}, "storage_class: must be one of"),
        ({"sse": "rot13"}, {}, "sse: must be one of"),
        ({"sse_kms_key_id": "k"}, {}, "needs sse: aws:kms"),
        ({"sse_c_key_env": "K"}, {}, "environment variable K is not set"),
        ({"sse_c_key_env": "K"}, {"K": "%%%"}, "K is not base64"),
        ({"sse_c_key_env": "K"}, {"K": "c2hvcnQ="}, "K must decode to 32 bytes"),
        ({"sse_c_key_env": "K", "sse": "AES256"}, {"K": "%%%"}, "SSE-C excludes sse"),
        ({"sse_c_key_env": "K", "downloads": "redirect"}, {}, "redirect cannot be used"),
    ],
)
def test_config_refuses_bad_object_settings(share, environ, words):
    with pytest.raises(ConfigError, match=words) as info:
        one(share, environ)
    for value in environ.values():
        assert value not in str(info.value)  # a key is a secret: never in the error


def test_shares_of_one_store_agree_on_how_objects_are_written():
    shares = [
        {"path": "/a", "bucket": "b", "storage_class": "STANDARD_IA"},
        {"path": "/c", "bucket": "b"},
    ]
    with pytest.raises(ConfigError, match="different storage_class or encryption"):
        build({"shares": shares}, environ={})
    shares[1]["prefix"] = "other/"
    build({"shares": shares}, environ={})


def test_an_s3dav_named_key_variable_is_no_setting(tmp_path):
    from s3dav.config import load

    path = tmp_path / "c.yaml"
    path.write_text("shares: [{bucket: b, sse_c_key_env: S3DAV_SSE_C_KEY}]\n")
    env = {"S3DAV_SSE_C_KEY": base64.b64encode(KEY).decode()}
    assert load(str(path), {}, env).shares[0].objects.sse_c_key == KEY


def test_restore_value():
    assert parse_restore("7") == (7, None)
    assert parse_restore(" 2 bulk ") == (2, "Bulk")
    for bad in ("", "x", "0", "1 2 3", "3 Fast", "-1"):
        with pytest.raises(ValueError):
            parse_restore(bad)


def test_restore_states():
    assert restore_state(None) is None
    assert restore_state({"IsRestoreInProgress": True}) == "restoring"
    assert restore_state({"IsRestoreInProgress": False, "RestoreExpiryDate": 1}) == "restored"
    assert restore_header_state('ongoing-request="true"') == "restoring"
    assert restore_header_state('ongoing-request="false", expiry-date="x"') == "restored"
    assert restore_header_state(None) is None


def error(code: str, status: int, **more) -> ClientError:
    body = {"Error": {"Code": code, **more}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(body, "GetObject")


def test_archived_answer_names_the_class_and_the_way_out():
    failure = classify(error("InvalidObjectState", 403, StorageClass="DEEP_ARCHIVE"))
    assert failure.status == 409
    assert "DEEP_ARCHIVE" in failure.reason and "s3dav:restore" in failure.reason
    assert classify(error("ObjectNotInActiveTierError", 403)).status == 409
    assert classify(error("RestoreAlreadyInProgress", 409)).status == 409
    assert refuses_parameter(error("InvalidArgument", 400))
    assert not refuses_parameter(error("AccessDenied", 403))
