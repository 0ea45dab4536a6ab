"""The one table from S3 and network failures to the gateway's answers (as fsspec s3fs's errors.py).

Every place that turns a botocore error into an HTTP status, or asks what kind of
failure it is (missing, changed, denied, unreachable), goes through this module, so
that a new S3 error code is taught to the gateway once. Pure: no WsgiDAV here; the
dav room turns a `Failure` into a DAVError (dav/faults.py `as_s3_error`), the
store and transfer rooms only ask the predicates.
"""

from __future__ import annotations

from dataclasses import dataclass

# S3 error codes by meaning. A code may come as a name ("NoSuchKey") or, for HEAD
# requests that have no body, as the bare HTTP status ("404").
NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
NO_BUCKET = frozenset({"NoSuchBucket"})
CHANGED = frozenset({"PreconditionFailed", "412"})
DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled"})
BAD_CREDENTIALS = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"})
BUSY = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})
UNAVAILABLE_STATUS = frozenset({500, 502, 503, 504})
# An archived object (GLACIER, DEEP_ARCHIVE, an Intelligent-Tiering archive tier) that is
# not restored: GetObject answers InvalidObjectState, CopyObject ObjectNotInActiveTierError.
ARCHIVED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})
RESTORING = frozenset({"RestoreAlreadyInProgress"})
NOT_ARCHIVED = frozenset({"ObjectAlreadyInActiveTierError"})  # a restore of a readable object
# What a store answers for a request parameter it does not know (OptionalObjectAttributes).
UNKNOWN_PARAMETER = frozenset({"InvalidArgument", "NotImplemented", "InvalidRequest"})
ARCHIVED_HOW = "restore it first: PROPPATCH its s3dav:restore property (docs/CLIENTS.md)"
# Operations whose NoSuchKey means "the object an IfMatch named is gone" (a lost update).
CONDITIONAL_WRITES = frozenset({"PutObject", "CompleteMultipartUpload"})

# code -> (status, words): the answer for a failure of that kind, in the request's terms.
TABLE: dict[str, tuple[int, str]] = {
    **{c: (412, "precondition failed") for c in CHANGED},
    **{c: (403, "S3 denied access") for c in DENIED | BAD_CREDENTIALS},
    **{c: (503, "S3 is unavailable") for c in BUSY | NO_BUCKET},
    **{c: (404, "not found in S3") for c in NOT_FOUND},
    **{c: (409, f"the object is archived; {ARCHIVED_HOW}") for c in ARCHIVED},
    **{c: (409, "a restore of the object is already in progress") for c in RESTORING},
    **{c: (409, "the object is not archived: it reads without a restore") for c in NOT_ARCHIVED},
}


@dataclass(frozen=True)
class Failure:
    """What the gateway answers for a failure: an HTTP status and short words."""

    status: int
    reason: str


class WriteBackTimeout(TimeoutError):
    """Journalled uploads did not reach S3 in time (write-back flush): S3 is slow or away.

    A TimeoutError of its own, so that it is never taken for a client socket
    that stopped sending (answered 408): this one is answered 503.
    """


def s3_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ("" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def s3_status(exc: BaseException) -> int:
    """The HTTP status S3 answered with (0 when there was no answer)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_client_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError)


def is_not_found(exc: BaseException) -> bool:
    """S3 says the object (or version) does not exist."""
    return is_client_error(exc) and s3_code(exc) in NOT_FOUND


def is_changed(exc: BaseException) -> bool:
    """S3 refused a conditional request: the object is not the version asked for."""
    return is_client_error(exc) and (s3_code(exc) in CHANGED or s3_status(exc) == 412)


def is_missing_bucket(exc: BaseException) -> bool:
    """HeadBucket's answer for a bucket that does not exist (a bare 404: HEAD has no body)."""
    return is_client_error(exc) and s3_code(exc) in NO_BUCKET | NOT_FOUND


def is_denied(exc: BaseException) -> bool:
    return is_client_error(exc) and (
        s3_code(exc) in DENIED | BAD_CREDENTIALS or s3_status(exc) == 403
    )


def is_archived(exc: BaseException) -> bool:
    """S3 will not read the object until it is restored from its archive class."""
    return is_client_error(exc) and s3_code(exc) in ARCHIVED


def refuses_parameter(exc: BaseException) -> bool:
    """The store does not know an optional parameter (400/501 for a request S3 takes)."""
    return is_client_error(exc) and (
        s3_code(exc) in UNKNOWN_PARAMETER or s3_status(exc) in (400, 501)
    )


def archived_words(exc: BaseException) -> str:
    """The archived answer, naming the storage class when S3 said it."""
    error = getattr(exc, "response", {}).get("Error", {})
    where = error.get("StorageClass") or "an archive storage class"
    tier = f", {error['AccessTier']} tier" if error.get("AccessTier") else ""
    return f"the object is archived ({where}{tier}); {ARCHIVED_HOW}"


def is_unreachable(exc: BaseException) -> bool:
    """No answer from S3 at all: refused, reset, timed out (botocore's retries spent)."""
    from botocore.exceptions import ConnectionError, HTTPClientError, ReadTimeoutError

    return isinstance(exc, ConnectionError | ReadTimeoutError | HTTPClientError)


def code_failure(code: str) -> Failure | None:
    """The answer the table gives for an S3 error code, if it knows the code."""
    if code not in TABLE:
        return None
    status, words = TABLE[code]
    return Failure(status, f"{words} ({code})" if status == 503 else words)


def key_failure(code: str) -> Failure:
    """The answer for one key of a batch: DeleteObjects' <Error> entries carry only a code."""
    return code_failure(code) or Failure(500, f"S3 error {code or 'without a code'}")


def classify(exc: BaseException) -> Failure:
    """The answer for an S3, network or write-back failure."""
    if isinstance(exc, WriteBackTimeout):
        return Failure(503, "uploads to S3 are still pending; try again")
    if is_client_error(exc):
        code, status = s3_code(exc), s3_status(exc)
        if code in NOT_FOUND and getattr(exc, "operation_name", "") in CONDITIONAL_WRITES:
            # a write answers NoSuchKey only when its IfMatch names a missing object
            return Failure(412, "the object no longer exists")
        if code in ARCHIVED:
            return Failure(409, archived_words(exc))
        known = code_failure(code)
        if known is not None:
            return known
        if status == 412:
            return Failure(412, "precondition failed")
        if status == 403:
            return Failure(403, "S3 denied access")
        if status in UNAVAILABLE_STATUS:
            return Failure(503, f"S3 is unavailable ({code or status})")
        return Failure(500, f"S3 error {code or status}")
    if is_unreachable(exc):
        return Failure(503, "S3 is unreachable")
    return Failure(500, type(exc).__name__)


def operator_problem(exc: BaseException) -> str:
    """What went wrong with a bucket, in words an operator acts on (never a credential)."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    code = s3_code(exc)
    if is_client_error(exc):
        if code in NO_BUCKET | NOT_FOUND:
            return f"the bucket does not exist ({code})"
        if code in DENIED | BAD_CREDENTIALS:
            return f"access denied: check the credentials and the bucket policy ({code})"
        return code or f"S3 answered {s3_status(exc)}"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot connect to the S3 endpoint {exc.kwargs.get('endpoint_url', '')}".rstrip()
    if isinstance(exc, NoCredentialsError):
        return "no credentials found (environment, profile, instance role or the config)"
    return type(exc).__name__
