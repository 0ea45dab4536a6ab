"""config/s3dav.yaml lists every key of the schema, with its default, and no other key.

The sample says it shows "every key, its default, and what it does"; this holds it to that
against s3dav/config.py (SCHEMA, TLS_KEYS, SHARE_KEYS). Keys without a default (server.tls,
a share, a user) are shown as commented-out YAML: a comment run right after `shares: []` or
`users: {}`, or one whose first line is a bare `# key:`, is such an example and is read too.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from s3dav.config import SCHEMA, SHARE_KEYS, TLS_KEYS, build

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "s3dav.yaml"
COMMENT = re.compile(r"^(\s*)# ?(.*)$")
EMPTY_VALUE = re.compile(r"^(\s*[a-z_]+):\s*(\[\]|\{\})\s*(#.*)?$")
BARE_KEY = re.compile(r"^\s*[a-z_]+:\s*(#.*)?$")


def uncomment(line: str) -> str:
    """`  #   cert: x` -> `    cert: x`: the `#` and one space go, the columns stay."""
    m = COMMENT.match(line)
    return m.group(1) + m.group(2)


def with_examples(text: str) -> str:
    """The sample with its commented-out example blocks turned into YAML."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        empty = EMPTY_VALUE.match(line)
        opens = COMMENT.match(line) and BARE_KEY.match(uncomment(line))
        if empty or opens:
            run = [] if empty else [line]
            j = i + 1
            while j < len(lines) and COMMENT.match(lines[j]) and lines[j].strip() != "#":
                if empty and not lines[j].startswith("#"):
                    break  # an indented comment is the next key's, not this example
                run.append(lines[j])
                j += 1
            if run:
                if empty:
                    out.append(empty.group(1) + ":")
                out.extend(uncomment(r) for r in run)
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def problems(doc: dict) -> list[str]:
    """Every way `doc` (the sample with its examples) differs from the schema."""
    found = []
    top = set(SCHEMA) | {"shares", "users"}
    found += [f"unknown section {k}" for k in sorted(set(doc) - top)]
    found += [f"missing section {k}" for k in sorted(top - set(doc))]
    for section, keys in SCHEMA.items():
        given = doc.get(section) or {}
        documented = set(given) - ({"tls"} if section == "server" else set())
        found += [f"unknown key {section}.{k}" for k in sorted(documented - set(keys))]
        found += [f"missing key {section}.{k}" for k in sorted(set(keys) - documented)]
        for key in sorted(documented & set(keys)):
            parse, default = keys[key][:2]
            where = f"{section}.{key}"
            shown = None if given[key] is None else parse(given[key], where)
            if shown != (None if default is None else parse(default, where)):
                found.append(f"{where}: sample shows {given[key]!r}, the default is {default!r}")
    tls = (doc.get("server") or {}).get("tls") or {}
    found += [f"server.tls: {k} not shown" for k in sorted(TLS_KEYS - set(tls))]
    found += [f"unknown key server.tls.{k}" for k in sorted(set(tls) - TLS_KEYS)]
    shares = doc.get("shares") or [{}]
    found += [f"shares[]: {k} not shown" for k in sorted(SHARE_KEYS - set(shares[0]))]
    found += [f"unknown key shares[].{k}" for k in sorted(set(shares[0]) - SHARE_KEYS)]
    users = doc.get("users") or {"": {}}
    found += [f"users: {name} shows {sorted(spec)}" for name, spec in users.items()
              if set(spec) != {"password_hash"}]  # fmt: skip
    return found


def test_sample_lists_every_schema_key_with_its_default_and_no_other():
    text = SAMPLE.read_text()
    build(yaml.safe_load(text), environ={})  # as shipped, the sample is a valid configuration
    doc = yaml.safe_load(with_examples(text))
    assert set(doc["server"]["tls"]) == TLS_KEYS  # the examples really were read
    assert len(doc["shares"]) == 1 and list(doc["users"]) == ["ann"]
    assert problems(doc) == []
