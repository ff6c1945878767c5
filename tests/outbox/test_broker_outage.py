"""The broker stops, then comes back empty (no persistence), under a real
portal (gunicorn) and a real Celery worker, each on a private redis-server:
uploads through the API and WebDAV answer as usual while Redis is down, and
once it is back every version is hashed and scanned — also the ones whose
messages Redis took before it died and lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from portal.accounts.services import token_issue
from portal.files.models import FileVersion
from portal.outbox.models import OutboxMessage
from portal.scanning.models import ScanState, ScanVerdict
from portal.spaces.services import space_create
from tests.support.coedit import free_port, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _until(condition, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
            raise AssertionError(f"{what} within {DEADLINE} s\n{tails}")
        time.sleep(0.2)  # polling the other processes' effect until the deadline


@pytest.fixture
def portal(tmp_path, private_redis):
    """gunicorn serving the test database and store, with the private Redis as broker and cache."""
    port = free_port()
    env = server_env(PORTAL_REDIS_URL=private_redis.url(), PORTAL_STORAGE_ROOT=str(settings.STORAGE_ROOT),
                     PORTAL_PUBLIC_URL=f"http://127.0.0.1:{port}", PORTAL_VAR_DIR=str(tmp_path / "var"))
    (tmp_path / "var" / "static").mkdir(parents=True)
    log = tmp_path / "gunicorn.log"
    process = _start([sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}",
                      "--workers", "1", "--threads", "4", "--worker-class", "gthread", "--timeout", "60"], env, log)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            return requests.get(f"{url}/api/v1/", timeout=10).status_code < 500
        except requests.ConnectionError:
            return False

    _until(answers, "gunicorn did not answer", [log])
    yield url, env, log
    _stop(process)


def _api_upload(session: requests.Session, url: str, space_id: int, path: str, data: bytes) -> requests.Response:
    started = session.post(f"{url}/api/v1/uploads", json={"space": space_id, "path": path, "size": len(data)})
    assert started.status_code == 201, started.text
    body = started.json()
    for part in body["parts"]:
        begin = (part["number"] - 1) * body["part_size"]
        sent = session.put(part["url"], data=data[begin:begin + part["size"]])
        assert sent.status_code == 200, sent.text
    return session.post(f"{url}/api/v1/uploads/{body['id']}/complete")


def _finished() -> bool:
    versions = FileVersion.objects.all()
    return (versions.count() == 5 and not versions.filter(blob__sha256__isnull=True).exists()
            and not ScanVerdict.objects.filter(state=ScanState.PENDING).exists())


def test_uploads_answer_while_redis_is_down_and_every_version_is_hashed_and_scanned_after(
        alice, private_redis, portal, tmp_path):
    url, env, portal_log = portal
    team = space_create(actor=alice, name="Team")
    _, secret = token_issue(actor=alice, owner=alice, name="outage")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secret}"
    dav = requests.Session()
    dav.auth = (alice.get_username(), secret)

    before = _api_upload(api, url, team.pk, "/before.txt", b"queued, then lost with Redis")
    assert before.status_code == 201, before.text
    assert dav.put(f"{url}/dav/{team.slug}/before-dav.txt", data=b"also lost").status_code == 201
    queued = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert queued and not OutboxMessage.objects.filter(sent_at__isnull=True).exists()   # Redis took them

    private_redis.stop()
    during = _api_upload(api, url, team.pk, "/during.txt", b"uploaded while Redis is down")
    assert during.status_code == 201, during.text
    assert during.json()["path"] == "/during.txt"
    put = dav.put(f"{url}/dav/{team.slug}/during-dav.txt", data=b"WebDAV while Redis is down")
    assert put.status_code in (201, 204), put.text
    assert during.elapsed < timedelta(seconds=3) and put.elapsed < timedelta(seconds=3), "the broker held the request"
    assert OutboxMessage.objects.filter(sent_at__isnull=True).exists()   # refused: kept for the relay
    assert "Traceback" not in portal_log.read_text(errors="replace")

    private_redis.start()   # back, empty: what it held before is gone
    known = set(OutboxMessage.objects.values_list("pk", flat=True))
    after = _api_upload(api, url, team.pk, "/after.txt", b"uploaded once Redis is back")
    assert after.status_code == 201, after.text
    fresh = OutboxMessage.objects.exclude(pk__in=known)
    assert fresh.exists() and not fresh.filter(sent_at__isnull=True).exists(), "the broker was not used again"
    # Ten minutes later, as far as the relay can tell: the lost messages are due again.
    long_ago = timezone.now() - timedelta(minutes=settings.OUTBOX_REDELIVER_MINUTES + 1)
    OutboxMessage.objects.filter(pk__in=queued).update(created_at=long_ago, due_at=long_ago, sent_at=long_ago)
    worker_log = tmp_path / "worker.log"
    worker = _start([sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-l", "WARNING",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"], env, worker_log)
    try:   # the worker asks for a relay when it starts
        _until(_finished, "not every version was hashed and scanned", [worker_log, portal_log])
        _until(lambda: not OutboxMessage.objects.exists(), "the outbox did not empty", [worker_log])
    finally:
        _stop(worker)
