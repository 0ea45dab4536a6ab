"""Every setting as S3DAV_<SECTION>__<KEY>: same values and same one-line errors as the file."""

from __future__ import annotations

import pytest
import yaml

from s3dav.config import SCHEMA, ConfigError, build, load
from s3dav.passwords import hash_password

ANN_HASH = hash_password("ann-env-password")

# A valid non-default value for every key of every section, as one would type it.
SAMPLES = {
    ("server", "host"): "0.0.0.0",
    ("server", "port"): "9090",
    ("server", "threads"): "8",
    ("server", "auth"): "basic",
    ("server", "max_xml_body"): "2MiB",
    ("server", "header_timeout"): "5s",
    ("server", "max_header_bytes"): "32KiB",
    ("server", "body_timeout"): "20s",
    ("server", "max_body_bytes"): "1TiB",
    ("server", "login_max_failures"): "3",
    ("server", "login_user_max_failures"): "7",
    ("server", "login_block"): "90s",
    ("server", "login_delay"): "0.5s",
    ("server", "shutdown_timeout"): "10s",
    ("server", "trusted_proxies"): "10.0.0.0/8, 192.168.1.2",
    ("s3", "endpoint_url"): "http://minio:9000",
    ("s3", "region"): "eu-west-1",
    ("s3", "addressing_style"): "path",
    ("s3", "access_key_id"): "AKIAEXAMPLE",
    ("s3", "secret_access_key"): "example-secret",
    ("s3", "connect_timeout"): "2s",
    ("s3", "read_timeout"): "1m",
    ("s3", "max_attempts"): "3",
    ("s3", "part_size"): "16MiB",
    ("s3", "multipart_threshold"): "64MiB",
    ("s3", "upload_concurrency"): "4",
    ("s3", "copy_threshold"): "1GiB",
    ("s3", "legacy_s3fs_dirs"): "true",
    ("s3", "abort_stale_uploads_after"): "2h",
    ("s3", "abort_stale_uploads_every"): "10min",
    ("s3", "conditional_writes"): "false",
    ("s3", "part_checksums"): "false",
    ("cache", "dir"): "/var/cache/s3dav",
    ("cache", "size"): "1GiB",
    ("cache", "metadata_ttl"): "5s",
    ("cache", "negative_ttl"): "1.5s",
    ("cache", "overlay_ttl"): "10m",
    ("cache", "head_unseen"): "false",
    ("cache", "readahead_folders"): "8",
    ("cache", "write_back"): "yes",
    ("cache", "write_back_delay"): "250ms",
    ("locks", "storage"): "redis://redis:6379/2",
    ("locks", "max_timeout"): "10m",
    ("locks", "max_owner"): "1KiB",
    ("macos", "metadata_files"): "refuse",
    ("logging", "level"): "debug",
    ("logging", "format"): "json",
    ("metrics", "enabled"): "off",
    ("share_links", "key"): "a-share-link-key-0123456789",
    ("share_links", "max_expiry"): "7d",
    ("share_links", "max_per_user"): "20",
    ("events", "token"): "an-events-token-0123456789",
    ("events", "max_body"): "256KiB",
    ("events", "max_records"): "50",
}


def test_every_schema_key_has_a_sample():
    assert set(SAMPLES) == {(s, k) for s, keys in SCHEMA.items() for k in keys}


def _pair_env(section: str, key: str, value: str) -> dict:
    env = {f"S3DAV_{section.upper()}__{key.upper()}": value}
    if (section, key) == ("s3", "access_key_id"):
        env["S3DAV_S3__SECRET_ACCESS_KEY"] = "x"
    if (section, key) == ("s3", "secret_access_key"):
        env["S3DAV_S3__ACCESS_KEY_ID"] = "x"
    if (section, key) == ("server", "auth"):
        env["S3DAV_USERS"] = f"{{ann: {{password_hash: '{ANN_HASH}'}}}}"
    return env


@pytest.mark.parametrize("section, key", sorted(SAMPLES))
def test_env_value_equals_file_value(section, key, tmp_path):
    env = _pair_env(section, key, SAMPLES[(section, key)])
    from_env = load(None, {}, environ=env)
    # The same value written in the file (YAML typing, e.g. `true` and 9090 unquoted).
    doc: dict = {}
    for name, value in env.items():
        if name == "S3DAV_USERS":
            doc["users"] = yaml.safe_load(value)
            continue
        sec, k = name[len("S3DAV_") :].lower().split("__")
        doc.setdefault(sec, {})[k] = yaml.safe_load(value)
    f = tmp_path / "s3dav.yaml"
    f.write_text(yaml.safe_dump(doc))
    from_file = load(str(f), {}, environ={})
    assert getattr(from_env, section)[key] == getattr(from_file, section)[key]
    default = SCHEMA[section][key][1]
    assert getattr(from_env, section)[key] != (
        None if default is None else SCHEMA[section][key][0](default, key)
    )


BAD = [
    ("server", "port", "eighty"),
    ("server", "port", "70000"),
    ("server", "threads", "0"),
    ("server", "auth", "kerberos"),
    ("server", "max_xml_body", "big"),
    ("s3", "addressing_style", "sideways"),
    ("s3", "part_size", "1MiB"),
    ("s3", "upload_concurrency", "0"),
    ("s3", "max_attempts", "3.5"),
    ("s3", "legacy_s3fs_dirs", "perhaps"),
    ("cache", "size", "lots"),
    ("cache", "metadata_ttl", "soon"),
    ("locks", "storage", "memcached://x"),
    ("locks", "storage", "redis://:hunter2@redis:6379/zero"),
    ("macos", "metadata_files", "maybe"),
    ("logging", "format", "xml"),
    ("metrics", "enabled", "2"),
    ("events", "token", "short"),
    ("events", "max_body", "1GiB"),
    ("events", "max_records", "0"),
]


@pytest.mark.parametrize("section, key, value", BAD)
def test_bad_env_value_gives_the_same_error_as_the_file(section, key, value):
    with pytest.raises(ConfigError) as from_env:
        load(None, {}, environ={f"S3DAV_{section.upper()}__{key.upper()}": value})
    with pytest.raises(ConfigError) as from_file:
        build({section: {key: value}}, environ={})
    assert str(from_env.value) == str(from_file.value)
    assert "\n" not in str(from_env.value)
    assert "hunter2" not in str(from_env.value)


@pytest.mark.parametrize(
    "env, words",
    [
        ({"S3DAV_SERVER__PROT": "1"}, "unknown key server.prot"),
        ({"S3DAV_SERVERS__PORT": "1"}, "unknown key servers"),
        ({"S3DAV_SERVERPORT": "1"}, "S3DAV_SERVERPORT: expected S3DAV_<SECTION>__<KEY>"),
        ({"S3DAV_SHARES": "[{path: /"}, "S3DAV_SHARES: not valid YAML"),
        ({"S3DAV_SHARES": "[{path: /}]"}, "shares[0].bucket: missing"),
        ({"S3DAV_USERS": "{ann: {}}"}, "users.ann.password_hash: missing"),
        (
            {"S3DAV_SERVER__TLS__CERT": "/nope.crt", "S3DAV_SERVER__TLS__KEY": "/nope.key"},
            "no such file /nope",
        ),
    ],
)
def test_env_mistakes_name_the_setting(env, words):
    with pytest.raises(ConfigError) as err:
        load(None, {}, environ=env)
    assert words in str(err.value)


def test_precedence_file_then_env_then_flags(tmp_path):
    f = tmp_path / "s3dav.yaml"
    f.write_text("server: {port: 9000, threads: 4}\nshares: [{path: /, bucket: from-file}]\n")
    env = {"S3DAV_SERVER__PORT": "9100", "S3DAV_SHARES": "[{path: /, bucket: from-env}]"}
    cfg = load(str(f), {}, environ=env)
    assert (cfg.server["port"], cfg.server["threads"], cfg.shares[0].bucket) == (
        9100,
        4,
        "from-env",
    )
    cfg = load(str(f), {"port": 9200, "lock_storage": "redis://r:1/0"}, environ=env)
    assert (cfg.server["port"], cfg.locks["storage"]) == (9200, "redis://r:1/0")


def test_kubernetes_service_links_are_not_settings():
    env = {
        "S3DAV_PORT": "tcp://10.0.0.7:8080",
        "S3DAV_SERVICE_HOST": "10.0.0.7",
        "S3DAV_SERVICE_PORT": "8080",
        "S3DAV_SERVICE_PORT_HTTP": "8080",
        "S3DAV_PORT_8080_TCP": "tcp://10.0.0.7:8080",
        "S3DAV_PORT_8080_TCP_PROTO": "tcp",
        "S3DAV_PORT_8080_TCP_PORT": "8080",
        "S3DAV_PORT_8080_TCP_ADDR": "10.0.0.7",
        "S3DAV_SERVER__PORT": "9300",
    }
    assert load(None, {}, environ=env).server["port"] == 9300
