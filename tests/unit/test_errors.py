"""The one S3-error table (s3dav/errors.py) and its use by the dav room (pure logic)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from s3dav import errors
from s3dav.dav.faults import as_s3_error, map_s3_error


def client_error(code: str, status: int, op: str = "GetObject") -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, op
    )


@pytest.mark.parametrize(
    ("code", "status", "op", "answer"),
    [
        ("PreconditionFailed", 412, "GetObject", 412),
        ("", 412, "HeadObject", 412),
        ("AccessDenied", 403, "GetObject", 403),
        ("InvalidAccessKeyId", 403, "ListObjectsV2", 403),
        ("", 403, "HeadObject", 403),
        ("SlowDown", 503, "PutObject", 503),
        ("InternalError", 500, "PutObject", 503),
        ("", 502, "GetObject", 503),
        ("NoSuchBucket", 404, "ListObjectsV2", 503),
        ("NoSuchKey", 404, "GetObject", 404),
        ("404", 404, "HeadObject", 404),
        # a write's NoSuchKey: the object its IfMatch named is gone (a lost update refused)
        ("NoSuchKey", 404, "PutObject", 412),
        ("NoSuchKey", 404, "CompleteMultipartUpload", 412),
        ("MalformedXML", 400, "DeleteObjects", 500),
    ],
)
def test_client_errors_map_through_one_table(code, status, op, answer):
    failure = errors.classify(client_error(code, status, op))
    assert failure.status == answer
    dav = as_s3_error(client_error(code, status, op), "reading /a.txt")
    assert dav.value == answer
    assert str(dav.context_info).startswith("reading /a.txt: ")


def test_network_failures_are_503():
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert errors.classify(exc) == errors.Failure(503, "S3 is unreachable")
    exc = ReadTimeoutError(endpoint_url="http://127.0.0.1:1")
    assert errors.classify(exc).status == 503


def test_a_write_back_flush_timeout_is_503_not_a_client_timeout():
    """WriteBack.flush gave up on S3 (it used to raise the builtin TimeoutError, which the
    dav room answers 408 for a client that stopped sending, or 500)."""
    mapped = map_s3_error(
        errors.WriteBackTimeout("uploads below s3://b/x/ still pending"), "MOVE /x"
    )
    assert mapped.value == 503
    assert "pending" in str(mapped.context_info)
    client_gone = map_s3_error(TimeoutError("timed out"), "PUT /x")
    assert client_gone.value == 408


def test_predicates():
    assert errors.is_not_found(client_error("NoSuchKey", 404))
    assert errors.is_not_found(client_error("NotFound", 404, "HeadObject"))
    assert not errors.is_not_found(client_error("AccessDenied", 403))
    assert errors.is_changed(client_error("PreconditionFailed", 412))
    assert errors.is_changed(client_error("", 412))
    assert errors.is_missing_bucket(client_error("404", 404, "HeadBucket"))
    assert errors.is_denied(client_error("SignatureDoesNotMatch", 403, "HeadBucket"))
    assert not errors.is_not_found(ValueError("NoSuchKey"))
    assert errors.s3_code(ValueError("x")) == "" and errors.s3_status(ValueError("x")) == 0


def test_operator_problem_names_the_fix_not_the_secret():
    assert "does not exist" in errors.operator_problem(client_error("NoSuchBucket", 404))
    assert "credentials" in errors.operator_problem(client_error("InvalidAccessKeyId", 403))
    assert "no credentials" in errors.operator_problem(NoCredentialsError())
    assert "127.0.0.1:1" in errors.operator_problem(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    )
