"""Listed names as pure logic: display names of twins and alternates, keys of a moved tree.

The same names through a gateway: integration/test_names.py.
"""

from __future__ import annotations

from s3dav.store.keys import tree_dest_keys
from s3dav.store.listing import alternate_name, display_names, looks_alternate
from tests.support.helpers import nfc, nfd


def test_display_names_rules():
    shown, irregular = display_names(["x", nfd("é"), nfc("é"), "..", "a.b.txt"], ["x", "a.b.txt"])
    assert shown == {
        "x": ("x", True),
        "x (file)": ("x", False),
        nfc("é"): (nfc("é"), False),
        nfc("é (NFD)"): (nfd("é"), False),
        "a.b.txt": ("a.b.txt", True),
        "a.b (file).txt": ("a.b.txt", False),
    }
    assert irregular == {"x", "x (file)", nfc("é"), nfc("é (NFD)"), "a.b.txt", "a.b (file).txt"}
    assert alternate_name(".bashrc", "file", set()) == ".bashrc (file)"
    for name in ("x (file)", "a (file 2).txt", "é (NFD)", "é (NFD file 3).tar"):
        assert looks_alternate(name), name
    for name in ("photo (1).jpg", "x (files)", "x(file)", "x (file).tar.gz"):
        assert not looks_alternate(name), name
    assert alternate_name("x", "file", {"x (file)", "x (file 2)"}) == "x (file 3)"
    # An NFD file beside an NFC folder of its name: both tags.
    shown, _ = display_names([nfd("é")], [nfc("é")])
    assert shown[nfc("é (NFD file)")] == (nfd("é"), False)


def test_tree_dest_keys():
    src = [nfc("s/é"), nfd("s/é"), nfd("s/ñ"), nfd("s/ü/x"), "s/ü/y"]
    assert tree_dest_keys(src, "s/", "d/") == {
        nfc("s/é"): nfc("d/é"),
        nfd("s/é"): "d/" + nfd("é"),
        nfd("s/ñ"): nfc("d/ñ"),
        nfd("s/ü/x"): nfc("d/ü/x"),
        "s/ü/y": "d/ü/y",
    }
