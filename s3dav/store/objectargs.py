"""The extra S3 arguments of one share: storage class and server-side encryption.

One frozen `ObjectArgs` per share says what its objects are written with
(`StorageClass`, SSE-S3, SSE-KMS with a key id, or SSE-C with a customer key);
`ShareClient` wraps the one boto3 client so that every object call a share's
tree, reader, upload or copy makes carries them. Putting them here, rather than
at each call site, is what makes "sent on every GET, HEAD, ranged read, copy
and part" true by construction: a new call site cannot forget the SSE-C key.

The argument builders are pure (unit-tested without S3). Folder markers
(`dir/`, zero bytes) keep S3's default class: in STANDARD_IA or GLACIER_IR a
zero-byte object is billed as 128 KiB.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

# The classes a PUT may name (S3's own list, less the archive-only ones a PUT
# cannot read back at once unless asked for: GLACIER and DEEP_ARCHIVE are allowed,
# the gateway then answers GETs of them as archived).
STORAGE_CLASSES = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
SSE_MODES = ("none", "AES256", "aws:kms")
SSE_C_ALGORITHM = "AES256"
SSE_C_KEY_BYTES = 32


def decode_sse_c_key(text: str) -> bytes:
    """The 32-byte SSE-C key from its base64 text; ValueError naming the problem."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64") from None
    if len(key) != SSE_C_KEY_BYTES:
        raise ValueError(f"must decode to {SSE_C_KEY_BYTES} bytes, got {len(key)}")
    return key


@dataclass(frozen=True)
class ObjectArgs:
    """What a share's object calls carry besides bucket and key."""

    storage_class: str | None = None  # None: S3's default (STANDARD)
    sse: str | None = None  # "AES256" (SSE-S3) or "aws:kms"; None: the bucket's default
    kms_key_id: str | None = None  # with sse "aws:kms"; None: the account's aws/s3 key
    sse_c_key: bytes | None = field(default=None, repr=False)  # 32 bytes: SSE-C

    @property
    def any(self) -> bool:
        return bool(self.storage_class or self.sse or self.sse_c_key)

    def read_args(self) -> dict:
        """GetObject, HeadObject, UploadPart, CompleteMultipartUpload: the SSE-C key, if any."""
        if self.sse_c_key is None:
            return {}
        return {"SSECustomerAlgorithm": SSE_C_ALGORITHM, "SSECustomerKey": self.sse_c_key}

    def copy_source_args(self) -> dict:
        """CopyObject, UploadPartCopy: how to read the source (the share's own objects)."""
        if self.sse_c_key is None:
            return {}
        return {
            "CopySourceSSECustomerAlgorithm": SSE_C_ALGORITHM,
            "CopySourceSSECustomerKey": self.sse_c_key,
        }

    def put_args(self, key: str = "") -> dict:
        """PutObject, CreateMultipartUpload: storage class and encryption of a new object."""
        out: dict = {}
        if self.storage_class and not key.endswith("/"):
            out["StorageClass"] = self.storage_class
        if self.sse:
            out["ServerSideEncryption"] = self.sse
            if self.sse == "aws:kms" and self.kms_key_id:
                out["SSEKMSKeyId"] = self.kms_key_id
        out.update(self.read_args())
        return out

    def copy_args(self, key: str = "") -> dict:
        """CopyObject: the new object's arguments, and the source's key."""
        return {**self.put_args(key), **self.copy_source_args()}

    def part_copy_args(self) -> dict:
        """UploadPartCopy: the destination upload's SSE-C key and the source's."""
        return {**self.read_args(), **self.copy_source_args()}


# Operation (boto3 method) -> which arguments it takes; the caller's own win.
def args_for(method: str, args: ObjectArgs, key: str) -> dict:
    if method in ("put_object", "create_multipart_upload"):
        return args.put_args(key)
    if method == "copy_object":
        return args.copy_args(key)
    if method == "upload_part_copy":
        return args.part_copy_args()
    if method in ("get_object", "head_object", "upload_part", "complete_multipart_upload"):
        return args.read_args()
    return {}


WRAPPED = (
    "put_object",
    "create_multipart_upload",
    "copy_object",
    "upload_part_copy",
    "get_object",
    "head_object",
    "upload_part",
    "complete_multipart_upload",
)


class ShareClient:
    """The boto3 client as one share uses it: its ObjectArgs on every object call.

    Arguments the caller passes win (a copy names the source's storage class).
    Everything else (listings, deletes, restore, presigning, `meta`) is the
    client's own. Presigned URLs carry none of this: a browser cannot send the
    SSE-C headers, so config.py refuses `downloads: redirect` with SSE-C.
    """

    def __init__(self, client, args: ObjectArgs) -> None:
        self._client = client
        self.object_args = args
        for method in WRAPPED:
            setattr(self, method, self._wrap(method))

    def _wrap(self, method: str):
        call = getattr(self._client, method)
        args = self.object_args

        def with_args(**kw):
            return call(**{**args_for(method, args, str(kw.get("Key", ""))), **kw})

        with_args.__name__ = method
        return with_args

    def __getattr__(self, name: str):
        return getattr(self._client, name)


def share_client(client, args: ObjectArgs):
    """`client` itself when the share adds nothing (no wrapper on the common path)."""
    return ShareClient(client, args) if args.any else client
