"""The independent conformance suite: Debian's ``litmus`` (neon's WebDAV
test suite) against a live portal, as a WebDAV client sees it. CI installs
litmus (.ci/run); without it this test is skipped, saying so."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

LITMUS = shutil.which("litmus")
SUITES = ("basic", "copymove", "props", "locks", "http")
# "<- summary for `basic': of 16 tests run: 16 passed, 0 failed. 100.0%"
_SUMMARY = re.compile(r"summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed")

pytestmark = pytest.mark.skipif(LITMUS is None, reason="litmus is not installed (apt-get install litmus)")


def run_litmus(url: str, user: str, token: str, workdir) -> subprocess.CompletedProcess:
    env = {**os.environ, "TESTS": " ".join(SUITES)}
    return subprocess.run([LITMUS, "--keep-going", url, user, token], check=False, cwd=workdir, env=env,
                          capture_output=True, text=True, errors="replace", timeout=600, stdin=subprocess.DEVNULL)


def test_litmus_passes_every_suite(live_dav, alice_dav, team, tmp_path):
    user, token = alice_dav.auth
    done = run_litmus(live_dav.dav(f"/{team.slug}/"), user, token, tmp_path)
    output = done.stdout + done.stderr
    print(output)  # the per-test lines, for the record (pytest -s shows them)
    summaries = {suite: (int(run), int(passed), int(failed)) for suite, run, passed, failed in _SUMMARY.findall(output)}
    assert set(summaries) == set(SUITES), output
    failed = {suite: counts for suite, counts in summaries.items() if counts[2]}
    assert not failed, output
    assert "WARNING" not in output, output  # not even a tolerated deviation
    assert done.returncode == 0, output
