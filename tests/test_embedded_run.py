"""The README's first command, end to end: `make run` with no configuration
serves the portal, the admin can sign in, and a Celery worker and beat and the co-editing server start.
(This is the one test that runs on SQLite on purpose: it is the embedded default.)"""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Output:
    """Collects a process's output in a thread so the test can wait for lines."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = re.search(pattern, self.text())
                if match:
                    return match
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"never saw {pattern!r} in:\n{self.text()[-4000:]}"
                self._changed.wait(remaining)


@pytest.fixture
def embedded(tmp_path):
    port, coedit_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({"PORTAL_VAR_DIR": str(tmp_path / "var"), "PORTAL_BIND": f"127.0.0.1:{port}",
                "PORTAL_COEDIT_BIND": f"127.0.0.1:{coedit_port}"})
    proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = Output(proc.stdout)
    output.coedit = f"http://127.0.0.1:{coedit_port}"  # the co-editing server's address
    try:
        yield f"http://127.0.0.1:{port}", output, proc
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in the terminal sends
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        leftovers = processes_with_env(f"PORTAL_VAR_DIR={tmp_path / 'var'}")
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"make run left processes behind after Ctrl+C: {leftovers}"


def processes_with_env(entry: str) -> list[int]:
    """Processes started by this test (honcho puts each in its own session,
    so the process group alone does not find them)."""
    found = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            environ = (proc_dir / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.encode() in environ:
            found.append(int(proc_dir.name))
    return found


def wait_healthy(base: str, proc, output: Output, timeout: float = 120, path: str = "/healthz") -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"make run exited early:\n{output.text()[-4000:]}"
        try:
            response = requests.get(f"{base}{path}", timeout=30)
            if response.status_code == 200:
                return response
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its first answer is slow on a busy machine
        assert time.monotonic() < deadline, f"{path} never answered 200:\n{output.text()[-4000:]}"
        time.sleep(0.25)  # polling a server in another process until its deadline


@pytest.mark.timeout(400)
def test_make_run_serves_the_portal_with_a_worker_and_beat_and_the_admin_can_sign_in(embedded):
    base, output, proc = embedded
    health = wait_healthy(base, proc, output)
    assert health.json()["checks"] == {"database": "ok", "storage": "ok", "broker": "ok", "cache": "ok"}
    password = output.wait_for(r"password: (\S+)", 10).group(1)
    output.wait_for(r"celery@\S+ ready", 60)
    output.wait_for(r"beat: Starting", 60)
    assert wait_healthy(output.coedit, proc, output, path="/coedit/health").text == "ok"

    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=10)
    response = session.post(f"{base}/admin/login/?next=/admin/", timeout=10, data={
        "username": "admin", "password": password, "next": "/admin/",
        "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert response.status_code == 200 and "Site administration" in response.text
    assert session.get(f"{base}/static/admin/css/base.css", timeout=10).status_code == 200
