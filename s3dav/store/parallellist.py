"""Every page of one listing, the pages of a big folder fetched in parallel key ranges.

Why: pages come one after another (each needs the token of the one before), so
a folder of 20,000 objects waits 20 round trips. The first `sequential` pages
are fetched as before (a folder of up to that many pages costs exactly its
pages); if the last of them is still truncated, the rest of the key space is cut
into ranges (keyranges.py) and listed with `StartAfter`, up to `concurrency`
requests in flight. The first range goes on with the last page's token. A range
whose first page is full and not past its end is cut again (up to `max_ranges`
in all). The pages come back in key order, trimmed to their ranges, as
build_listing takes them (a common prefix two ranges show is shown once).

A store that ignores `StartAfter` (its answer starts at or before it) is noticed
on the first such page: the ranges are dropped and the first range, which went
on by token, goes on to the end; the lister stays sequential from then on.

Bound (docs/caching.md): LIST <= ceil(n/1000) + R, R the ranges made (at most
`max_ranges`, 8 x concurrency in resolve.py): each range ends with at most one
page that is not full of its own entries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from s3dav.store.keyranges import (
    KeyRange,
    boundaries,
    ignored_start_after,
    level_name,
    page_keys,
    range_done,
    split,
    trimmed,
)

_log = logging.getLogger(__name__)

# list_page(token=..., start_after=...) -> one ListObjectsV2 page of the listing
PageFetch = Callable[..., dict]
Submit = Callable[..., Future]


def _truncated(page: dict) -> bool:
    return bool(page.get("IsTruncated") and page.get("NextContinuationToken"))


@dataclass
class _Range:
    rng: KeyRange
    token: str | None = None  # set: go on by token; None: the first page, by StartAfter
    pages: list[dict] = field(default_factory=list)
    splits: bool = True  # may be cut again after its first page


class ParallelLister:
    """How one tree lists: sequential pages, then parallel ranges (see the top)."""

    def __init__(
        self, submit: Submit, *, concurrency: int = 16, sequential: int = 3, max_ranges: int = 128
    ) -> None:
        self.submit = submit
        self.concurrency = concurrency
        self.sequential = max(1, sequential)
        self.max_ranges = max_ranges
        self.start_after_works = True  # False once the store showed it ignores StartAfter
        self._lock = threading.Lock()

    def pages(
        self, fetch: PageFetch, prefix: str, *, delimiter: bool = True, first: dict | None = None
    ) -> list[dict]:
        """Every page below `prefix`; `first` (read ahead) stands for its first request."""
        pages = [first if first is not None else fetch()]
        while _truncated(pages[-1]) and (
            len(pages) < self.sequential or self.concurrency <= 1 or not self.start_after_works
        ):
            pages.append(fetch(token=pages[-1]["NextContinuationToken"]))
        if not _truncated(pages[-1]):
            return pages
        if not page_keys(pages[-1]):  # truncated and empty: nothing to cut at
            while _truncated(pages[-1]):
                pages.append(fetch(token=pages[-1]["NextContinuationToken"]))
            return pages
        return pages + self._ranges(fetch, prefix, delimiter, pages)

    def _cuts(
        self, prefix: str, delimiter: bool, page: dict, rng: KeyRange, want: int
    ) -> list[str]:
        """Boundaries inside `rng` after the last key of `page` (a full page), as full keys."""
        keys = page_keys(page)
        if not keys:
            return []
        last = keys[-1]
        names = [level_name(prefix, k, delimiter) for k in keys]
        end = None if rng.end is None else rng.end[len(prefix) :]
        found = boundaries(names, level_name(prefix, last, delimiter), want=want, end=end)
        return [prefix + b for b in found if prefix + b > last]

    def _ranges(
        self, fetch: PageFetch, prefix: str, delimiter: bool, before: list[dict]
    ) -> list[dict]:
        last_page = before[-1]
        whole = KeyRange(page_keys(last_page)[-1], None)
        want = min(self.concurrency, self.max_ranges - 1)
        cuts = self._cuts(prefix, delimiter, last_page, whole, want)
        ranges = [_Range(r) for r in split(whole.start, None, cuts)]
        ranges[0].token = last_page["NextContinuationToken"]
        made = len(ranges)
        queue = list(ranges)
        running: dict[Future, _Range] = {}
        try:
            while queue or running:
                while queue and len(running) < self.concurrency:
                    r = queue.pop(0)
                    if r.token is not None:
                        fut = self.submit(fetch, token=r.token)
                    else:
                        fut = self.submit(fetch, start_after=r.rng.start)
                    running[fut] = r
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    r = running.pop(fut)
                    page = fut.result()
                    if r.token is None and ignored_start_after(page, r.rng.start):
                        return self._sequential_rest(fetch, prefix, ranges[0], running)
                    r.pages.append(page)
                    if range_done(page, r.rng):
                        continue
                    if r.splits and len(r.pages) == 1 and made < self.max_ranges:
                        r.splits = False
                        want = min(self.concurrency, self.max_ranges - made)
                        more = self._cuts(prefix, delimiter, page, r.rng, want)
                        if more:
                            parts = split(r.rng.start, r.rng.end, more)
                            r.rng = parts[0]
                            new = [_Range(p) for p in parts[1:]]
                            made += len(new)
                            ranges += new
                            queue += new
                    r.token = page["NextContinuationToken"]
                    queue.append(r)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
        out: list[dict] = []
        for r in sorted(ranges, key=lambda r: r.rng.start):
            out += [trimmed(p, r.rng) for p in r.pages]
        return out

    def _sequential_rest(
        self, fetch: PageFetch, prefix: str, head: _Range, running: dict[Future, _Range]
    ) -> list[dict]:
        """The store ignores StartAfter: drop the ranges, go on from the first range's pages."""
        with self._lock:
            if self.start_after_works:
                _log.warning(
                    "the store ignores ListObjectsV2 StartAfter (listing %s): "
                    "big folders are listed page after page",
                    prefix,
                )
            self.start_after_works = False
        for fut in running:
            if running[fut] is head:
                head.pages.append(fut.result())
            else:
                fut.cancel()
        wait(running)  # those already sent: done (and counted) before the answer
        pages = list(head.pages)  # untrimmed: by token, they are the listing's next pages
        while pages and _truncated(pages[-1]):
            pages.append(fetch(token=pages[-1]["NextContinuationToken"]))
        if not pages:
            pages.append(fetch(token=head.token))
            while _truncated(pages[-1]):
                pages.append(fetch(token=pages[-1]["NextContinuationToken"]))
        return pages
