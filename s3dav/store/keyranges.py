"""Key ranges of a big folder, for listing it in parallel (docs/caching.md, *Big folders*).

ListObjectsV2 pages are sequential: each needs the token of the one before. A
folder of 20,000 objects is 20 round trips in a row. The key space after a page
can be cut into ranges, each listed from its own `StartAfter`, all at once.

Nothing says where the keys beyond a page lie, so the boundaries are guesses
from the page's own names, as aws-samples/s3-fast-list and s3p do: from the last
name, successively coarser prefixes with the next characters of the alphabet
the page shows at that position (`f02999` -> `f03`..`f09`, then `f1`..`f9`, ...).
A guess that is wrong costs one LIST that finds nothing, or a range that is
split again once its own first page shows it is big.

Pure logic: names and keys in, boundaries and ranges out (tests/unit/test_keyranges.py).
A range is (start, end]: the keys after `start`, up to and including `end`.
"""

from __future__ import annotations

import bisect
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_CLASSES = (
    string.digits,
    "0123456789abcdef",
    "0123456789ABCDEF",
    string.ascii_lowercase,
    string.ascii_uppercase,
)


@dataclass(frozen=True)
class KeyRange:
    """Keys k with start < k <= end (end None: to the end of the prefix)."""

    start: str
    end: str | None

    def holds(self, key: str) -> bool:
        return key > self.start and (self.end is None or key <= self.end)

    def past(self, key: str) -> bool:
        """Whether `key` lies beyond the range's end (the listing of it may stop)."""
        return self.end is not None and key > self.end


def level_name(prefix: str, key: str, delimiter: bool) -> str:
    """The name a key or common prefix has at the folder's level (up to the first `/`)."""
    rest = key[len(prefix) :]
    return rest.split("/", 1)[0] if delimiter else rest


def page_keys(page: dict) -> list[str]:
    """A page's entries (object keys and common prefixes), in key order."""
    keys = [e["Key"] for e in page.get("Contents", []) or []]
    keys += [p["Prefix"] for p in page.get("CommonPrefixes", []) or []]
    keys.sort()
    return keys


def alphabet(chars: Iterable[str]) -> str:
    """The smallest of the usual key alphabets (digits, hex, letters) that holds `chars`.

    Characters outside all of them add nothing: a position that shows only those
    gives no boundaries (its keys fall in the range that ends at a coarser one).
    """
    seen = set(chars)
    usual = [c for c in seen if any(c in cls for cls in _CLASSES)]
    if not usual:
        return ""
    for cls in _CLASSES:
        if all(c in cls for c in usual):
            return cls
    # several classes: the union of digits and the letter cases seen, in code point
    # (= S3 key) order
    bases = (string.digits, string.ascii_lowercase, string.ascii_uppercase)
    union = {c for cls in bases if any(u in cls for u in usual) for c in cls}
    return "".join(sorted(union))


def _common_length(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


NEAR_FILL = 0.8  # a near range is sized to hold about this much of a page


def _columns(names: Sequence[str], upto: int) -> list[str]:
    """The alphabet of each position 0..upto: "" where the page shows a separator there,
    else the one that holds what it shows there and at the positions after it (a page
    of hashes starting `8`..`9` is still hex at its first position)."""
    seen = [{n[k] for n in names if len(n) > k} for k in range(upto + 1)]
    out: list[str] = []
    deeper: set[str] = set()
    for k in range(upto, -1, -1):
        deeper |= seen[k]
        out.append(alphabet(deeper) if alphabet(seen[k]) else "")
    return out[::-1]


def _value(name: str, columns: list[str]) -> int:
    """`name`'s first positions read as a number, each position in its column's radix."""
    v = 0
    for k, alpha in enumerate(columns):
        if alpha:
            ch = name[k] if len(name) > k else alpha[0]
            v = v * len(alpha) + min(bisect.bisect_left(alpha, ch), len(alpha) - 1)
    return v


def _name(v: int, columns: list[str], last: str) -> str | None:
    """The name whose value is `v` (separators as in `last`); None past the space."""
    out = []
    for k in range(len(columns) - 1, -1, -1):
        alpha = columns[k]
        if alpha:
            v, d = divmod(v, len(alpha))
            out.append(alpha[d])
        else:
            out.append(last[k])
    return None if v else "".join(reversed(out))


def _near(names: Sequence[str], last: str, c: int, want: int) -> list[str]:
    """Boundaries after `last`, the first ones spaced so each range holds about
    NEAR_FILL of a page, read from the page's own spread (as s3p interpolates
    between keys); then wider and wider."""
    columns = _columns(names, min(len(last) - 1, c + 2))
    low, high = _value(names[0], columns), _value(last, columns)
    step = max(1, int((high - low) * NEAR_FILL))
    out: list[str] = []
    at, even = high, (want + 1) // 2
    for i in range(1, want + 1):
        # the first half a page apart, then each twice as far as the one before: what
        # lies far off is cut again, in parallel, not one range after another
        at += step if i <= even else step * 2 ** (i - even)
        b = _name(at, columns, last)
        if b is None:
            break
        out.append(b)
    return out


def _coarse(names: Sequence[str], last: str, c: int, per_level: int) -> list[str]:
    """The next siblings of `last`'s prefixes at the positions before c, nearest level
    first: where the page's names do not vary, the folder's may (the next month, the
    next thousand). Positions that show a separator (`-`, `_`, `.`) have no siblings."""
    out: list[str] = []
    for k in range(c - 1, -1, -1):
        alpha = alphabet(last[k])
        taken = 0
        for ch in alpha:
            if ch > last[k] and taken < per_level:
                out.append(last[:k] + ch)
                taken += 1
    return out


def boundaries(names: Sequence[str], last: str, *, want: int, end: str | None = None) -> list[str]:
    """Up to `want` names after `last` (and before `end`) to start ranges at, sorted.

    `names` are a page's names (sorted, the last one last); `last` is the name
    the page ended at. Half of them at most are coarse siblings of `last`'s
    prefixes (a range each, cut again once it shows it is big); the rest are
    near ones, spaced by the page's own spread so that each holds less than a
    page and costs one LIST.
    """
    if want <= 0 or not names or not last:
        return []
    c = min(_common_length(names[0], last), len(last) - 1)

    def fits(b: str) -> bool:
        return b > last and (end is None or b < end)

    near = [b for b in _near(names, last, c, want) if fits(b)]
    even = near[: (want + 1) // 2]  # the ranges of less than a page each
    reach = even[-1] if even else last
    coarse = [b for b in _coarse(names, last, c, max(1, want // 4)) if fits(b) and b > reach]
    coarse = coarse[: want // 2]
    return sorted(set(near[: want - len(coarse)] + coarse))


def split(start: str, end: str | None, cuts: Sequence[str]) -> list[KeyRange]:
    """(start, end] cut at each of `cuts` (sorted, inside the range): contiguous ranges."""
    edges = [start, *cuts]
    ends: list[str | None] = [*cuts, end]
    return [KeyRange(a, b) for a, b in zip(edges, ends, strict=True)]


def _ends(page: dict) -> tuple[str, str] | None:
    """A page's first and last entry (each of its two lists is in key order), or None."""
    firsts, lasts = [], []
    for entries, field in ((page.get("Contents"), "Key"), (page.get("CommonPrefixes"), "Prefix")):
        if entries:
            firsts.append(entries[0][field])
            lasts.append(entries[-1][field])
    return (min(firsts), max(lasts)) if firsts else None


def ignored_start_after(page: dict, start_after: str) -> bool:
    """Whether a page asked with `StartAfter` shows keys at or before it: a store that
    ignores StartAfter answers with the folder's first page, so ranges cannot be used."""
    ends = _ends(page)
    return ends is not None and ends[0] <= start_after


def trimmed(page: dict, rng: KeyRange) -> dict:
    """The page with only the entries the range holds (pages of ranges overlap at their ends)."""
    ends = _ends(page)
    if ends is None or (rng.holds(ends[0]) and rng.holds(ends[1])):
        return page
    out = dict(page)
    out["Contents"] = [e for e in page.get("Contents", []) or [] if rng.holds(e["Key"])]
    out["CommonPrefixes"] = [
        p for p in page.get("CommonPrefixes", []) or [] if rng.holds(p["Prefix"])
    ]
    return out


def range_done(page: dict, rng: KeyRange) -> bool:
    """Whether a range needs no further page: the store says so, or the page went past its end."""
    if not (page.get("IsTruncated") and page.get("NextContinuationToken")):
        return True
    ends = _ends(page)
    return ends is not None and rng.past(ends[1])
