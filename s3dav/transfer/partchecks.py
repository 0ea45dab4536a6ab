"""Integrity of multipart parts: a CRC32 per part where the store takes it, else Content-MD5.

Concurrency: one `PartChecksums` is shared by all uploads of a gateway. Its one
field, `enabled`, only ever goes from True to False (a store refused the
algorithm); a racing upload that still read True is refused once more and
falls back the same way, so no lock is needed.
"""

from __future__ import annotations

import base64
import logging
import zlib

from botocore.exceptions import ClientError

from s3dav.errors import s3_code, s3_status

_log = logging.getLogger(__name__)

# How a store answers CreateMultipartUpload when it does not know
# x-amz-checksum-algorithm; the upload then goes on without part checksums.
CHECKSUM_REFUSED = {"InvalidArgument", "InvalidRequest", "NotImplemented", "BadRequest"}
CHECKSUM_REFUSED_STATUS = {400, 501}


def part_md5_needed(client, crc32: bool) -> bool:
    """Whether parts need a Content-MD5 for integrity.

    Over plain HTTP botocore signs every body with its SHA-256, which S3
    checks; a second hash of each part would only cost CPU. Over HTTPS the
    body is not signed, so a part needs a Content-MD5 unless it carries a CRC32.
    """
    url = getattr(getattr(client, "meta", None), "endpoint_url", "") or ""
    return not crc32 and not url.startswith("http://")


def crc32_b64(data: bytes) -> str:
    """The part checksum as S3 takes it in x-amz-checksum-crc32."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


class PartChecksums:
    """Whether multipart uploads carry a CRC32 per part (`s3.part_checksums`).

    S3 then checks every part and keeps a composite checksum, as it does for
    boto3's and the AWS CLI's uploads. A store that refuses the checksum
    algorithm on the first CreateMultipartUpload turns this off for the gateway
    (app.py makes one for all its shares).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def refused(self, exc: ClientError) -> bool:
        """True (and off from now on) when `exc` is a store refusing the checksum."""
        code, status = s3_code(exc), s3_status(exc)
        if not self.enabled or (
            code not in CHECKSUM_REFUSED and status not in CHECKSUM_REFUSED_STATUS
        ):
            return False
        _log.warning(
            "the S3 store refused part checksums (%s %s); uploads go on without them",
            status, code,
        )  # fmt: skip
        self.enabled = False
        return True
