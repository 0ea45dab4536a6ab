"""The listing page's pure parts (s3dav/dav/browser.py): row order and human sizes.

The page itself in Chromium: integration/test_browser.py.
"""

from __future__ import annotations

from s3dav.dav.browser import Row, human_size, sort_rows


def test_sort_and_sizes():
    rows = [
        Row("b", "", False, 1, None),
        Row("Z", "", True, None, None),
        Row("a", "", True, None, None),
        Row("A", "", False, 0, None),
    ]
    assert [r.name for r in sort_rows(rows)] == ["a", "Z", "A", "b"]
    assert [human_size(n) for n in (0, 1023, 1536, 5 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 GiB",
    ]
