"""The Procfile's web process (gunicorn, with this venv's binary) started on a free loopback port,
its output in a log file: for tests that read what an operator's log shows."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.files.support_s3 import closed_port

ROOT = Path(__file__).resolve().parents[2]
READY_DEADLINE = 30


def web_command(port: int) -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = shlex.split(line.removeprefix("web:").replace("${PORTAL_BIND:-127.0.0.1:8000}", f"127.0.0.1:{port}"))
    assert command[0] == "gunicorn"
    return [str(Path(sys.executable).parent / "gunicorn"), *command[1:]]


class ProcfileWeb:
    """Started at once; ``wait_ready`` polls ``ready_path`` until it answers 200. The caller stops it
    (``stop`` returns the log with every line flushed) or ``kill``s it in its cleanup."""

    def __init__(self, log_path: Path, env: dict[str, str], *, port: int | None = None,
                 ready_path: str = "/healthz"):
        self.port = port or closed_port()
        self.url, self.log_path, self.ready_path = f"http://127.0.0.1:{self.port}", log_path, ready_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(web_command(self.port), cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_DEADLINE
        while True:
            assert self.process.poll() is None, f"gunicorn exited:\n{self.log()[-3000:]}"
            try:
                if requests.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"the portal did not start:\n{self.log()[-3000:]}"
            time.sleep(0.1)  # polling a starting server until its deadline

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        return self.log()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
