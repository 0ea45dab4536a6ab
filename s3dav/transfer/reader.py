"""A lazy, seekable reader over one S3 object version.

No S3 request is made until the first read; then exactly one ranged GET runs
from the seek position (to the end of the client's Range when known). It is
pinned to the ETag it was opened for, so a concurrent replace can never mix
bytes of two versions into one response.
"""

from __future__ import annotations

import io

from botocore.exceptions import ClientError

from s3dav.errors import is_changed


class ObjectChanged(Exception):
    """The object was replaced while being read."""


def get_range(
    client,
    bucket: str,
    key: str,
    lo: int,
    hi: int,
    size: int,
    etag: str | None,
    version_id: str | None = None,
):
    """GetObject of bytes lo..hi (the whole object when that is all of it), pinned to
    `etag` with IfMatch, so that bytes of two versions are never mixed; or to
    `version_id` (an earlier version: it never changes, no IfMatch needed).

    ObjectChanged (from the ClientError) when the object is no longer that version.
    """
    kwargs = {"Bucket": bucket, "Key": key}
    if lo > 0 or hi < size - 1:
        kwargs["Range"] = f"bytes={lo}-{hi}"
    if version_id:
        kwargs["VersionId"] = version_id
    elif etag:
        kwargs["IfMatch"] = f'"{etag}"'
    try:
        return client.get_object(**kwargs)
    except ClientError as exc:
        if is_changed(exc):
            raise ObjectChanged(f"{key} changed while it was being read") from exc
        raise


class ObjectReader(io.RawIOBase):
    """Seek/tell bookkeeping shared by the readers of one S3 object version."""

    size: int
    _pos: int = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def _seek_target(self, offset: int, whence: int) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        return max(0, base + offset)


class RangedReader(ObjectReader):
    def __init__(
        self,
        client,
        bucket: str,
        key: str,
        size: int,
        etag: str,
        end_hint: int | None = None,
        version_id: str | None = None,  # an earlier version (S3 VersionId), not the current
    ):
        super().__init__()
        self.version_id = version_id
        self.client = client
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.end_hint = end_hint  # last byte the client asked for, inclusive
        self._pos = 0
        self._body = None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        new = self._seek_target(offset, whence)
        if new != self._pos:
            self._drop_body()
            self._pos = new
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self.size:
            return b""
        if self._body is None:
            self._open()
        data = self._body.read() if n is None or n < 0 else self._body.read(n)
        self._pos += len(data)
        return data

    def open_latest(self) -> dict:
        """GET the whole object as it is now, whatever its version; adopt that version.

        Returns the GetObject answer (ETag, size, metadata) for the caller's headers.
        """
        self._drop_body()
        resp = self.client.get_object(Bucket=self.bucket, Key=self.key)
        self._body = resp["Body"]
        self._pos = 0
        self.size = int(resp.get("ContentLength", 0))
        self.etag = resp.get("ETag", "").strip('"')
        self.end_hint = None
        return resp

    def open_now(self) -> None:
        """Send the GET at once (errors then come before the answer starts)."""
        if self._body is None and self._pos < self.size:
            self._open()

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _open(self) -> None:
        end = self.size - 1
        if self.end_hint is not None and self._pos <= self.end_hint < end:
            end = self.end_hint
        resp = get_range(
            self.client, self.bucket, self.key, self._pos, end, self.size, self.etag,
            self.version_id,
        )  # fmt: skip
        self._body = resp["Body"]

    def _drop_body(self) -> None:
        if self._body is not None:
            try:
                self._body.close()
            except Exception:  # noqa: BLE001 - closing a half-read stream
                pass
            self._body = None
