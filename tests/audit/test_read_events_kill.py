"""A read event survives a SIGKILL of the portal process right after the
answer: real processes (gunicorn serving the real download API, and a bare
Django process), killed with SIGKILL, never a mock."""

import io
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from django.db import connection

from portal.accounts.services import token_issue
from portal.audit import chain
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.files.services.direct import file_put
from portal.spaces.services import space_create
from tests.audit.helpers import verify

pytestmark = [pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 120  # seconds; a loaded machine starts Django slowly


def _env() -> dict:
    """This process's settings, pointed at the test database."""
    env = dict(os.environ)
    url = urlparse(env["PORTAL_DATABASE_URL"])
    env["PORTAL_DATABASE_URL"] = url._replace(path="/" + connection.settings_dict["NAME"]).geturl()
    env["PYTHONPATH"] = str(ROOT)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # its own session: the process and its children
    process.wait(timeout=30)


def _serving(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}")
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code < 500:
                return
        except requests.ConnectionError:
            time.sleep(0.2)  # polling for the port to open, with a deadline
    raise AssertionError(f"gunicorn did not answer within {START_DEADLINE} s")


@pytest.fixture
def gunicorn(transactional_db):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _serving(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            _kill(process)


def test_a_download_event_survives_a_sigkill_of_the_portal_right_after_the_answer(gunicorn, alice):
    url, process = gunicorn
    space = space_create(actor=alice, name="Kill")
    version = file_put(actor=alice, space_id=space.pk, path="/q3.pdf", fileobj=io.BytesIO(b"%PDF-1.7 q3"), size=11)
    _, token = token_issue(actor=alice, owner=alice, name="kill test")

    answer = requests.get(f"{url}/api/v1/files/{version.node_id}/content",
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert (answer.status_code, answer.content) == (200, b"%PDF-1.7 q3")
    _kill(process)

    event = AuditEvent.objects.get(action=Action.FILE_DOWNLOADED, target_id=str(version.node_id))
    assert (event.actor_id, event.space_id, event.details) == (alice.pk, space.pk, {"version": 1, "size": 11})
    assert chain.chain_seal() >= 1
    code, output = verify()
    assert code == 0, output


_CHILD = """
import django, sys
django.setup()
from django.db import transaction
from portal.audit.actions import Action
from portal.audit.services import record, record_read
from django.contrib.auth import get_user_model
alice = get_user_model().objects.get(username="alice")
with transaction.atomic():
    record_read(action=Action.FILE_DOWNLOADED, actor=alice, target_label="/read.pdf")
    record(action="test.unfinished", actor=alice)  # the caller's own, still open transaction
    print("answered", flush=True)
    sys.stdin.read()  # killed here, inside the open block
"""


def test_a_read_event_is_committed_before_record_read_returns_while_the_callers_block_is_lost(
        transactional_db, alice):
    child = subprocess.Popen([sys.executable, "-c", _CHILD], cwd=ROOT, env=_env(), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], START_DEADLINE)
        line = child.stdout.readline() if ready else b""
        assert line == b"answered\n", child.stderr.read1() if child.poll() is not None else line
    finally:
        _kill(child)
    assert AuditEvent.objects.filter(action=Action.FILE_DOWNLOADED, target_label="/read.pdf").count() == 1
    assert not AuditEvent.objects.filter(action="test.unfinished").exists()  # the kill did lose what was open
