"""Configuration checked in-process: defaults, flags, environment, errors naming the key.

The CLI's one-line errors as a process: integration/test_config.py.
"""

import pytest

from s3dav.config import ConfigError, build, load


def test_defaults_and_flags_override_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "server: {port: 9000}\nshares: [{path: /, bucket: b1}]\ncache: {metadata_ttl: 1m}\n"
    )
    cfg = load(str(f), {"port": 9100, "bucket": None}, environ={})
    assert cfg.server["port"] == 9100
    assert cfg.cache["metadata_ttl"] == 60.0
    assert cfg.cache["size"] == 10 * 1024**3
    assert cfg.shares[0].bucket == "b1"
    cfg = load(str(f), {"bucket": "b2", "prefix": "x/y", "read_only": True}, environ={})
    assert (cfg.shares[0].bucket, cfg.shares[0].prefix, cfg.shares[0].read_only) == (
        "b2",
        "x/y/",
        True,
    )


def test_env_overrides(tmp_path):
    cfg = load(
        None,
        {},
        environ={
            "S3DAV_SERVER__PORT": "9200",
            "S3DAV_CACHE__WRITE_BACK": "true",
            "S3DAV_SHARES": "[{path: /, bucket: envb}]",
        },
    )
    assert cfg.server["port"] == 9200
    assert cfg.cache["write_back"] is True
    assert cfg.shares[0].bucket == "envb"


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"server": {"prot": 1}}, "unknown key server.prot"),
        ({"bogus": 1}, "unknown key bogus"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"cache": {"size": "lots"}}, "cache.size"),
        ({"shares": [{"path": "/"}]}, "shares[0].bucket: missing"),
        ({"shares": [{"bucket": "b", "users": ["ann"]}]}, "no user 'ann'"),
        ({"s3": {"secret_access_key": "${NOPE_NOT_SET}"}}, "NOPE_NOT_SET"),
        ({"macos": {"metadata_files": "maybe"}}, "macos.metadata_files"),
    ],
)
def test_bad_config_names_the_key(raw, words):
    with pytest.raises(ConfigError) as err:
        build(raw, environ={})
    assert words in str(err.value)
