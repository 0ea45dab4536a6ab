"""The commands docs/CLIENTS.md shows, run as written against a real gateway (issue 19).

Every fenced block right after a `<!-- run: tests/clients/test_docs_commands.py -->` line is
taken from the page as it is; only the example URL is replaced by the test gateway's.
Each line runs in bash with HOME set to a scratch directory holding ~/Documents; the
user `ann` has the password the page uses ("the password"). Then the bytes in S3 and
on disk are checked.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from s3dav.passwords import hash_password

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- run: tests/clients/test_docs_commands.py -->"
EXAMPLE_URL = "https://dav.example.com/"
PASSWORD = "the password"
DOCUMENTS = {
    "report.pdf": b"%PDF-1.4 a report\n" * 100,
    "notes/todo.txt": b"call ann\n",
    "caf\u00e9.txt": b"accented name\n",
}


def marked_blocks(text: str) -> list[list[str]]:
    """The command lines of each fenced block that follows the marker."""
    blocks = []
    for m in re.finditer(re.escape(MARK) + r"\s*\n```[^\n]*\n(.*?)\n```", text, re.S):
        lines = [line for line in m.group(1).splitlines() if line.strip()]
        blocks.append([line for line in lines if not line.lstrip().startswith("#")])
    return blocks


def run_line(line: str, url: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # rclone refuses it
    env.update(HOME=str(home), RCLONE_CONFIG=str(home / "rclone.conf"))
    return subprocess.run(
        ["bash", "-c", line.replace(EXAMPLE_URL, url + "/")],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def keys_below(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"][len(prefix) :]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in listing
        if not o["Key"].endswith("/")
    }


def test_the_marked_blocks_are_the_ones_expected():
    blocks = marked_blocks((ROOT / "docs" / "CLIENTS.md").read_text())
    assert [block[0].split()[0] for block in blocks] == ["rclone", "rclone", "curl"]
    assert sum(len(b) for b in blocks) == 3 + 1 + 5
    assert all(EXAMPLE_URL in " ".join(block) for block in blocks)


def test_clients_md_commands_run_as_written(make_gateway, bucket, s3, tmp_path):
    def gateway(name: str):
        s3.create_bucket(Bucket=name)
        return make_gateway(
            config={
                "users": {"ann": {"password_hash": hash_password(PASSWORD)}},
                "shares": [{"path": "/", "bucket": name, "users": ["ann"]}],
            }
        )

    home = tmp_path / "home"
    for rel, data in DOCUMENTS.items():
        (home / "Documents" / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / "Documents" / rel).write_bytes(data)
    rclone_remote, rclone_inline, curl = marked_blocks((ROOT / "docs" / "CLIENTS.md").read_text())

    def run_block(block: list[str], url: str) -> None:
        for line in block:
            out = run_line(line, url, home)
            assert out.returncode == 0, f"{line}\n{out.stdout}\n{out.stderr}"

    remote = gateway(bucket + "-remote")
    run_block(rclone_remote, remote.url)  # config create, sync, check
    assert keys_below(s3, bucket + "-remote", "Documents/") == DOCUMENTS
    inline = gateway(bucket + "-inline")  # the config-less form, into an empty bucket
    run_block(rclone_inline, inline.url)
    assert keys_below(s3, bucket + "-inline", "Documents/") == DOCUMENTS
    run_block(curl, inline.url)  # upload, download, list, MKCOL, MOVE
    assert (home / "report-copy.pdf").read_bytes() == DOCUMENTS["report.pdf"]
    assert keys_below(s3, bucket + "-inline", "Archive/") == {"report.pdf": DOCUMENTS["report.pdf"]}
    assert "report.pdf" not in keys_below(s3, bucket + "-inline", "")  # moved from the root
