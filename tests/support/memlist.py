"""ListObjectsV2 in memory: Delimiter, ContinuationToken, StartAfter over a sorted key list.

Pure logic for the unit tests of the parallel lister (tests/unit/test_keyranges.py) and
for benchmarks/listing_rounds.py; the real listing is tested against moto
(tests/integration/test_big_folders.py). `honours_start_after=False` is a store that
ignores StartAfter.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime

PAGE = 1000
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryBucket:
    """ListObjectsV2 over a sorted list of keys: Delimiter, ContinuationToken, StartAfter."""

    def __init__(self, keys: list[str], *, honours_start_after: bool = True) -> None:
        self.keys = sorted(keys)
        self.honours = honours_start_after
        self.calls: list[dict] = []
        self._entries: dict[tuple[str, bool], list[tuple[str, bool]]] = {}

    def entries(self, prefix: str, delimiter: bool) -> list[tuple[str, bool]]:
        known = self._entries.get((prefix, delimiter))
        if known is not None:
            return known
        out: list[tuple[str, bool]] = []
        for k in self.keys:
            if not k.startswith(prefix):
                continue
            rest = k[len(prefix) :]
            if delimiter and "/" in rest:
                cp = prefix + rest.split("/", 1)[0] + "/"
                if not out or out[-1] != (cp, True):
                    out.append((cp, True))
            else:
                out.append((k, False))
        self._entries[(prefix, delimiter)] = out
        return out

    def page(self, prefix: str, delimiter: bool, token=None, start_after=None) -> dict:
        self.calls.append({"token": token, "start_after": start_after})
        entries = self.entries(prefix, delimiter)
        after = token or (start_after if self.honours else None)
        at = bisect.bisect_right(entries, (after, True)) if after else 0
        chunk = entries[at : at + PAGE]
        page = {
            "Contents": [{"Key": k, "LastModified": WHEN} for k, cp in chunk if not cp],
            "CommonPrefixes": [{"Prefix": k} for k, cp in chunk if cp],
            "IsTruncated": len(entries) > at + PAGE,
        }
        if page["IsTruncated"]:
            page["NextContinuationToken"] = chunk[-1][0]
        return page

    def fetch(self, prefix: str, delimiter: bool = True):
        def fetch(token=None, start_after=None):
            return self.page(prefix, delimiter, token, start_after)

        return fetch
