"""Waiting for a server a test started: poll until it answers, fail at once if it exits."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def wait_until_answers(process: subprocess.Popen, answers: Callable[[], bool], *, within: float,
                       not_yet: tuple[type[BaseException], ...], failure: Callable[[str], BaseException],
                       interval: float = 0.05) -> None:
    """Call ``answers`` until it returns True (raising one of ``not_yet`` means the server is still
    starting). ``failure(reason)`` is raised when the process exits or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        try:
            if answers():
                return
        except not_yet:
            pass
        if process.poll() is not None:
            raise failure(f"exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise failure(f"did not answer within {within:.0f} s")
        time.sleep(interval)  # polling a starting server until its deadline
