"""The reference WebDAV compliance suite, every suite, zero failures."""

import re
import subprocess

import pytest

SUITES = {"basic": 16, "copymove": 13, "props": 30, "locks": 41, "http": 4}


@pytest.mark.timeout(900)
def test_litmus_all_suites_pass(gw, tmp_path):
    out = subprocess.run(
        ["litmus", "-k", gw.url + "/"], capture_output=True, text=True, timeout=800, cwd=tmp_path
    )
    text = out.stdout + out.stderr
    summaries = dict(
        (m.group(1), (int(m.group(2)), int(m.group(3)), int(m.group(4))))
        for m in re.finditer(
            r"summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", text
        )
    )
    print("\n".join(line for line in text.splitlines() if "summary for" in line))
    assert set(summaries) == set(SUITES), text[-3000:]
    for suite, count in SUITES.items():
        run, passed, failed = summaries[suite]
        assert (run, passed, failed) == (count, count, 0), (suite, text[-3000:])
