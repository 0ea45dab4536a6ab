"""The rooms' import rules (docs/ARCHITECTURE.md): imports point down only.

server -> dav -> store -> transfer; store and transfer know nothing of WsgiDAV or
HTTP; the settings modules (config, options and what they parse with) know no room
above them. Read from the source with `ast`, so a lazy import inside a function
counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "s3dav"

# room (a sub-package, or a top-level module) -> imports it must not make
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "transfer": ("wsgidav", "cheroot", "s3dav.dav", "s3dav.server", "s3dav.store", "s3dav.app"),
    "store": ("wsgidav", "cheroot", "s3dav.dav", "s3dav.server", "s3dav.app"),
    "dav": ("s3dav.server", "s3dav.app"),
    "config.py": ("s3dav.server", "s3dav.dav", "s3dav.app", "wsgidav", "cheroot"),
    "options.py": ("s3dav.server", "s3dav.dav", "s3dav.app", "wsgidav", "cheroot"),
    "errors.py": ("s3dav.", "wsgidav", "cheroot"),
    "passwords.py": ("s3dav.", "wsgidav", "cheroot"),
    "networks.py": ("s3dav.", "wsgidav", "cheroot"),
}


def imported(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it, as dotted names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def room_files(room: str) -> list[Path]:
    target = PACKAGE / room
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f if f.endswith(".") else f + ".") for f in forbidden)


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_point_down_only(room: str):
    files = room_files(room)
    assert files and all(f.exists() for f in files), room
    wrong = {
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files
        for name in imported(path)
        if breaks(name, FORBIDDEN[room])
    }
    assert not wrong, sorted(wrong)


def test_the_rule_sees_a_lazy_import(tmp_path):
    """The check itself: an import inside a function is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from s3dav.server.auth import x\n    import wsgidav.util\n")
    assert imported(module) == {"s3dav.server.auth", "wsgidav.util"}
    assert breaks("s3dav.server.auth", FORBIDDEN["store"])
    assert not breaks("s3dav.storedirs", ("s3dav.store",))
