"""Multipart uploads nobody will finish: aborted at start, and again every so often.

A gateway killed mid-PUT (or a client of another tool that gave up) leaves a
multipart upload open: invisible, but its parts are billed until someone
aborts it. The gateway aborts those under its shares' prefixes that are older
than `s3.abort_stale_uploads_after`, once at start and then every
`s3.abort_stale_uploads_every`, so a gateway that runs for months cleans up
too. Uploads this gateway is still sending (a 1 TB file can take a day) are
never touched: the gateway keeps their ids (transfer/uploads.py `InFlightUploads`,
whose `ids` app.py hands to the sweeper as `keep`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

_log = logging.getLogger(__name__)


def abort_stale_uploads(
    client,
    bucket: str,
    prefix: str,
    older_than: float,
    keep: Callable[[], Iterable[str]] = frozenset,
) -> int:
    """Abort multipart uploads under `prefix` started more than `older_than` seconds ago,
    except those whose id is in `keep()` (read after the listing, so an upload created
    while it ran is kept too). Returns how many were aborted. Failures are logged,
    never raised: cleaning up must not stop the gateway."""
    aborted = 0
    limit = time.time() - older_than
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    try:
        while True:
            page = client.list_multipart_uploads(**kwargs)
            own = set(keep())
            for up in page.get("Uploads", []) or []:
                initiated = up.get("Initiated")
                at = initiated.timestamp() if isinstance(initiated, datetime) else 0.0
                if at > limit or up["UploadId"] in own:
                    continue
                try:
                    client.abort_multipart_upload(
                        Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"]
                    )
                    aborted += 1
                except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                    _log.warning("could not abort stale upload of %s: %s", up["Key"], exc)
            if not page.get("IsTruncated"):
                break
            kwargs["KeyMarker"] = page.get("NextKeyMarker", "")
            kwargs["UploadIdMarker"] = page.get("NextUploadIdMarker", "")
    except Exception as exc:  # noqa: BLE001
        _log.warning("could not list multipart uploads in s3://%s/%s: %s", bucket, prefix, exc)
    if aborted:
        _log.info("aborted %d stale multipart upload(s) in s3://%s/%s", aborted, bucket, prefix)
    return aborted


class StaleUploadSweeper:
    """A daemon thread that runs `abort_stale_uploads` over the shares every `every` seconds."""

    def __init__(
        self,
        client,
        shares: Iterable[tuple[str, str]],
        older_than: float,
        every: float,
        keep: Callable[[], Iterable[str]] = frozenset,
    ) -> None:
        """`shares`: (bucket, prefix) pairs; `keep`: ids of uploads still being sent."""
        self.client = client
        self.shares = sorted(set(shares))
        self.older_than = older_than
        self.every = every
        self.keep = keep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3dav-stale-uploads", daemon=True)

    def sweep(self) -> int:
        """One pass over every share; the uploads aborted."""
        return sum(
            abort_stale_uploads(self.client, bucket, prefix, self.older_than, self.keep)
            for bucket, prefix in self.shares
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sweep()
