"""tests/support/ready.py: the servers the tests start are waited for, and one that dies is reported at once."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.ready import wait_until_answers


def test_a_server_that_exits_is_reported_at_once_not_at_the_deadline():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with 3"):
        wait_until_answers(process, lambda: False, within=60, not_yet=(), failure=RuntimeError)
    assert time.monotonic() - began < 5


def test_a_server_starting_is_polled_until_it_answers():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    tries = []

    def answers() -> bool:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("not listening yet")
        return True

    try:
        wait_until_answers(process, answers, within=60, not_yet=(ConnectionError,), failure=RuntimeError)
        assert len(tries) == 3
        with pytest.raises(RuntimeError, match="did not answer within 0 s"):
            wait_until_answers(process, lambda: False, within=0.2, not_yet=(), failure=RuntimeError)
    finally:
        process.kill()
        process.wait()
