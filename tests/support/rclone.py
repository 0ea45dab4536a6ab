"""Running Debian's rclone against a gateway: a private config, no retries, stats to parse."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


def rclone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    conf = tmp_path / "rclone.conf"
    conf.touch()
    return subprocess.run(
        [
            "rclone",
            "--config",
            str(conf),
            "-v",
            "--stats",
            "100ms",
            "--stats-log-level",
            "NOTICE",
            "--retries",
            "1",
            "--low-level-retries",
            "1",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def transferred(output: str) -> int:
    """The file count of rclone's final stats ("Transferred: 3 / 3, 100%")."""
    counts = re.findall(r"Transferred:\s+(\d+) / (\d+), \d+%", output)
    return int(counts[-1][0]) if counts else 0


def remote(gw, vendor: str, path: str) -> str:
    return f":webdav,url='{gw.url}/',vendor={vendor}:{path}"
