"""The option table (s3dav/options.py) against what is made from it or documents it.

config/s3dav.yaml says it lists every key with its default; the command line's
flags are generated from the table and must land in the same keys as the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from s3dav import cli
from s3dav.config import load
from s3dav.options import SCHEMA, Option, flag_dest, flagged

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "s3dav.yaml"

# A non-default value for every flag the table declares, as typed on the command line.
FLAG_SAMPLES = {
    "--host": ("0.0.0.0", "0.0.0.0"),
    "--port": ("9090", 9090),
    "--auth": ("anonymous", "anonymous"),  # basic would need users
    "--endpoint-url": ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    "--region": ("eu-west-1", "eu-west-1"),
    "--cache-dir": ("/var/cache/x", "/var/cache/x"),
    "--lock-storage": ("redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"),
}


def test_every_option_is_declared_with_help():
    for section, options in SCHEMA.items():
        for key, option in options.items():
            assert isinstance(option, Option), f"{section}.{key}"
            assert option.help.strip(), f"{section}.{key} has no help text"


def test_example_config_lists_every_key_with_its_default():
    doc = yaml.safe_load(EXAMPLE.read_text())
    assert set(doc) == set(SCHEMA) | {"shares", "users"}
    for section, options in SCHEMA.items():
        assert set(doc[section]) == set(options), section
        for key, option in options.items():
            where = f"{section}.{key}"
            shown = doc[section][key]
            want = None if option.default is None else option.parse(option.default, where)
            assert (None if shown is None else option.parse(shown, where)) == want, where


def test_flags_are_the_tables_and_set_its_keys():
    assert {o.flag.split(" ")[0] for _s, _k, o in flagged()} == set(FLAG_SAMPLES)
    for section, key, option in flagged():
        name = option.flag.split(" ")[0]
        text, value = FLAG_SAMPLES[name]
        args = cli._parser().parse_args(["serve", name, text])
        assert getattr(args, flag_dest(option.flag)) is not None
        cfg = load(None, cli._flags(args), environ={})
        assert getattr(cfg, section)[key] == value, name


def test_a_flag_keeps_argparse_checks():
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["serve", "--port", "eighty"])
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["serve", "--auth", "digest"])
